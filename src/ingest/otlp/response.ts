/**
 * The answers of `POST /v1/traces` as the OTLP/HTTP specification has them, in the encoding of
 * the request: an `ExportTraceServiceResponse` (with `partial_success` when spans were
 * rejected), or a `google.rpc.Status` for a failed request. Pure: bytes or JSON text out.
 */

/** `google.rpc.Code` of the statuses sent: INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE, and so on. */
export const RPC_CODE = {
  invalidArgument: 3,
  permissionDenied: 7,
  resourceExhausted: 8,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
} as const;

/** Spans refused and why, for `partial_success`. */
export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/** `ExportTraceServiceResponse` as OTLP/JSON: `{}`, or `{"partialSuccess": {...}}`. */
export function traceResponseJson(partial: PartialSuccess | undefined): string {
  if (partial === undefined) return '{}';
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } });
}

/** `ExportTraceServiceResponse` as protobuf: field 1 `partial_success` { 1 `rejected_spans` int64, 2 `error_message` }. */
export function traceResponseProtobuf(partial: PartialSuccess | undefined): Buffer {
  if (partial === undefined) return Buffer.alloc(0);
  const inner = Buffer.concat([varintField(1, partial.rejectedSpans), stringField(2, partial.errorMessage)]);
  return lengthField(1, inner);
}

/** The flagscope error carried in a status's details, as `google.rpc.ErrorInfo`. */
export interface StatusError {
  code: string;
  message: string;
  hint?: string | undefined;
}

const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';

/**
 * `google.rpc.Status` as JSON: `code`, `message`, and in `details` one `google.rpc.ErrorInfo`
 * whose `reason` is flagscope's error code (docs/api.md, "Errors") and `metadata.hint` its hint.
 */
export function statusJson(rpcCode: number, error: StatusError): string {
  const metadata: Record<string, string> = error.hint === undefined ? {} : { hint: error.hint };
  return JSON.stringify({
    code: rpcCode,
    message: error.message,
    details: [{ '@type': ERROR_INFO_TYPE, reason: error.code, domain: 'flagscope', metadata }],
  });
}

/**
 * `google.rpc.Status` as protobuf: 1 `code`, 2 `message`, 3 `details` (an `Any` holding the
 * `ErrorInfo`: 1 `reason`, 2 `domain`, 3 `metadata` map entries).
 */
export function statusProtobuf(rpcCode: number, error: StatusError): Buffer {
  const metadata =
    error.hint === undefined ? Buffer.alloc(0) : lengthField(3, Buffer.concat([stringField(1, 'hint'), stringField(2, error.hint)]));
  const info = Buffer.concat([stringField(1, error.code), stringField(2, 'flagscope'), metadata]);
  const any = Buffer.concat([stringField(1, ERROR_INFO_TYPE), lengthField(2, info)]);
  return Buffer.concat([varintField(1, rpcCode), stringField(2, error.message), lengthField(3, any)]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let rest = n;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function varintField(field: number, value: number): Buffer {
  return Buffer.concat([varint(field * 8), varint(value)]);
}

function lengthField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint(field * 8 + 2), varint(bytes.length), bytes]);
}

function stringField(field: number, text: string): Buffer {
  return lengthField(field, Buffer.from(text, 'utf8'));
}
