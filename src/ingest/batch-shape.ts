/**
 * One linear pass over the bytes of a batch body (valid JSON, an array), for the bodies the
 * plain `JSON.parse` of the whole cannot take: where each item starts and ends, how deeply it
 * nests, and whether its `data` holds bytes that are not UTF-8 in a field name or in a value.
 * No recursion and nothing that grows with the nesting. Pure.
 */
import { isUtf8 } from './utf8.js';

/** An item's UTF-8: all of it, only values of its `data` hold bad bytes, or a field name of its `data` does. */
export const UTF8_OK = 0;
export const UTF8_VALUE = 1;
export const UTF8_NAME = 2;
export type Utf8Verdict = typeof UTF8_OK | typeof UTF8_VALUE | typeof UTF8_NAME;

/** One item of a batch body. */
export interface ItemShape {
  /** Offset of its first byte. */
  start: number;
  /** Offset after its last non-blank byte. */
  end: number;
  /** Levels of objects and arrays, the item itself being level 1 (0 for a scalar item). */
  depth: number;
  utf8: Utf8Verdict;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * The items of `body`, a valid JSON array. With `checkUtf8`, each string inside an item's
 * `data` object is checked: bad bytes in one of `data`'s own keys make the item
 * {@link UTF8_NAME}, anywhere else in `data` {@link UTF8_VALUE}.
 */
export function batchShape(body: Uint8Array, checkUtf8: boolean): ItemShape[] {
  const items: ItemShape[] = [];
  let depth = 0;
  let current: ItemShape | undefined;
  let lastSolid = -1;
  /** Depth of the current item's `data` object while inside it (its keys are at this depth), else 0. */
  let dataDepth = 0;
  /** The last key at item level was "data": the object opening next is the event's data. */
  let dataNext = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    if (depth === 1) {
      if (byte === 0x2c || byte === 0x5d) {
        if (current !== undefined) {
          current.end = lastSolid + 1;
          items.push(current);
        }
        current = undefined;
        if (byte === 0x5d) depth--;
        continue;
      }
      current ??= { start: i, end: i, depth: 0, utf8: UTF8_OK };
    }
    if (byte === QUOTE) {
      const close = closingQuote(body, i);
      const atItemLevel = depth === 2;
      const inData = dataDepth !== 0 && depth >= dataDepth;
      if ((atItemLevel || (checkUtf8 && inData)) && current !== undefined) {
        const isKey = body[nextSolid(body, close + 1)] === COLON;
        if (atItemLevel) {
          if (isKey) dataNext = isDataKey(body, i, close);
          else dataNext = false;
        } else if (!isUtf8(body.subarray(i + 1, close))) {
          if (isKey && depth === dataDepth) current.utf8 = UTF8_NAME;
          else if (current.utf8 === UTF8_OK) current.utf8 = UTF8_VALUE;
        }
      }
      i = close;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
      if (current !== undefined && depth - 1 > current.depth) current.depth = depth - 1;
      if (depth === 3) {
        if (dataNext && byte === 0x7b) dataDepth = 3;
        dataNext = false;
      }
    } else if (byte === 0x7d || byte === 0x5d) {
      if (depth === dataDepth) dataDepth = 0;
      depth--;
    } else if (depth === 2 && byte !== COLON) {
      dataNext = false;
    }
    lastSolid = i;
  }
  return items;
}

/**
 * Whether the single-event body `body` (a valid JSON object: the event's data) holds bytes that
 * are not UTF-8 in one of its own keys ({@link UTF8_NAME}) or elsewhere ({@link UTF8_VALUE}).
 */
export function eventUtf8(body: Uint8Array): Utf8Verdict {
  let verdict: Utf8Verdict = UTF8_OK;
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    if (byte === QUOTE) {
      const close = closingQuote(body, i);
      if (!isUtf8(body.subarray(i + 1, close))) {
        if (depth === 1 && body[nextSolid(body, close + 1)] === COLON) return UTF8_NAME;
        verdict = UTF8_VALUE;
      }
      i = close;
    } else if (byte === 0x7b || byte === 0x5b) depth++;
    else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return verdict;
}

/** True when the key string `body[open, close]` (quotes included) reads as "data". */
function isDataKey(body: Uint8Array, open: number, close: number): boolean {
  if (close - open === 5) {
    return body[open + 1] === 0x64 && body[open + 2] === 0x61 && body[open + 3] === 0x74 && body[open + 4] === 0x61;
  }
  // An escaped spelling ("d\u0061ta") is "data" too, as JSON.parse reads it.
  if (close - open > 5 && body.subarray(open, close).includes(BACKSLASH)) {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset + open, close + 1 - open).toString('utf8')) === 'data';
  }
  return false;
}

/** Offset of the first non-blank byte at or after `at`. */
function nextSolid(body: Uint8Array, at: number): number {
  let i = at;
  for (;;) {
    const byte = body[i];
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) i++;
    else return i;
  }
}

/** Index of the quote closing the JSON string that opens at `open` (the body's length when none does). */
function closingQuote(body: Uint8Array, open: number): number {
  let at = open;
  for (;;) {
    at = body.indexOf(QUOTE, at + 1);
    if (at === -1) return body.length;
    let backslashes = 0;
    while (body[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
