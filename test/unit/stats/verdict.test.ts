import { describe, expect, it } from 'vitest';
import { checkGuard, verdict } from '../../../src/stats/index.js';

describe('verdict', () => {
  const base = { sampleSize: 10_000, minimumSample: 1000 };
  it.each([
    [0.01, 0.001, 'lower-is-better', 'worse'],
    [-0.01, 0.001, 'lower-is-better', 'better'],
    [0.01, 0.001, 'higher-is-better', 'better'],
    [-0.01, 0.001, 'higher-is-better', 'worse'],
    [0.01, 0.2, 'lower-is-better', 'no detectable difference'],
    [0, 0.001, 'lower-is-better', 'no detectable difference'],
    [Number.NaN, 1, 'lower-is-better', 'not enough data'],
  ] as const)('effect %s, q %s, %s → %s', (effect, qValue, direction, expected) => {
    expect(verdict({ ...base, effect, qValue, direction })).toBe(expected);
  });

  it('says not enough data below the minimum sample, even when significant', () => {
    expect(verdict({ effect: 0.5, qValue: 1e-9, direction: 'lower-is-better', sampleSize: 999, minimumSample: 1000 })).toBe(
      'not enough data',
    );
    expect(verdict({ effect: 0.5, qValue: 1e-9, direction: 'lower-is-better', sampleSize: 0 })).toBe('not enough data');
  });

  it('holds the q-value to alpha', () => {
    const input = { effect: 1, qValue: 0.03, direction: 'lower-is-better', sampleSize: 5000 } as const;
    expect(verdict(input)).toBe('worse');
    expect(verdict({ ...input, alpha: 0.01 })).toBe('no detectable difference');
    expect(() => verdict({ ...input, direction: 'up' as 'lower-is-better' })).toThrow(/direction/);
  });
});

describe('checkGuard', () => {
  it.each([
    [[0.12, 0.3], 'lower-is-better', 0.1, 'fail'],
    [[-0.02, 0.08], 'lower-is-better', 0.1, 'pass'],
    [[0.05, 0.15], 'lower-is-better', 0.1, 'inconclusive'],
    [[-0.1, -0.03], 'higher-is-better', -0.02, 'fail'],
    [[-0.01, 0.04], 'higher-is-better', -0.02, 'pass'],
    [[-0.05, 0.01], 'higher-is-better', -0.02, 'inconclusive'],
    [[Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], 'lower-is-better', 0.1, 'inconclusive'],
    [[Number.NaN, Number.NaN], 'lower-is-better', 0.1, 'inconclusive'],
  ] as const)('interval %j, %s, bound %s → %s', (ci, direction, bound, expected) => {
    expect(checkGuard(ci, { direction, bound })).toBe(expected);
  });

  it('rejects a bound that is not a number', () => {
    expect(() => checkGuard([0, 1], { direction: 'lower-is-better', bound: Number.NaN })).toThrow(/bound/);
  });
});
