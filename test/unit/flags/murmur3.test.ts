import { describe, expect, it } from 'vitest';
import { bucketOf, murmur3Utf16CodeUnits, murmur3Utf8, murmur3x86_32, pickWeighted } from '../../../src/flags/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('MurmurHash3 x86 32-bit', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['test', 0, 0xba6bd213],
    ['Hello, world!', 0, 0xc0363e43],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0x9747b28c, 0xc84a62dd],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('%j with seed %i', (text, seed, expected) => {
    expect(murmur3x86_32(bytes(text), seed)).toBe(expected);
  });

  it('hashes zero bytes (tail and blocks)', () => {
    expect(murmur3x86_32(new Uint8Array([0, 0, 0, 0]), 0)).toBe(0x2362f9de);
  });

  it('hashes the UTF-8 bytes of non-ASCII text like the C++ reference', () => {
    expect(murmur3Utf8('My hovercraft is full of eels.')).toBe(2953494853);
    expect(murmur3Utf8('My 🚀 is full of 🦎.')).toBe(1818098979);
    expect(murmur3Utf8('吉 星 高 照')).toBe(3435142074);
  });

  it('the flagd-core (UTF-16 code unit) variant equals UTF-8 on ASCII and differs elsewhere', () => {
    for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'flag-keyuser-123', 'x'.repeat(1001)]) {
      expect(murmur3Utf16CodeUnits(s)).toBe(murmur3Utf8(s));
    }
    expect(murmur3Utf16CodeUnits('My 🚀 is full of 🦎.')).not.toBe(murmur3Utf8('My 🚀 is full of 🦎.'));
    expect(murmur3Utf16CodeUnits('é')).not.toBe(murmur3Utf8('é'));
  });

  it('returns unsigned 32-bit integers', () => {
    for (let i = 0; i < 1000; i++) {
      const h = murmur3Utf8(`key-${i}`);
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
  });
});

describe('bucketing', () => {
  it('computes (hash * total) >> 32 exactly at the extremes', () => {
    expect(bucketOf(0, 100)).toBe(0);
    expect(bucketOf(0xffffffff, 100)).toBe(99);
    expect(bucketOf(0xffffffff, 2147483647)).toBe(2147483646);
    expect(bucketOf(0x80000000, 100000)).toBe(50000);
    // 2^53 is exceeded by hash * total here; a float product would round.
    expect(bucketOf(0xfffffffe, 2147483647)).toBe(Number((0xfffffffen * 2147483647n) >> 32n));
  });

  it('equals the 64-bit integer formula for any hash and total weight', () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 20000; i++) {
      const hash = next();
      const total = i % 3 === 0 ? 2147483647 - (next() % 1000) : (next() % 2147483647) + 1;
      expect(bucketOf(hash, total)).toBe(Number((BigInt(hash) * BigInt(total)) >> 32n));
    }
  });

  it('hashes non-ASCII strings of any length through the reusable buffer', () => {
    const long = '🚀é中'.repeat(500);
    expect(murmur3Utf8(long)).toBe(murmur3x86_32(bytes(long)));
    expect(murmur3Utf8('a\ud800b')).toBe(murmur3x86_32(bytes('a\ud800b')));
    expect(murmur3Utf8('é')).toBe(murmur3x86_32(bytes('é')));
  });

  it('walks cumulative weights in order, skipping zero weights', () => {
    const entries = [
      { weight: 0, v: 'a' },
      { weight: 1, v: 'b' },
      { weight: 99999, v: 'c' },
    ];
    expect(pickWeighted(0, entries)?.v).toBe('b');
    expect(pickWeighted(42949, entries)?.v).toBe('b');
    expect(pickWeighted(42950, entries)?.v).toBe('c');
    expect(pickWeighted(0xffffffff, entries)?.v).toBe('c');
    expect(pickWeighted(123, [{ weight: 0 }])).toBeUndefined();
  });
});
