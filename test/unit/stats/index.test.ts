import { describe, expect, it } from 'vitest';
import * as stats from '../../../src/stats/index.js';

/** Behaviour through the published entry (`flagscope/stats`), on cases whose answers are worked out by hand. */
describe('flagscope/stats entry point', () => {
  it('runs the example of its documentation', () => {
    const control = { n: 50_000, sum: 1_000, sumSquares: 1_000 };
    const canary = { n: 50_000, sum: 1_200, sumSquares: 1_200 };
    const result = stats.sequentialTest(control, canary, { relative: true });
    expect(result.effect).toBeCloseTo(0.2, 12);
    expect(result.pValue).toBeLessThan(0.05);
    const [q] = stats.adjustPValues([result.pValue], 'bh');
    expect(stats.verdict({ effect: result.effect, qValue: q!, direction: 'lower-is-better', sampleSize: 50_000 })).toBe('worse');
  });

  it('srmTest: a 60/40 split of 1,000 against 50/50 is chi-square 40 on 1 df; an exact split is p = 1', () => {
    const skewed = stats.srmTest([600, 400], [1, 1]);
    expect(skewed.chiSquare).toBe(40);
    expect(skewed.df).toBe(1);
    expect(skewed.pValue).toBeCloseTo(2.5396e-10, 13);
    expect(stats.srmTest([500, 500], [50, 50]).pValue).toBe(1);
  });

  it('adjustPValues: Benjamini–Hochberg and Holm on four p-values', () => {
    const p = [0.01, 0.04, 0.03, 0.005];
    // BH: sorted p·m/rank = 0.02, 0.02, 0.04, 0.04, made monotone from the top.
    expect(stats.adjustPValues(p, 'bh').map((q) => Number(q.toFixed(12)))).toEqual([0.02, 0.04, 0.04, 0.02]);
    // Holm: sorted p·(m − rank + 1) = 0.02, 0.03, 0.06, 0.04, made monotone from the bottom.
    expect(stats.adjustPValues(p, 'holm').map((q) => Number(q.toFixed(12)))).toEqual([0.03, 0.06, 0.06, 0.02]);
  });

  it('mannWhitneyU: two fully separated samples of three have U = 0 and exact two-sided p = 2/20', () => {
    const result = stats.mannWhitneyU([1, 2, 3], [4, 5, 6]);
    expect(result.u).toBe(0);
    expect(result.pValue).toBeCloseTo(0.1, 12);
  });

  it('welchTTest: means 3 and 4, variances 2.5, n = 5 each: t = 1 on 8 df', () => {
    const a = stats.summarize([1, 2, 3, 4, 5]);
    const b = stats.summarize([2, 3, 4, 5, 6]);
    expect(a).toEqual({ n: 5, sum: 15, sumSquares: 55 });
    const result = stats.welchTTest(a, b);
    expect(result.effect).toBe(1);
    expect(result.se).toBeCloseTo(1, 12);
    expect(result.pValue).toBeCloseTo(0.346594, 6);
    // t(0.975, 8) = 2.306004
    expect(result.ci[0]).toBeCloseTo(1 - 2.306004, 5);
    expect(result.ci[1]).toBeCloseTo(1 + 2.306004, 5);
  });

  it('contingencyTest: 10/100 against 30/100 with Yates correction is chi-square 11.28125', () => {
    const result = stats.contingencyTest([
      [10, 90],
      [30, 70],
    ]);
    expect(result.chiSquare).toBeCloseTo(11.28125, 10);
    expect(result.df).toBe(1);
    expect(result.pValue).toBeCloseTo(stats.chiSquareSf(11.28125, 1), 15);
  });

  it('special functions: the normal 97.5% quantile and the chi-square 5% point', () => {
    expect(stats.normalQuantile(0.975)).toBeCloseTo(1.959963985, 9);
    expect(stats.chiSquareSf(3.841458820694124, 1)).toBeCloseTo(0.05, 12);
  });

  it('checkGuard: an interval inside the tolerance passes, one wholly beyond it fails', () => {
    expect(stats.checkGuard([-0.01, 0.02], { direction: 'lower-is-better', bound: 0.05 })).toBe('pass');
    expect(stats.checkGuard([0.06, 0.09], { direction: 'lower-is-better', bound: 0.05 })).toBe('fail');
  });
});
