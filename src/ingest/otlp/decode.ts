/**
 * An OTLP/HTTP trace body in either encoding to the intermediate form (model.ts). Pure, so the
 * server's main thread and an ingest worker decode the same way; a body that does not decode
 * throws `invalid_input` (what is wrong and where, and what to send instead).
 */
import { invalidInput } from '../../errors.js';
import { decodeTraceJson } from './decode-json.js';
import { decodeTraceProtobuf } from './decode-protobuf.js';
import type { OtlpTraceRequest } from './model.js';
import { ProtobufError } from './protobuf-reader.js';

/** The two encodings of OTLP/HTTP. */
export type OtlpEncoding = 'json' | 'protobuf';

/** Decodes an export request; throws `invalid_input` for a body that is not one. */
export function decodeTraces(body: Buffer, encoding: OtlpEncoding): OtlpTraceRequest {
  if (encoding === 'json') return decodeTraceJson(body);
  try {
    return decodeTraceProtobuf(body);
  } catch (error) {
    if (!(error instanceof ProtobufError)) throw error;
    throw invalidInput(
      `OTLP protobuf body is not a valid ExportTraceServiceRequest: ${error.message} (at byte ${error.offset})`,
      'send an ExportTraceServiceRequest encoded with protobuf, as the OpenTelemetry OTLP exporters do',
      { position: error.offset },
    );
  }
}
