/** The rule that keeps column types meaningful (issue 9, item 6): `columnTypeAfter` and its warning. */
import { describe, expect, it } from 'vitest';
import { columnTypeAfter, describeValue, MISTYPED_COLUMN, mistypedWarning } from '../../../src/ingest/value-rules.js';

describe('columnTypeAfter', () => {
  it('keeps the type for values that fit, and null fits every column', () => {
    expect(columnTypeAfter('integer', 3)).toBe('integer');
    expect(columnTypeAfter('integer', 9007199254740993n)).toBe('integer');
    expect(columnTypeAfter('float', 1.5)).toBe('float');
    expect(columnTypeAfter('float', 2)).toBe('float');
    expect(columnTypeAfter('boolean', false)).toBe('boolean');
    for (const type of ['string', 'integer', 'float', 'boolean'] as const) expect(columnTypeAfter(type, null)).toBe(type);
  });

  it('a string column takes anything, as text', () => {
    for (const value of ['x', 1, 1.5, true, { a: 1 }, [1], 12345678901234567890n]) expect(columnTypeAfter('string', value)).toBe('string');
  });

  it('widens integer to float for a fraction or a number beyond 64 bits, and never anything else', () => {
    expect(columnTypeAfter('integer', 2.5)).toBe('float');
    expect(columnTypeAfter('integer', 1e20)).toBe('float');
  });

  it('does not fit: text, booleans, nested values into numbers; numbers and text into booleans', () => {
    for (const value of ['fast', '12', true, { ms: 1 }, [1], 12345678901234567890n]) {
      expect(columnTypeAfter('integer', value)).toBeUndefined();
      expect(columnTypeAfter('float', value)).toBeUndefined();
    }
    for (const value of [1, 0, 'true', { b: true }]) expect(columnTypeAfter('boolean', value)).toBeUndefined();
  });
});

describe('the warning', () => {
  it('names each column, its type, the value, the side column and what to do', () => {
    const text = mistypedWarning([
      ['duration_ms', 'integer', 'fast'],
      ['ok', 'boolean', 1],
    ]);
    expect(text).toContain('2 values');
    expect(text).toContain('"duration_ms" is integer, got the string "fast"');
    expect(text).toContain('"ok" is boolean, got the number 1');
    expect(text).toContain(MISTYPED_COLUMN);
    expect(text).toContain('--set-type');
    expect(describeValue('x'.repeat(100))).toHaveLength('the string ""'.length + 41);
    expect(describeValue({ a: 1 })).toBe('an object');
  });
});
