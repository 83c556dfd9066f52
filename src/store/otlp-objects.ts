/**
 * OTLP trace ingest for any event store (`EventStore.ingestOtlpTraces`): decode the body, flatten
 * its spans into wide events per dataset (src/ingest/otlp/), store them, and say which spans were
 * refused. {@link ingestOtlpOnThread} does all of it on the calling thread: the way of a store
 * without ingest workers, and the DuckDB store's when its workers are off or failed.
 * {@link flattenOtlpBody} is the part an ingest worker runs, down to each dataset's batch body.
 */
import { FlagscopeError } from '../errors.js';
import { decodeTraces, type OtlpEncoding } from '../ingest/otlp/decode.js';
import { type DatasetEvents, flattenTraces } from '../ingest/otlp/flatten.js';
import type { EventStore, IncomingEvent, IngestOutcome, OtlpTraceOptions, OtlpTraceOutcome } from './types.js';

/** What the outcome of one dataset's events needs to know of them. */
export interface OtlpDatasetSpans {
  dataset: string;
  /** `spans[i]` is the index (in request order) of the span of event `i`. */
  spans: number[];
  /** `annotation[i]` is true when event `i` is a span event or a link. */
  annotation: boolean[];
  /** The `trace.span_id` of event `i`, as the refusal names it. */
  spanIdOf(i: number): string;
}

/**
 * One dataset as an ingest worker hands it back: laid out for the store already (`prepared`, of
 * the store's own type), else its batch body, else (when JSON cannot say it) its events.
 */
export interface FlatDataset<P = unknown> {
  dataset: string;
  spans: number[];
  annotation: boolean[];
  /** JSON text of every event's `trace.span_id`, read only for a refusal. */
  spanIds: string;
  /** The events as a Honeycomb batch body (UTF-8, a buffer of its own). */
  text?: Uint8Array;
  /** The events themselves, when {@link batchTextOf} cannot write them. */
  events?: IncomingEvent[];
  /** The events as the store lays them out, when the worker could. */
  prepared?: P;
}

/** An export request as an ingest worker hands it back: flattened, or why it does not decode. */
export type FlatOtlp<P = unknown> =
  | { kind: 'flat'; rejected: Array<{ span: number; reason: string }>; datasets: Array<FlatDataset<P>> }
  | { kind: 'invalid'; message: string; hint: string | undefined; details: unknown };

/** Stores an export on the calling thread: decode, flatten, and each dataset's events through `store`. */
export async function ingestOtlpOnThread(
  store: Pick<EventStore, 'ingest' | 'ingestBatchBody' | 'takeBatchBody' | 'releaseBatchBody'>,
  body: Buffer,
  options: OtlpTraceOptions,
): Promise<OtlpTraceOutcome> {
  const flat = flattenTraces(decodeTraces(body, options.encoding), { fallbackDataset: options.fallbackDataset, now: options.now });
  const outcomes = flat.byDataset.length > 0 ? await storeFlattened(store, flat.byDataset, options) : [];
  const datasets = flat.byDataset.map(
    (batch): OtlpDatasetSpans => ({ ...batch, spanIdOf: (i) => String(batch.events[i]?.data['trace.span_id']) }),
  );
  return otlpOutcomeOf(flat.rejected, datasets, outcomes);
}

/**
 * Stores the events of each dataset; resolves with each one's outcomes. The events of one
 * dataset (an SDK's export: one service) go to the store as a batch body, so its batch fast path
 * reads them; several datasets go as objects, admitted together.
 */
async function storeFlattened(
  store: Pick<EventStore, 'ingest' | 'ingestBatchBody' | 'takeBatchBody' | 'releaseBatchBody'>,
  batches: readonly DatasetEvents[],
  options: OtlpTraceOptions,
): Promise<IngestOutcome[][]> {
  const only = batches.length === 1 ? batches[0] : undefined;
  const text = only === undefined ? undefined : batchTextOf(only.events);
  if (only === undefined || text === undefined) return storeObjects(store, batches, options);
  // Into the store's own buffer (shared memory an ingest worker scans in place), as the batch route reads bodies.
  const bytes = Buffer.byteLength(text);
  const shared = store.takeBatchBody(bytes);
  const body = shared ?? Buffer.from(text);
  if (shared !== undefined) shared.write(text);
  try {
    // The store refuses an item over the event size limit on its own (a per-item 400).
    return [await store.ingestBatchBody(only.dataset, body, options)];
  } finally {
    if (shared !== undefined) store.releaseBatchBody(shared);
  }
}

/** Stores events as objects, admitted together, refusing (400) each one over the event size limit as the batch path does (measured as its batch item). */
export async function storeObjects(
  store: Pick<EventStore, 'ingest'>,
  batches: ReadonlyArray<{ dataset: string; events: IncomingEvent[] }>,
  options: Pick<OtlpTraceOptions, 'maxEventBytes' | 'admit'>,
): Promise<IngestOutcome[][]> {
  const kept = sizeChecked(batches, options.maxEventBytes);
  let total = 0;
  for (const batch of kept) total += batch.events.length;
  options.admit(total);
  const stored = await Promise.all(kept.map((batch) => store.ingest(batch.dataset, batch.events)));
  return kept.map((batch, b) => batch.outcomes(stored[b] ?? []));
}

