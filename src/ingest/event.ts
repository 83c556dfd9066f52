/**
 * The two shapes every ingest path shares, whatever the wire format and the store: an event
 * ready to store, and the per-event answer a store gives for it.
 */

/** One event ready to store: already validated JSON object, resolved time and sample rate. */
export interface IncomingEvent {
  /** Unix milliseconds. */
  time: number;
  samplerate: number;
  data: Record<string, unknown>;
}

/**
 * Per-event outcome of an ingest call, in input order. A stored event whose values did not all fit
 * their columns, or were not all UTF-8, carries a `warning` (docs/storage.md, "Types"; docs/api.md).
 */
export type IngestOutcome = { status: 202; warning?: string } | { status: 400; error: string };
