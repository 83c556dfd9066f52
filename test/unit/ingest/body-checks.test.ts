/**
 * The loops behind "no input reaches a 5xx" (issue 9): the JSON syntax check with an explicit
 * stack, the nesting scan, the UTF-8 scan and the batch shape, each held against the native
 * reference (`JSON.parse`, `isUtf8`) on generated input, and at depths no recursion survives.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchShape, eventUtf8, UTF8_NAME, UTF8_OK, UTF8_VALUE } from '../../../src/ingest/batch-shape.js';
import { depthOverflowAt, firstJsonError, hasNonFiniteNumber, nonFiniteNumberPath } from '../../../src/ingest/json-text.js';
import { firstInvalidUtf8 } from '../../../src/ingest/utf8.js';

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Levels of objects and arrays in a parsed value (the value itself is level 1; 0 for a scalar). */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  for (const inner of Object.values(value)) deepest = Math.max(deepest, depthOf(inner));
  return deepest + 1;
}

describe('firstJsonError', () => {
  it('agrees with JSON.parse on JSON text, truncated and mutated', () => {
    const text = fc.oneof(
      fc.json(),
      fc.tuple(fc.json(), fc.nat()).map(([json, n]) => json.slice(0, n % (json.length + 1))),
      fc.tuple(fc.json(), fc.nat(), fc.constantFrom(',', ']', '}', '"', '\\', ':', '\u0001', 'x', '-', '.', 'e')).map(([json, n, c]) => {
        const at = n % (json.length + 1);
        return json.slice(0, at) + c + json.slice(at);
      }),
      fc.string(),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(firstJsonError(t) === -1, t).toBe(parses(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('follows a million levels without recursion, valid or unterminated', () => {
    const n = 1_000_000;
    expect(firstJsonError(`${'['.repeat(n)}${']'.repeat(n)}`)).toBe(-1);
    expect(firstJsonError('['.repeat(n))).toBe(n);
    expect(firstJsonError(`${'{"a":'.repeat(n)}1${'}'.repeat(n - 1)}`)).toBe(6 * n);
  });
});

describe('depthOverflowAt', () => {
  it('finds the bracket that opens one level too many, outside strings only', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 6 }), (value, limit) => {
        const text = JSON.stringify(value) ?? 'null';
        expect(depthOverflowAt(text, limit) === -1).toBe(depthOf(JSON.parse(text)) <= limit);
      }),
      { numRuns: 1000 },
    );
    const text = '["[[[", {"a\\"[": [1]}]';
    expect(depthOverflowAt(text, 3)).toBe(-1);
    expect(depthOverflowAt(text, 2)).toBe(text.indexOf('[1]'));
    expect(depthOverflowAt('[[[', 2)).toBe(2);
  });
});

describe('firstInvalidUtf8', () => {
  it('agrees with isUtf8, and the bytes before the offset are UTF-8', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.string({ unit: 'binary' }).map((s) => new Uint8Array(Buffer.from(s))),
      fc.tuple(fc.string({ unit: 'binary' }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3 })).map(([s, n, junk]) => {
        const ok = Buffer.from(s);
        const at = n % (ok.length + 1);
        return new Uint8Array(Buffer.concat([ok.subarray(0, at), junk, ok.subarray(at)]));
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const at = firstInvalidUtf8(b);
        expect(at === -1).toBe(isUtf8(b));
        if (at !== -1) expect(isUtf8(b.subarray(0, at))).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // Overlong, surrogate, past U+10FFFF, truncated.
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      expect(firstInvalidUtf8(Uint8Array.from([0x61, ...bad]))).toBe(1);
    }
  });
});

describe('finite numbers', () => {
  it('finds infinity anywhere in a parsed value, and its path', () => {
    const value = JSON.parse('{"a":[1,{"b":1e400}],"c":2}');
    expect(hasNonFiniteNumber(value)).toBe(true);
    expect(nonFiniteNumberPath(value)).toBe('a[1].b');
    expect(hasNonFiniteNumber(JSON.parse('{"a":[1,{"b":1e308}],"c":-1e-400}'))).toBe(false);
    expect(nonFiniteNumberPath(-Infinity)).toBe('');
  });
});

describe('batchShape', () => {
  it('bounds, sizes and depths of the items of any JSON array, however it is spaced', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 5 }), { maxLength: 8 }), fc.constantFrom(undefined, 1, '\t', ' \n'), (array, space) => {
        const body = Buffer.from(JSON.stringify(array, null, space));
        const expected = JSON.parse(body.toString()) as unknown[];
        const shapes = batchShape(body, false);
        expect(shapes).toHaveLength(expected.length);
        shapes.forEach((shape, k) => {
          expect(JSON.parse(body.toString('utf8', shape.start, shape.end))).toEqual(expected[k]);
          expect(/\s/.test(body.toString('utf8', shape.end - 1, shape.end))).toBe(false);
          expect(shape.depth).toBe(depthOf(expected[k]));
        });
      }),
      { numRuns: 500 },
    );
  });

  it('tells bad bytes in a field name of data from bad bytes anywhere else', () => {
    const body = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p as never)));
    const shapes = batchShape(
      body(
        '[{"data":{"a":"ok"}},',
        '{"data":{"k',
        [0xff],
        '":1}},',
        '{"data":{"k":"v',
        [0xff],
        '"}},',
        '{"data":{"k":{"n',
        [0xc3],
        '":1}}},',
        '{"ext',
        [0xff],
        'ra":1,"data":{}},',
        '{"time":"',
        [0xff],
        '","data":{}},',
        '{"d\\u0061ta":{"',
        [0xff],
        '":1}}]',
      ),
      true,
    );
    expect(shapes.map((s) => s.utf8)).toEqual([UTF8_OK, UTF8_NAME, UTF8_VALUE, UTF8_VALUE, UTF8_OK, UTF8_OK, UTF8_NAME]);
    expect(eventUtf8(body('{"a":"x', [0xff], '"}'))).toBe(UTF8_VALUE);
    expect(eventUtf8(body('{"a":{"', [0xff], '":1}}'))).toBe(UTF8_VALUE);
    expect(eventUtf8(body('{"', [0xff], '":1}'))).toBe(UTF8_NAME);
  });
});
