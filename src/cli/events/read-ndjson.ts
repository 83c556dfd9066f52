/**
 * Turns NDJSON lines into Honeycomb batch items. Pure: no I/O.
 */
import type { BatchItem } from '../../api/ingest.js';

const ENVELOPE_KEYS = new Set(['data', 'time', 'samplerate']);

/** A line's outcome: an item to send, a local error, or nothing (blank line). */
export type ParsedLine = { item: BatchItem } | { error: string } | undefined;

/**
 * Parses one NDJSON line: either a bare event object, or an envelope
 * `{data, time?, samplerate?}` (an object whose keys are only those, with an
 * object `data`). Blank lines give `undefined`.
 */
export function parseEventLine(line: string): ParsedLine {
  if (line.trim().length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    const reason = (e as Error).message.replace(/\.$/, '');
    return { error: `invalid JSON: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}` };
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const data = record.data;
  const isEnvelope =
    keys.includes('data') && keys.every((k) => ENVELOPE_KEYS.has(k)) && typeof data === 'object' && data !== null && !Array.isArray(data);
  if (!isEnvelope) return { item: { data: record } };
  const item: BatchItem = { data: data as Record<string, unknown> };
  if (typeof record.time === 'string' || typeof record.time === 'number') item.time = record.time;
  if (record.samplerate !== undefined) item.samplerate = record.samplerate as number;
  return item.time === undefined && record.time !== undefined && record.time !== null
    ? { error: '`time` must be an ISO-8601 string or a Unix timestamp' }
    : { item };
}
