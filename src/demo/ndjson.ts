/**
 * NDJSON text for generated events, for benchmarks and for
 * `flagscope events send`. Pure: returns strings, writes nothing.
 */
import { invalidInput } from '../errors.js';
import type { GeneratedEvent } from './generate.js';

/**
 * How each line looks:
 * - `batch-item`: `{"time": ISO-8601, "samplerate": N, "data": {...}}`, the shape of a Honeycomb batch item;
 * - `data`: the event's fields only (time and sample rate dropped), the shape of a bulk-load file.
 */
export type NdjsonShape = 'batch-item' | 'data';

/** One event as a single JSON line (no trailing newline). */
export function eventToNdjsonLine(event: GeneratedEvent, shape: NdjsonShape = 'batch-item'): string {
  if (shape === 'data') return JSON.stringify(event.data);
  return JSON.stringify({ time: new Date(event.time).toISOString(), samplerate: event.samplerate, data: event.data });
}

/**
 * Joins events into NDJSON chunks of at most `linesPerChunk` lines, each line
 * ending in a newline. Chunking keeps each string far below the engine's
 * string length limit when a million wide events are written.
 */
export function* ndjsonChunks(
  events: Iterable<GeneratedEvent>,
  options: { linesPerChunk?: number; shape?: NdjsonShape } = {},
): Generator<string, void, undefined> {
  const linesPerChunk = options.linesPerChunk ?? 1_000;
  if (!Number.isSafeInteger(linesPerChunk) || linesPerChunk < 1) {
    throw invalidInput(`lines per chunk must be a positive integer, got ${String(linesPerChunk)}`);
  }
  const shape = options.shape ?? 'batch-item';
  let lines: string[] = [];
  for (const event of events) {
    lines.push(eventToNdjsonLine(event, shape));
    if (lines.length >= linesPerChunk) {
      yield `${lines.join('\n')}\n`;
      lines = [];
    }
  }
  if (lines.length > 0) yield `${lines.join('\n')}\n`;
}
