/**
 * Parsing JSON request text with an answer a sender can act on: a syntax error becomes a 400
 * naming the line, column and byte offset of the first problem, a body nested deeper than
 * {@link MAX_JSON_DEPTH} levels a 400 naming the limit (checked by a linear scan before
 * `JSON.parse` sees the text). Every scan here is a loop over the text: no recursion and no
 * allocation that grows with the nesting, whatever the input. Pure: shared by the server's
 * routes and by the stores that decode batch bodies (src/ingest/honeycomb.ts).
 */
import { invalidInput, type FlagscopeError } from '../errors.js';

/**
 * Most levels of objects and arrays a JSON body may nest, the body itself being level 1
 * (docs/api.md, "Request bodies"). In a batch, each event counts on its own (its `data` is level 1).
 */
export const MAX_JSON_DEPTH = 64;

/** What to do about a body nested too deeply, for every 400 that names the limit. */
export const DEPTH_HINT = `flatten the JSON: at most ${MAX_JSON_DEPTH} levels of nested objects and arrays are accepted`;

/**
 * Parses JSON text, turning a syntax error into a 400 that names the line,
 * column and byte offset of the first problem, and a body that nests deeper
 * than {@link MAX_JSON_DEPTH} levels into a 400 that names the limit.
 */
export function parseJsonBody(text: string, what: string): unknown {
  if (text.length === 0) throw invalidInput(`${what} is empty`, 'send a JSON body');
  const deep = depthOverflowAt(text, MAX_JSON_DEPTH);
  if (deep !== -1) throw tooDeep(what, deep);
  try {
    return JSON.parse(text);
  } catch {
    throw jsonSyntaxError(text, what);
  }
}

/** The 400 of a body whose nesting passes {@link MAX_JSON_DEPTH} at `position`. */
export function tooDeep(what: string, position: number): FlagscopeError {
  return invalidInput(`${what} nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels (at position ${position})`, DEPTH_HINT, {
    position,
    limit: MAX_JSON_DEPTH,
  });
}

/** The 400 of JSON text `JSON.parse` refused: where the first problem is. */
export function jsonSyntaxError(text: string, what: string): FlagscopeError {
  const position = jsonErrorPosition(text);
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < position; at = text.indexOf('\n', at + 1)) {
    line++;
    lineStart = at + 1;
  }
  const column = position - lineStart + 1;
  const near = JSON.stringify(text.slice(position, position + 16));
  return invalidInput(
    `${what} is not valid JSON: unexpected ${position >= text.length ? 'end of input' : `text ${near}`} at line ${line} column ${column} (position ${position})`,
    'check the JSON syntax (e.g. with `jq .`)',
    { position, line, column },
  );
}

/**
 * Offset of the `[` or `{` that opens nesting level `limit + 1` of JSON text (the outermost
 * value is level 1), or -1 when the text never nests that deep. Strings are skipped; the text
 * need not be valid JSON (stray closers only lower the count). Linear, no recursion.
 */
