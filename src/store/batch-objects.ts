/**
 * The object path of a batch body, for any event store: `JSON.parse`, each item on its own,
 * `ingest` of the accepted events, and the store's outcomes put back among the refused items.
 * A store with a faster way to lay out a body (the DuckDB store's scanner) falls back to it.
 */
import { acceptedEvents, decodeBatchBody, mergeOutcomes } from '../ingest/honeycomb.js';
import type { BatchBodyOptions, EventStore, IngestOutcome } from './types.js';

/**
 * Stores a Honeycomb batch body through `store.ingest` and resolves with one outcome per item.
 * Throws `invalid_input` for a malformed body, or whatever `options.admit` throws.
 */
export async function ingestBatchAsObjects(
  store: Pick<EventStore, 'ingest'>,
  dataset: string,
  body: Buffer,
  options: BatchBodyOptions,
): Promise<IngestOutcome[]> {
  const items = decodeBatchBody(body, options.maxEventBytes, options.now);
  const events = acceptedEvents(items);
  options.admit(events.length);
  const stored = events.length > 0 ? await store.ingest(dataset, events) : [];
  return mergeOutcomes(items, stored);
}
