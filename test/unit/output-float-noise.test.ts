/**
 * Machine output without float noise (issue 11, item 7): non-integers are written with 15
 * significant digits (what a double holds exactly), integers unchanged, in JSON, NDJSON, CSV and
 * tab-separated output alike.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvField, renderCsv, renderJson, renderNdjson } from '../../src/output/serialize.js';
import { formatResultCell } from '../../src/output/query-result.js';
import { cleanNumber, formatRawNumber, MACHINE_SIGNIFICANT_DIGITS } from '../../src/output/values.js';

describe('cleanNumber', () => {
  it('removes the noise of float arithmetic', () => {
    expect(formatRawNumber(115.30640000000014)).toBe('115.3064');
    expect(formatRawNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatRawNumber(1.1 * 1.1)).toBe('1.21');
    expect(formatRawNumber(-0.7 - 0.1)).toBe('-0.8');
    expect(formatRawNumber(3.6678560277431533e-131)).toBe('3.66785602774315e-131');
  });

  it('keeps integers, huge and tiny magnitudes and non-finite values', () => {
    expect(cleanNumber(1_733_400_000_123_456)).toBe(1_733_400_000_123_456);
    expect(cleanNumber(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(cleanNumber(0)).toBe(0);
    expect(cleanNumber(5e-324)).toBe(5e-324);
    expect(cleanNumber(Number.NaN)).toBeNaN();
    expect(cleanNumber(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps every decimal of up to 15 significant digits exactly', () => {
    const decimal = fc
      .tuple(fc.bigInt({ min: -(10n ** 15n) + 1n, max: 10n ** 15n - 1n }), fc.integer({ min: -300, max: 290 }))
      .map(([digits, exponent]) => Number(`${digits}e${exponent}`));
    fc.assert(fc.property(decimal, (x) => cleanNumber(x) === x));
  });

  it('moves any number by at most half a unit of its 15th significant digit (and the rounding back to a double)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), (x) => {
        const cleaned = cleanNumber(x);
        if (x === 0) return cleaned === 0;
        const unit = 10 ** (Math.floor(Math.log10(Math.abs(x))) - (MACHINE_SIGNIFICANT_DIGITS - 1));
        // The 15-digit decimal is within half a unit; the double nearest it, within half an ulp more
        // (a few hundredths of a unit: -2.790383308741625e-173 moved by 0.503 units once failed a bound of 0.5).
        const ulp = Math.abs(x) * Number.EPSILON;
        return Math.abs(cleaned - x) <= unit * 0.5 * (1 + 1e-9) + ulp && cleanNumber(cleaned) === cleaned;
      }),
    );
  });

  it('keeps 15 significant digits of the number that once broke a tighter bound', () => {
    const x = -2.790383308741625e-173;
    expect(cleanNumber(x)).toBe(-2.79038330874163e-173);
  });
});

describe('machine formats write clean numbers', () => {
  it('in JSON, NDJSON, CSV and tab-separated cells', () => {
    const record = { avg: 115.30640000000014, count: 12, nested: { p: 0.30000000000000004 }, list: [2.4000000000000004] };
    expect(JSON.parse(renderJson(record))).toEqual({ avg: 115.3064, count: 12, nested: { p: 0.3 }, list: [2.4] });
    expect(renderNdjson([record])).toBe('{"avg":115.3064,"count":12,"nested":{"p":0.3},"list":[2.4]}\n');
    expect(csvField(115.30640000000014)).toBe('115.3064');
    expect(renderCsv(['a', 'b'], [[0.30000000000000004, { x: 1.0000000000000002 }]])).toBe('a,b\r\n0.3,"{""x"":1}"\r\n');
    expect(formatResultCell(115.30640000000014, false)).toBe('115.3064');
  });
});
