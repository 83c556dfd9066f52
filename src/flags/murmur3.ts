/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby's reference `MurmurHash3_x86_32`),
 * the hash flagd uses for `fractional` bucketing. Pure; no dependency.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixTail(h: number, tail: number): number {
  let k = Math.imul(tail, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

function finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86 32-bit of a byte sequence.
 * @returns the hash as an unsigned 32-bit integer
 */
export function murmur3x86_32(bytes: Uint8Array, seed = 0): number {
  const length = bytes.length;
  const blockEnd = length - (length & 3);
  let h = seed | 0;
  for (let i = 0; i < blockEnd; i += 4) {
    const block = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = mixBlock(h, block);
  }
  const rest = length & 3;
  if (rest > 0) {
    let tail = 0;
    if (rest === 3) tail ^= bytes[blockEnd + 2]! << 16;
    if (rest >= 2) tail ^= bytes[blockEnd + 1]! << 8;
    tail ^= bytes[blockEnd]!;
    h = mixTail(h, tail);
  }
  return finalize(h, length);
}

const utf8 = new TextEncoder();
let scratch = new Uint8Array(256);

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function murmur3Ascii(text: string, seed: number): number {
  const length = text.length;
  const blockEnd = length - (length & 3);
  let h = seed | 0;
  for (let i = 0; i < blockEnd; i += 4) {
    h = mixBlock(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 8) | (text.charCodeAt(i + 2) << 16) | (text.charCodeAt(i + 3) << 24));
  }
  const rest = length & 3;
  if (rest > 0) {
    let tail = 0;
    if (rest === 3) tail ^= text.charCodeAt(blockEnd + 2) << 16;
    if (rest >= 2) tail ^= text.charCodeAt(blockEnd + 1) << 8;
    tail ^= text.charCodeAt(blockEnd);
    h = mixTail(h, tail);
  }
  return finalize(h, length);
}

/**
 * MurmurHash3 x86 32-bit (seed 0 unless given) of the UTF-8 bytes of `text`:
 * what flagd (Go, Java, Python, .NET) hashes for `fractional`.
 * Lone surrogates are encoded as U+FFFD, as every UTF-8 encoder does.
 */
export function murmur3Utf8(text: string, seed = 0): number {
  if (isAscii(text)) return murmur3Ascii(text, seed);
  // At most 3 UTF-8 bytes per UTF-16 code unit.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  const { written } = utf8.encodeInto(text, scratch);
  return murmur3x86_32(scratch.subarray(0, written), seed);
}

/**
 * The hash `@openfeature/flagd-core` 4.x (JavaScript) computes for `fractional`.
 * That library feeds JavaScript UTF-16 code units to MurmurHash3 instead of
 * UTF-8 bytes: a code unit `u` at byte position `p` of a block contributes
 * `u << 8p` (for `p < 3`) or `(u & 0xff) << 24 ^ (u & 0xff00) >> 8` (for
 * `p = 3`), and the length mixed in is the number of code units. For ASCII text
 * this is identical to {@link murmur3Utf8}; for any other text it differs.
 * Offered so flagscope can reproduce buckets of services that evaluate with the
 * JavaScript in-process flagd provider (see docs/flags.md, "Hashing").
 */
export function murmur3Utf16CodeUnits(text: string, seed = 0): number {
  const length = text.length;
  const blockEnd = length - (length & 3);
  let h = seed | 0;
  for (let i = 0; i < blockEnd; i += 4) {
    const top = text.charCodeAt(i + 3);
    const block =
      text.charCodeAt(i) ^ (text.charCodeAt(i + 1) << 8) ^ (text.charCodeAt(i + 2) << 16) ^ ((top & 0xff) << 24) ^ ((top & 0xff00) >> 8);
    h = mixBlock(h, block);
  }
  const rest = length & 3;
  if (rest > 0) {
    let tail = 0;
    if (rest === 3) tail ^= text.charCodeAt(blockEnd + 2) << 16;
    if (rest >= 2) tail ^= text.charCodeAt(blockEnd + 1) << 8;
    tail ^= text.charCodeAt(blockEnd);
    // the JavaScript library mixes the tail only when it is positive as a signed 32-bit integer
    if (tail > 0) h = mixTail(h, tail);
  }
  return finalize(h, length);
}
