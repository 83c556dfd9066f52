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
import type { IncomingEvent, IngestOutcome } from '../../ingest/event.js';
import { type DatasetEvents, DEFAULT_OTLP_DATASET, flattenTraces } from '../../ingest/otlp/flatten.js';
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
   * Stores the events of each dataset; resolves with each one's outcomes. The events of one
   * dataset (an SDK's export: one service) go to the store as a batch body, so its batch fast path
   * (ingest workers) reads them; several datasets go as objects, admitted together.
   */
  private async store(batches: readonly DatasetEvents[], gone: ClientGone | undefined): Promise<IngestOutcome[][]> {
    const only = batches.length === 1 ? batches[0] : undefined;
    const text = only === undefined ? undefined : batchTextOf(only.events);
    if (only === undefined || text === undefined) return this.storeObjects(batches, gone);
    // Into the store's own buffer (shared memory an ingest worker scans in place), as the batch route reads bodies.
    const bytes = Buffer.byteLength(text);
    const shared = this.deps.ingest.batchBodyBuffer(bytes);
    const body = shared ?? Buffer.from(text);
    if (shared !== undefined) shared.write(text);
    try {
      // The store refuses an item over the event size limit on its own (a per-item 400).
      return [(await this.deps.ingest.ingestBatch(only.dataset, body, gone)) as IngestOutcome[]];
    } finally {
      if (shared !== undefined) this.deps.ingest.releaseBatchBody(shared);
    }
  }

  /** Stores events as objects, refusing (400) each one over the event size limit as the batch path does. */
  private async storeObjects(batches: readonly DatasetEvents[], gone: ClientGone | undefined): Promise<IngestOutcome[][]> {
    const max = this.deps.limits.maxEventBytes;
    const sizes = batches.map((batch) => batch.events.map((event) => jsonBytes(event.data)));
    const kept = batches.map((batch, b) => ({
      dataset: batch.dataset,
      events: batch.events.filter((_, i) => (sizes[b]?.[i] ?? 0) <= max),
    }));
    const stored = await this.deps.ingest.ingestDatasets(kept, gone);
    return batches.map((batch, b) => {
      let next = 0;
      return batch.events.map((_, i): IngestOutcome => {
        const size = sizes[b]?.[i] ?? 0;
        if (size > max) return { status: 400, error: `event is ${size} bytes, over the ${max}-byte limit per event` };
        return stored[b]?.[next++] ?? { status: 400, error: 'event was not stored' };
      });
    });
  }

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
    const flat = flattenTraces(request, { fallbackDataset, now: this.deps.now() });
    const reasons = flat.rejected.map((r) => r.reason);
    const rejectedSpans = new Set(flat.rejected.map((r) => r.span));
    let refusedAnnotations = 0;
    if (flat.byDataset.length > 0) {
      const outcomes = await this.store(flat.byDataset, gone);
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

/**
 * A Honeycomb batch body of events (its JSON text), or undefined when one cannot say them exactly:
 * a 64-bit integer beyond 2^53 (JSON.stringify has no bigint), or a time before 1973 (a number
 * that small is read as Unix seconds).
 */
export function batchTextOf(events: readonly IncomingEvent[]): string | undefined {
  const items: string[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as IncomingEvent;
    if (event.time < MILLISECONDS_FROM) return undefined;
    try {
      items[i] = `{"time":${event.time},"samplerate":${event.samplerate},"data":${JSON.stringify(event.data)}}`;
    } catch {
      return undefined;
    }
  }
  return `[${items.join(',')}]`;
}

/** The size of event data as JSON text (64-bit integers as their digits). */
function jsonBytes(data: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(data, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)));
}

/** Event times from here on are written as Unix milliseconds in a batch body (docs/api.md, "Event time"). */
const MILLISECONDS_FROM = 1e11;

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
