/**
 * Parsing JSON request text with an answer a sender can act on: a syntax error becomes a 400
 * naming the line, column and byte offset of the first problem. Pure: shared by the server's
 * routes and by the stores that decode batch bodies (src/ingest/honeycomb.ts).
 */
import { invalidInput } from '../errors.js';

/**
 * Parses JSON text, turning a syntax error into a 400 that names the line,
 * column and byte offset of the first problem.
 */
export function parseJsonBody(text: string, what: string): unknown {
  if (text.length === 0) throw invalidInput(`${what} is empty`, 'send a JSON body');
  try {
    return JSON.parse(text);
  } catch {
    const position = errorPositionOf(text);
    if (position === undefined) {
      throw invalidInput(`${what} is not valid JSON, and nested too deeply to say where`, 'check the JSON syntax (e.g. with `jq .`)');
    }
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n');
    const near = JSON.stringify(text.slice(position, position + 16));
    throw invalidInput(
      `${what} is not valid JSON: unexpected ${position >= text.length ? 'end of input' : `text ${near}`} at line ${line} column ${column} (position ${position})`,
      'check the JSON syntax (e.g. with `jq .`)',
      { position, line, column },
    );
  }
}

/** {@link jsonErrorPosition}, or undefined when the text nests deeper than the scanner's stack reaches. */
function errorPositionOf(text: string): number | undefined {
  try {
    return jsonErrorPosition(text);
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

/** Offset of the first JSON syntax error in `text` (only called after JSON.parse has failed). */
export function jsonErrorPosition(text: string): number {
  let i = 0;
  const n = text.length;
  const skipSpace = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  class Stop extends Error {}
  const stop = (): never => {
    throw new Stop();
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) stop();
      i++;
    }
  };
  const string = (): void => {
    i++;
    while (i < n) {
      const ch = text.charCodeAt(i);
      if (ch === 0x22) {
        i++;
        return;
      }
      if (ch < 0x20) stop();
      if (ch === 0x5c) {
        const esc = text[i + 1];
        if (esc === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            stop();
          }
          i += 6;
        } else if (esc !== undefined && '"\\/bfnrt'.includes(esc)) i += 2;
        else {
          i++;
          stop();
        }
      } else i++;
    }
    stop();
  };
  const number = (): void => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (match === null || match[0].length === 0) stop();
    i += (match as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    skipSpace();
    const ch = text[i];
    if (ch === '{') {
      i++;
      skipSpace();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') stop();
        string();
        skipSpace();
        if (text[i] !== ':') stop();
        i++;
        value();
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        stop();
      }
    }
    if (ch === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        stop();
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return number();
    stop();
  };
  try {
    value();
    skipSpace();
    return Math.min(i, n);
  } catch (e) {
    if (e instanceof Stop) return Math.min(i, n);
    throw e;
  }
}
