/**
 * Turning Honeycomb Events API requests into `IncomingEvent`s: the single-event
 * form (`POST /1/events/{dataset}`, metadata in headers) and the batch form
 * (`POST /1/batch/{dataset}`, metadata per item). Pure: the caller passes `now`.
 */
import { invalidInput } from '../errors.js';
import { batchShape, eventUtf8, UTF8_NAME } from './batch-shape.js';
import type { IncomingEvent, IngestOutcome } from './event.js';
import { depthOverflowAt, firstJsonError, hasNonFiniteNumber, jsonSyntaxError, MAX_JSON_DEPTH, parseJsonBody } from './json-text.js';
import { isUtf8 } from './utf8.js';

/** Event times at or above this many units are read as Unix milliseconds, below it as Unix seconds (1e11 s is the year 5138). */
const MILLISECONDS_THRESHOLD = 1e11;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** A batch item parsed (with a warning for its 202 when it has one), or rejected with the reason (its per-item 400). */
export type ParsedItem = { ok: true; event: IncomingEvent; warning?: string } | { ok: false; error: string };

/** How far past the server's clock an event time may be, in milliseconds (docs/api.md, "Event times"). */
export const MAX_EVENT_TIME_AHEAD_MS = 86_400_000;

/** The accepted window of event times, as its 400s say it. */
export const EVENT_TIME_WINDOW = "1970-01-01T00:00:00Z to 1 day after the server's clock";

/** Why an event time (Unix ms) is outside the accepted window at `now`, or undefined when it is inside. */
export function eventTimeWindowProblem(ms: number, now: number): string | undefined {
  if (ms >= 0 && ms <= now + MAX_EVENT_TIME_AHEAD_MS) return undefined;
  const shown = Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
  return `event time ${shown} is outside the accepted window, ${EVENT_TIME_WINDOW} (now ${new Date(now).toISOString()})`;
}

/** The per-item 400 of an event whose field holds a number JSON.parse reads as infinity. */
export function nonFiniteFieldMessage(field: string): string {
  return `field ${JSON.stringify(field)} holds a number beyond ±1.8e308, which no column can store: send a finite number, or the value as a string`;
}

/** Why an event's data is refused whatever the dataset (a number that is not finite), or undefined. */
export function dataProblem(data: Record<string, unknown>): string | undefined {
  for (const field in data) {
    const value = data[field];
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return nonFiniteFieldMessage(field);
    } else if (typeof value === 'object' && value !== null && hasNonFiniteNumber(value)) {
      return nonFiniteFieldMessage(field);
    }
  }
  return undefined;
}

/** The per-item 400 of an event nested past the limit. */
export const TOO_DEEP_EVENT = `event nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels (its "data" is level 1): flatten it`;

/** The per-item 400 of an event with a field name that is not UTF-8. */
export const NAME_NOT_UTF8 = 'a field name is not valid UTF-8: send field names as UTF-8 text';

/** The warning of a stored event whose values held bytes that are not UTF-8. */
export const VALUE_NOT_UTF8 =
  'some field values were not valid UTF-8 and were stored with U+FFFD (the replacement character) in place of the bad bytes';

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
  if (isJsonObject(body)) {
    const problem = dataProblem(body);
    if (problem !== undefined) throw invalidInput(problem, 'send finite numbers (JSON numbers must fit a 64-bit float)');
  }
  if (!isJsonObject(body))
    throw invalidInput(`event body must be a JSON object, not ${describe(body)}`, 'send one event as a JSON object of fields');
  if (bodyBytes > maxEventBytes) {
    throw invalidInput(`event is ${bodyBytes} bytes, over the ${maxEventBytes}-byte limit per event`, 'drop or shorten large fields');
  }
  let time = now;
  if (headers.time !== undefined && headers.time.trim() !== '') {
    const parsed = parseEventTime(headers.time);
    if (typeof parsed === 'string') throw invalidInput(`X-Honeycomb-Event-Time: ${parsed}`, 'send RFC 3339 or Unix seconds');
    const outside = eventTimeWindowProblem(parsed, now);
    if (outside !== undefined) throw invalidInput(`X-Honeycomb-Event-Time: ${outside}`, `send a time from ${EVENT_TIME_WINDOW}`);
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
 * Reads a single event's body (`POST /1/events`): JSON nested at most {@link MAX_JSON_DEPTH}
 * levels, then {@link singleEvent}. Bytes that are not UTF-8 in a field name refuse the event;
 * in values they are stored as U+FFFD and the answer carries `warning`.
 */
export function decodeEventBody(
  body: Buffer,
  headers: { time: string | undefined; samplerate: string | undefined },
  maxEventBytes: number,
  now: number,
): { event: IncomingEvent; warning?: string } {
  const value = parseJsonBody(body.toString('utf8'), 'event body');
  const event = singleEvent(value, headers, body.length, maxEventBytes, now);
  if (isUtf8(body)) return { event };
  if (eventUtf8(body) === UTF8_NAME) throw invalidInput(`event body: ${NAME_NOT_UTF8}`, 'send UTF-8 text');
  return { event, warning: VALUE_NOT_UTF8 };
}

/**
 * Parses the items of a batch. Each item is `{data, time?, samplerate?}`;
 * a bad item is rejected on its own. `itemBytes[i]` is the size of item i's
 * JSON text; pass undefined when the whole body is within the per-event limit
 * (then no item can be over it).
 */
export function batchItems(body: unknown, itemBytes: number[] | undefined, maxEventBytes: number, now: number): ParsedItem[] {
  if (!Array.isArray(body)) throw notAnArray(describe(body));
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
  const text = body.toString('utf8');
  const utf8 = isUtf8(body);
  // The array and the item around each event's data are two more levels.
  if (text.length === 0) throw invalidInput('batch body is empty', 'send a JSON body');
  if (utf8 && depthOverflowAt(text, MAX_JSON_DEPTH + 2) === -1) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw jsonSyntaxError(text, 'batch body');
    }
    const itemBytes = Array.isArray(value) && body.length > maxEventBytes ? arrayItemByteLengths(body) : undefined;
    return batchItems(value, itemBytes, maxEventBytes, now);
  }
  return decodeBatchItemByItem(body, text, utf8, maxEventBytes, now);
}

