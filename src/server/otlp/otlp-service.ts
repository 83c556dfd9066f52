/**
 * OTLP trace ingest without HTTP (docs/api.md, "OTLP"): a decoded export request (JSON or
 * protobuf, src/ingest/otlp/) is flattened into wide events, one dataset per service, and stored
 * through the ingest service, so it shares the ingest queue, its admission and its commit
 * guarantee with `/1/batch`. The answer is the OTLP `partial_success` of the spans that were
 * refused (bad ids, times outside the window, too large, refused by the store), or nothing.
 */
import { invalidInput } from '../../errors.js';
import { decodeTraceJson } from '../../ingest/otlp/decode-json.js';
import { decodeTraceProtobuf } from '../../ingest/otlp/decode-protobuf.js';
import { DEFAULT_OTLP_DATASET, flattenTraces } from '../../ingest/otlp/flatten.js';
import type { OtlpTraceRequest } from '../../ingest/otlp/model.js';
import { ProtobufError } from '../../ingest/otlp/protobuf-reader.js';
import type { PartialSuccess } from '../../ingest/otlp/response.js';
import type { ServerLimits } from '../limits.js';
import type { ClientGone, IngestService } from '../ingest/ingest-service.js';

/** The two encodings of OTLP/HTTP. */
export type OtlpEncoding = 'json' | 'protobuf';

export interface OtlpServiceDependencies {
  ingest: IngestService;
  limits: Pick<ServerLimits, 'maxEventBytes'>;
  now: () => number;
}

/** Reasons listed in `errorMessage`, at most. */
const MAX_REASONS = 5;

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class OtlpService {
  constructor(private readonly deps: OtlpServiceDependencies) {}

  /**
   * Stores the spans of an export request and resolves after commit with the partial success to
   * answer (undefined when every span was stored). `datasetHeader` is the dataset of spans whose
   * service has no name. Throws `invalid_input` for a body that does not decode (nothing stored),
   * `overloaded` when the ingest queue cannot take the request.
   */
  async exportTraces(
    body: Buffer,
    encoding: OtlpEncoding,
    datasetHeader: string | undefined,
    gone?: ClientGone,
  ): Promise<PartialSuccess | undefined> {
    const fallbackDataset = fallbackDatasetOf(datasetHeader);
    const request = decode(body, encoding);
    const flat = flattenTraces(request, { fallbackDataset, now: this.deps.now(), maxEventBytes: this.deps.limits.maxEventBytes });
    const reasons = flat.rejected.map((r) => r.reason);
    const rejectedSpans = new Set(flat.rejected.map((r) => r.span));
    let refusedAnnotations = 0;
    if (flat.byDataset.length > 0) {
      const outcomes = await this.deps.ingest.ingestDatasets(flat.byDataset, gone);
      flat.byDataset.forEach((batch, b) => {
        (outcomes[b] ?? []).forEach((outcome, i) => {
          if (outcome.status === 202) return;
          if (batch.annotation[i]) refusedAnnotations++;
          else if (!rejectedSpans.has(batch.spans[i] as number)) {
            rejectedSpans.add(batch.spans[i] as number);
            reasons.push(`span ${String(batch.events[i]?.data['trace.span_id'])}: ${outcome.error}`);
          }
        });
      });
    }
    if (refusedAnnotations > 0) reasons.push(`${refusedAnnotations} span events or links were not stored`);
    if (rejectedSpans.size === 0 && reasons.length === 0) return undefined;
    const shown = reasons.slice(0, MAX_REASONS).join('; ');
    const more = reasons.length > MAX_REASONS ? ` (and ${reasons.length - MAX_REASONS} more)` : '';
    return { rejectedSpans: rejectedSpans.size, errorMessage: `${shown}${more}` };
  }
}

function decode(body: Buffer, encoding: OtlpEncoding): OtlpTraceRequest {
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

/** The dataset of spans without a service name: the `x-honeycomb-dataset` header (a valid dataset name), else the default. */
function fallbackDatasetOf(header: string | undefined): string {
  const name = header?.trim() ?? '';
  if (name === '') return DEFAULT_OTLP_DATASET;
  if (!DATASET_NAME.test(name)) {
    throw invalidInput(
      `X-Honeycomb-Dataset: invalid dataset name ${JSON.stringify(name).slice(0, 140)}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      'send a valid dataset name, or leave the header out to use the service name',
    );
  }
  return name;
}
