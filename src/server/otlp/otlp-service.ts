/**
 * OTLP trace ingest without HTTP (docs/api.md, "OTLP"): the (decompressed) export request goes to
 * the event store through the ingest service, so it shares the ingest queue, its admission and
 * its commit guarantee with `/1/batch`; the store decodes it (JSON or protobuf, src/ingest/otlp/)
 * and flattens it into wide events, one dataset per service, in its ingest workers when it has
 * them. The answer is the OTLP `partial_success` of the spans that were refused (bad ids, times
 * outside the window, too large, refused by the store), or nothing.
 */
import { invalidInput } from '../../errors.js';
import type { OtlpEncoding } from '../../ingest/otlp/decode.js';
import { DEFAULT_OTLP_DATASET } from '../../ingest/otlp/flatten.js';
import type { PartialSuccess } from '../../ingest/otlp/response.js';
import type { ServerLimits } from '../limits.js';
import type { ClientGone, IngestService } from '../ingest/ingest-service.js';

export type { OtlpEncoding } from '../../ingest/otlp/decode.js';

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
    const outcome = await this.deps.ingest.ingestOtlp(body, encoding, fallbackDataset, gone);
    const reasons = outcome.refused.map((r) => r.reason);
    if (outcome.refusedAnnotations > 0) reasons.push(`${outcome.refusedAnnotations} span events or links were not stored`);
    if (outcome.refused.length === 0 && reasons.length === 0) return undefined;
    const shown = reasons.slice(0, MAX_REASONS).join('; ');
    const more = reasons.length > MAX_REASONS ? ` (and ${reasons.length - MAX_REASONS} more)` : '';
    return { rejectedSpans: outcome.refused.length, errorMessage: `${shown}${more}` };
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