export function depthOverflowAt(text: string, limit: number): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = closingQuoteOf(text, i);
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** Index of the quote closing the string that opens at `open` (the text's length when none does). */
function closingQuoteOf(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

const ARRAY = 1;
const OBJECT = 2;

/**
 * Offset of the first JSON syntax error in `text`, or -1 when it is valid JSON. One loop with
 * an explicit stack of one byte per open level: any nesting, no recursion.
 */
export function firstJsonError(text: string): number {
  const n = text.length;
  let i = 0;
  let stack = new Uint8Array(64);
  let depth = 0;
  const skipSpace = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else return;
    }
  };
  /** Moves past the string opening at `i`; false (at the problem) when it is malformed. */
  const string = (): boolean => {
    i++;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const esc = text.charCodeAt(i + 1);
        if (esc === 0x75 /* u */) {
          for (let k = 2; k < 6; k++) {
            if (!isHexDigit(text.charCodeAt(i + k))) {
              i++;
              return false;
            }
          }
          i += 6;
        } else if (
          esc === 0x22 ||
          esc === 0x5c ||
          esc === 0x2f ||
          esc === 0x62 ||
          esc === 0x66 ||
          esc === 0x6e ||
          esc === 0x72 ||
          esc === 0x74
        ) {
          i += 2;
        } else {
          i++;
          return false;
        }
      } else i++;
    }
    return false;
  };
  const digits = (): boolean => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    return i > start;
  };
  /** Moves past the number at `i`; false (at the problem) when it is malformed. */
  const number = (): boolean => {
    if (text.charCodeAt(i) === 0x2d) i++;
    if (text.charCodeAt(i) === 0x30) i++;
    else if (!digits()) return false;
    if (text.charCodeAt(i) === 0x2e) {
      i++;
      if (!digits()) return false;
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      if (!digits()) return false;
    }
    return true;
  };
  const literal = (word: string): boolean => {
    for (let k = 0; k < word.length; k++) {
      if (text.charCodeAt(i) !== word.charCodeAt(k)) return false;
      i++;
    }
    return true;
  };
  const push = (kind: number): void => {
    if (depth === stack.length) {
      const grown = new Uint8Array(stack.length * 2);
      grown.set(stack);
      stack = grown;
    }
    stack[depth++] = kind;
  };
  /** Reads an object key and its colon; false at the problem. */
  const key = (): boolean => {
    skipSpace();
    if (text.charCodeAt(i) !== 0x22 || !string()) return false;
    skipSpace();
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    return true;
  };

  // Each turn reads one value (opening a container counts as reading its first value's start).
  for (;;) {
    skipSpace();
    const c = text.charCodeAt(i);
    let scalarOk = true;
    if (c === 0x7b || c === 0x5b) {
      i++;
      skipSpace();
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (text.charCodeAt(i) === close) {
        i++;
      } else {
        push(c === 0x7b ? OBJECT : ARRAY);
        if (c === 0x7b && !key()) return Math.min(i, n);
        continue;
      }
    } else if (c === 0x22) scalarOk = string();
    else if (c === 0x74) scalarOk = literal('true');
    else if (c === 0x66) scalarOk = literal('false');
    else if (c === 0x6e) scalarOk = literal('null');
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) scalarOk = number();
    else return Math.min(i, n);
    if (!scalarOk) return Math.min(i, n);
    // After a value: close containers, or go on to the next element.
    for (;;) {
      skipSpace();
      if (depth === 0) return i >= n ? -1 : i;
      const kind = stack[depth - 1];
      const d = text.charCodeAt(i);
      if (d === 0x2c) {
        i++;
        if (kind === OBJECT && !key()) return Math.min(i, n);
        break;
      }
      if ((kind === ARRAY && d === 0x5d) || (kind === OBJECT && d === 0x7d)) {
        i++;
        depth--;
        continue;
      }
      return Math.min(i, n);
    }
  }
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Offset of the first JSON syntax error in `text` (only called after JSON.parse has failed; the text's length when there is none). */
export function jsonErrorPosition(text: string): number {
  const position = firstJsonError(text);
  return position === -1 ? text.length : position;
}

/** True when `value` (from JSON) holds a number that is not finite, anywhere; walked with a stack, no path built. */
export function hasNonFiniteNumber(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return false;
  const pending: object[] = [value];
  while (pending.length > 0) {
    const item = pending.pop() as Record<string, unknown>;
    for (const key in item) {
      const inner = item[key];
      if (typeof inner === 'number') {
        if (!Number.isFinite(inner)) return true;
      } else if (typeof inner === 'object' && inner !== null) pending.push(inner);
    }
  }
  return false;
}

/**
 * The path (`a.b[2]`) of the first number in `value` that is not finite (what `JSON.parse` makes
 * of `1e400`), or undefined when there is none. `value` came from JSON; walked with a stack.
 */
export function nonFiniteNumberPath(value: unknown): string | undefined {
  const pending: Array<[unknown, string]> = [[value, '']];
  while (pending.length > 0) {
    const [item, path] = pending.pop() as [unknown, string];
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return path;
    } else if (Array.isArray(item)) {
      for (let k = item.length - 1; k >= 0; k--) pending.push([item[k], `${path}[${k}]`]);
    } else if (typeof item === 'object' && item !== null) {
      const keys = Object.keys(item);
      for (let k = keys.length - 1; k >= 0; k--) {
        const name = keys[k] as string;
        pending.push([(item as Record<string, unknown>)[name], path === '' ? name : `${path}.${name}`]);
      }
    }
  }
  return undefined;
}

/** Why `value` (JSON read from a `what`) holds a number no one can use, as a 400; undefined when it holds none. */
export function nonFiniteProblem(value: unknown, what: string): FlagscopeError | undefined {
  if (!hasNonFiniteNumber(value)) return undefined;
  const path = nonFiniteNumberPath(value);
  if (path === undefined) return undefined;
  return invalidInput(
    `${what}${path === '' ? '' : `: ${JSON.stringify(path)}`} holds a number beyond ±1.8e308, which reads as infinity`,
    'send a finite number (JSON numbers must fit a 64-bit float)',
    path === '' ? undefined : { field: path },
  );
}
