/**
 * Finding bytes that are not UTF-8 in a request body, for the rules of docs/api.md ("Request
 * bodies"): names must be UTF-8, values that are not are stored with U+FFFD and reported.
 * Pure; the check itself is Node's native `isUtf8`, the byte scan runs only to say where.
 */
import { isUtf8 } from 'node:buffer';

export { isUtf8 };

/** Offset of the first byte of `bytes[start, end)` that does not begin a valid UTF-8 sequence, or -1 when all is UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let i = start;
  while (i < end) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= end) return i;
    let code = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k] as number;
      if ((c & 0xc0) !== 0x80) return i;
      code = (code << 6) | (c & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** The 400 message of a body with bytes that are not UTF-8 at `at`. */
export function notUtf8Message(what: string, at: number): string {
  return `${what} is not valid UTF-8 (byte ${at} starts no UTF-8 character)`;
}