/**
 * The way of {@link decodeBatchBody} with a body that nests deeper than an event may or holds
 * bytes that are not UTF-8: checked whole without recursion, then each item on its own, an item
 * nested too deeply refused without being parsed, UTF-8 judged by where the bad bytes are.
 */
function decodeBatchItemByItem(body: Buffer, text: string, utf8: boolean, maxEventBytes: number, now: number): ParsedItem[] {
  if (firstJsonError(text) !== -1) throw jsonSyntaxError(text, 'batch body');
  const first = text.charCodeAt(text.search(/\S/));
  if (first !== 0x5b) {
    // Not an array: say what it is as batchItems does, without parsing deep text.
    if (depthOverflowAt(text, MAX_JSON_DEPTH + 2) === -1) return batchItems(JSON.parse(text), undefined, maxEventBytes, now);
    throw notAnArray('an object');
  }
  const checkSizes = body.length > maxEventBytes;
  return batchShape(body, !utf8).map((shape): ParsedItem => {
    const size = shape.end - shape.start;
    if (checkSizes && size > maxEventBytes)
      return { ok: false, error: `event is ${size} bytes, over the ${maxEventBytes}-byte limit per event` };
    if (shape.depth > MAX_JSON_DEPTH + 1) return { ok: false, error: TOO_DEEP_EVENT };
    const item = batchItem(JSON.parse(body.toString('utf8', shape.start, shape.end)), now);
    if (!item.ok || shape.utf8 === 0) return item;
    return shape.utf8 === UTF8_NAME ? { ok: false, error: NAME_NOT_UTF8 } : { ...item, warning: VALUE_NOT_UTF8 };
  });
}

function notAnArray(what: string) {
  return invalidInput(`batch body must be a JSON array of {"data": {...}} items, not ${what}`, 'wrap the events in an array');
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
    const outside = eventTimeWindowProblem(parsed, now);
    if (outside !== undefined) return { ok: false, error: outside };
    time = parsed;
  }
  let samplerate = 1;
  if (item.samplerate !== undefined && item.samplerate !== null) {
    const parsed = parseSampleRate(item.samplerate);
    if (typeof parsed === 'string') return { ok: false, error: parsed };
    samplerate = parsed;
  }
  const problem = dataProblem(data);
  if (problem !== undefined) return { ok: false, error: problem };
  return { ok: true, event: { time, samplerate, data } };
}

/** Puts the store's outcomes for the accepted items back among the rejected ones, in request order. */
export function mergeOutcomes(items: ParsedItem[], stored: IngestOutcome[]): IngestOutcome[] {
  const out: IngestOutcome[] = new Array(items.length);
  let next = 0;
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as ParsedItem;
    if (item.ok) out[index] = withWarning(stored[next++] ?? { status: 400, error: 'event was not stored' }, item.warning);
    else out[index] = { status: 400, error: item.error };
  }
  return out;
}

/** A stored event's outcome with `warning` added (the outcome itself when there is none, or it was refused). */
export function withWarning(outcome: IngestOutcome, warning: string | undefined): IngestOutcome {
  return warning === undefined || outcome.status !== 202 ? outcome : { ...outcome, warning };
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
