/**
 * Turning Honeycomb Events API requests into `IncomingEvent`s: the single-event
 * form (`POST /1/events/{dataset}`, metadata in headers) and the batch form
 * (`POST /1/batch/{dataset}`, metadata per item). Pure: the caller passes `now`.
 */
import { invalidInput } from '../errors.js';
import type { IncomingEvent, IngestOutcome } from './event.js';
import { parseJsonBody } from './json-text.js';

/** Event times at or above this many units are read as Unix milliseconds, below it as Unix seconds (1e11 s is the year 5138). */
const MILLISECONDS_THRESHOLD = 1e11;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** A batch item parsed, or rejected with the reason (its per-item 400). */
export type ParsedItem = { ok: true; event: IncomingEvent } | { ok: false; error: string };

/**
 * Reads an event time: RFC 3339 text, or a Unix epoch number (or numeric text)
 * in seconds with optional fraction (values ≥ 1e11 are taken as milliseconds,
 * as Honeycomb's examples send them). Returns Unix milliseconds, or an error.
 */
export function parseEventTime(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return `time ${value} is not a valid timestamp`;
    return value >= MILLISECONDS_THRESHOLD ? value : value * 1000;
  }
  if (typeof value !== 'string') return `time must be an RFC 3339 string or a Unix timestamp, not ${describe(value)}`;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseEventTime(Number(text));
  if (!RFC3339.test(text)) return `time "${truncate(text)}" is not RFC 3339 (e.g. 2024-05-01T12:00:00.000Z) or a Unix timestamp`;
  const ms = Date.parse(/([Zz]|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`);
  if (Number.isNaN(ms)) return `time "${truncate(text)}" is not a valid date`;
  return ms;
}

/** Reads a sample rate: a positive integer (number or integer text). Returns it, or an error. */
export function parseSampleRate(value: unknown): number | string {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    return `samplerate must be a positive integer, not ${describe(value)}`;
  }
  return n;
}

/** True for a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Builds the event of a single-event request from its parsed body and headers.
 * Throws FlagscopeError('invalid_input') for any problem, so nothing is stored.
 */
export function singleEvent(
  body: unknown,
  headers: { time: string | undefined; samplerate: string | undefined },
  bodyBytes: number,
  maxEventBytes: number,
  now: number,
): IncomingEvent {
  if (!isJsonObject(body))
    throw invalidInput(`event body must be a JSON object, not ${describe(body)}`, 'send one event as a JSON object of fields');
  if (bodyBytes > maxEventBytes) {
    throw invalidInput(`event is ${bodyBytes} bytes, over the ${maxEventBytes}-byte limit per event`, 'drop or shorten large fields');
  }
  let time = now;
  if (headers.time !== undefined && headers.time.trim() !== '') {
    const parsed = parseEventTime(headers.time);
    if (typeof parsed === 'string') throw invalidInput(`X-Honeycomb-Event-Time: ${parsed}`, 'send RFC 3339 or Unix seconds');
    time = parsed;
  }
  let samplerate = 1;
  if (headers.samplerate !== undefined && headers.samplerate.trim() !== '') {
    const parsed = parseSampleRate(headers.samplerate);
    if (typeof parsed === 'string') throw invalidInput(`X-Honeycomb-Samplerate: ${parsed}`, 'send an integer of 1 or more');
    samplerate = parsed;
  }
  return { time, samplerate, data: body };
}

/**
 * Parses the items of a batch. Each item is `{data, time?, samplerate?}`;
 * a bad item is rejected on its own. `itemBytes[i]` is the size of item i's
 * JSON text; pass undefined when the whole body is within the per-event limit
 * (then no item can be over it).
 */
export function batchItems(body: unknown, itemBytes: number[] | undefined, maxEventBytes: number, now: number): ParsedItem[] {
  if (!Array.isArray(body)) {
    throw invalidInput(`batch body must be a JSON array of {"data": {...}} items, not ${describe(body)}`, 'wrap the events in an array');
  }
  const items: ParsedItem[] = new Array(body.length);
  for (let index = 0; index < body.length; index++) {
    const size = itemBytes?.[index] ?? 0;
    items[index] =
      size > maxEventBytes
        ? { ok: false, error: `event is ${size} bytes, over the ${maxEventBytes}-byte limit per event` }
        : batchItem(body[index], now);
  }
  return items;
}

/**
 * Reads a batch body the object way: `JSON.parse` (a syntax error is a 400 naming its
 * position), then each item on its own ({@link batchItems}), item sizes measured only when the
 * body is larger than one event may be. Throws `invalid_input` when the body is not a JSON array.
 */
export function decodeBatchBody(body: Buffer, maxEventBytes: number, now: number): ParsedItem[] {
  const value = parseJsonBody(body.toString('utf8'), 'batch body');
  const itemBytes = Array.isArray(value) && body.length > maxEventBytes ? arrayItemByteLengths(body) : undefined;
  return batchItems(value, itemBytes, maxEventBytes, now);
}

/** The events of the accepted items, in order (what a store is asked to ingest). */
export function acceptedEvents(items: readonly ParsedItem[]): IncomingEvent[] {
  const events: IncomingEvent[] = [];
  for (const item of items) if (item.ok) events.push(item.event);
  return events;
}

/**
 * Byte length of each element of the top-level JSON array in `json` (from its
 * first to its last non-blank byte). `json` must be valid JSON (parse it
 * first); this only finds the boundaries, in one pass over the bytes, which is
 * several times cheaper than serialising each parsed item again.
 */
export function arrayItemByteLengths(json: Buffer): number[] {
  const sizes: number[] = [];
  let depth = 0;
  let itemStart = -1;
  let lastSolid = -1;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i] as number;
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    if (depth === 1) {
      if (byte === 0x2c || byte === 0x5d) {
        if (itemStart !== -1) sizes.push(lastSolid - itemStart + 1);
        itemStart = -1;
        if (byte === 0x5d) depth--;
        continue;
      }
      if (itemStart === -1) itemStart = i;
    }
    if (byte === 0x22) i = closingQuote(json, i);
    else if (byte === 0x5b || byte === 0x7b) depth++;
    else if (byte === 0x5d || byte === 0x7d) depth--;
    lastSolid = i;
  }
  return sizes;
}

/** Index of the quote closing the JSON string that opens at `open` (jumps with the native indexOf). */
function closingQuote(json: Buffer, open: number): number {
  let at = open;
  for (;;) {
    at = json.indexOf(0x22, at + 1);
    if (at === -1) return json.length;
    let backslashes = 0;
    while (json[at - 1 - backslashes] === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function batchItem(item: unknown, now: number): ParsedItem {
  if (!isJsonObject(item)) return { ok: false, error: `item must be an object with a "data" object, not ${describe(item)}` };
  const data = item.data;
  if (!isJsonObject(data)) return { ok: false, error: `"data" must be a JSON object, not ${describe(data)}` };
  let time = now;
  if (item.time !== undefined && item.time !== null && item.time !== '') {
    const parsed = parseEventTime(item.time);
    if (typeof parsed === 'string') return { ok: false, error: parsed };
    time = parsed;
  }
  let samplerate = 1;
  if (item.samplerate !== undefined && item.samplerate !== null) {
    const parsed = parseSampleRate(item.samplerate);
    if (typeof parsed === 'string') return { ok: false, error: parsed };
    samplerate = parsed;
  }
  return { ok: true, event: { time, samplerate, data } };
}

/** Puts the store's outcomes for the accepted items back among the rejected ones, in request order. */
export function mergeOutcomes(items: ParsedItem[], stored: IngestOutcome[]): IngestOutcome[] {
  const out: IngestOutcome[] = new Array(items.length);
  let next = 0;
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as ParsedItem;
    if (item.ok) out[index] = stored[next++] ?? { status: 400, error: 'event was not stored' };
    else out[index] = { status: 400, error: item.error };
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string "${truncate(value)}"`;
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'nothing';
  return `${typeof value} ${String(value)}`;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
