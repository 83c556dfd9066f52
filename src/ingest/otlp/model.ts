/**
 * The intermediate form of an OTLP trace export (`ExportTraceServiceRequest`, opentelemetry-proto
 * `collector/trace/v1/trace_service.proto` over `trace/v1/trace.proto`, `common/v1/common.proto`
 * and `resource/v1/resource.proto`): what both decoders (OTLP/JSON and protobuf) produce and the
 * flattener reads. Ids are lowercase hex, times Unix nanoseconds, enums their numbers.
 */

/** An attribute value (`AnyValue`): a 64-bit integer beyond ±2^53 is a bigint, bytes a Uint8Array. */
export type AnyValue = string | boolean | number | bigint | Uint8Array | AnyValue[] | KeyValueList | null;

/** A `KeyValueList` value: nested attributes, flattened with dots. */
export interface KeyValueList {
  readonly kvlist: Attribute[];
}

export interface Attribute {
  key: string;
  value: AnyValue;
}

export interface OtlpSpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attribute[];
}

export interface OtlpLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attribute[];
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  /** `Span.SpanKind`: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attribute[];
  events: OtlpSpanEvent[];
  links: OtlpLink[];
  /** `Status.StatusCode`: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
}

export interface OtlpScopeSpans {
  scopeName: string;
  scopeVersion: string;
  scopeAttributes: Attribute[];
  spans: OtlpSpan[];
}

export interface OtlpResourceSpans {
  resourceAttributes: Attribute[];
  scopeSpans: OtlpScopeSpans[];
}

export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
}

/** Span kinds by their `SpanKind` number, as the flattened events name them (`span.kind`, `type`). */
export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;

/** `Status.StatusCode.STATUS_CODE_ERROR`. */
export const STATUS_CODE_ERROR = 2;

/** How deeply attribute values (arrays and key-value lists) may nest in a request. */
export const MAX_VALUE_DEPTH = 32;

/** The number of spans of a request (what `rejectedSpans` counts against). */
export function countSpans(request: OtlpTraceRequest): number {
  let n = 0;
  for (const resource of request.resourceSpans) for (const scope of resource.scopeSpans) n += scope.spans.length;
  return n;
}