/** Events under the size limit, each batch with how to put the store's outcomes back among the refusals. */
export function sizeChecked(
  batches: ReadonlyArray<{ dataset: string; events: IncomingEvent[] }>,
  max: number,
): Array<{ dataset: string; events: IncomingEvent[]; outcomes(stored: IngestOutcome[]): IngestOutcome[] }> {
  return batches.map((batch) => {
    const sizes = batch.events.map(itemBytes);
    return {
      dataset: batch.dataset,
      events: batch.events.filter((_, i) => (sizes[i] ?? 0) <= max),
      outcomes: (stored) => {
        let next = 0;
        return batch.events.map((_, i): IngestOutcome => {
          const size = sizes[i] ?? 0;
          if (size > max) return { status: 400, error: `event is ${size} bytes, over the ${max}-byte limit per event` };
          return stored[next++] ?? { status: 400, error: 'event was not stored' };
        });
      },
    };
  });
}

/**
 * What became of an export: the spans refused before storing, then each span whose own event the
 * store refused (named by its span id), and how many of its span events and links it refused.
 */
export function otlpOutcomeOf(
  rejected: ReadonlyArray<{ span: number; reason: string }>,
  datasets: readonly OtlpDatasetSpans[],
  outcomes: readonly IngestOutcome[][],
): OtlpTraceOutcome {
  const refused = [...rejected];
  const refusedSpans = new Set(rejected.map((r) => r.span));
  const stored: string[] = [];
  let refusedAnnotations = 0;
  datasets.forEach((batch, b) => {
    let any = false;
    (outcomes[b] ?? []).forEach((outcome, i) => {
      if (outcome.status === 202) {
        any = true;
        return;
      }
      const span = batch.spans[i] as number;
      if (batch.annotation[i]) refusedAnnotations++;
      else if (!refusedSpans.has(span)) {
        refusedSpans.add(span);
        refused.push({ span, reason: `span ${batch.spanIdOf(i)}: ${outcome.error}` });
      }
    });
    if (any) stored.push(batch.dataset);
  });
  return { refused, refusedAnnotations, stored };
}

/**
 * Decodes and flattens an export down to each dataset's layout for the store (`prepare`, when it
 * can) or batch body: what an ingest worker does with an OTLP body, so the main thread only
 * appends. A body that does not decode comes back as the `invalid_input` it is (a worker's errors
 * do not cross threads as themselves).
 */
export function flattenOtlpBody<P = never>(
  body: Buffer,
  encoding: OtlpEncoding,
  fallbackDataset: string,
  now: number,
  prepare?: (dataset: string, events: IncomingEvent[]) => P | undefined,
): FlatOtlp<P> {
  let request: ReturnType<typeof decodeTraces>;
  try {
    request = decodeTraces(body, encoding);
  } catch (error) {
    if (!(error instanceof FlagscopeError) || error.code !== 'invalid_input') throw error;
    return { kind: 'invalid', message: error.message, hint: error.hint, details: error.details };
  }
  const flat = flattenTraces(request, { fallbackDataset, now });
  const encoder = new TextEncoder();
  const datasets = flat.byDataset.map((batch): FlatDataset<P> => {
    const spanIds = JSON.stringify(batch.events.map((event) => String(event.data['trace.span_id'])));
    const { dataset, spans, annotation } = batch;
    const prepared = prepare?.(dataset, batch.events);
    if (prepared !== undefined) return { dataset, spans, annotation, spanIds, prepared };
    const text = batchTextOf(batch.events);
    return text === undefined
      ? { dataset, spans, annotation, spanIds, events: batch.events }
      : { dataset, spans, annotation, spanIds, text: encoder.encode(text) };
  });
  return { kind: 'flat', rejected: flat.rejected, datasets };
}

/** The batch body of one dataset of an export, flattened again here (for a store whose layout from a worker went stale). */
export function datasetBatchBody(body: Buffer, encoding: OtlpEncoding, fallbackDataset: string, now: number, dataset: string): Buffer {
  const flat = flattenTraces(decodeTraces(body, encoding), { fallbackDataset, now });
  const text = batchTextOf(flat.byDataset.find((batch) => batch.dataset === dataset)?.events ?? []);
  if (text === undefined) throw new Error(`the events of dataset ${dataset} cannot be written as a batch body`);
  return Buffer.from(text);
}

/** A worker's dataset as the outcome reads it (its span ids parsed only when asked). */
export function spansOfFlat(flat: FlatDataset<unknown>): OtlpDatasetSpans {
  let ids: string[] | undefined;
  return {
    dataset: flat.dataset,
    spans: flat.spans,
    annotation: flat.annotation,
    spanIdOf: (i) => {
      ids ??= JSON.parse(flat.spanIds) as string[];
      return ids[i] ?? 'undefined';
    },
  };
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

/** Event times from here on are written as Unix milliseconds in a batch body (docs/api.md, "Event time"). */
const MILLISECONDS_FROM = 1e11;

/**
 * The size of an event as the item of a batch body that {@link batchTextOf} writes (64-bit
 * integers as their digits): what `/1/batch` measures against the limit per event, so the limit
 * means the same whichever way an export's events are stored.
 */
function itemBytes(event: IncomingEvent): number {
  const data = JSON.stringify(event.data, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return Buffer.byteLength(`{"time":${event.time},"samplerate":${event.samplerate},"data":${data}}`);
}
