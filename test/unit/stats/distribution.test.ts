import { describe, expect, it } from 'vitest';
import { contingencyTest, histogramRankTest, mannWhitneyU } from '../../../src/stats/index.js';
import { expectSignificant, seededRandom } from './helpers.js';

describe('contingencyTest', () => {
  it('matches scipy chi2_contingency on the 2×3 docstring example', () => {
    // chi2_contingency([[10, 10, 20], [20, 20, 20]]) -> statistic 2.7777777777777777, pvalue 0.24935220877729619, dof 2
    const result = contingencyTest([
      [10, 10, 20],
      [20, 20, 20],
    ]);
    expectSignificant(result.chiSquare, 2.7777777777777777, 12);
    expectSignificant(result.pValue, 0.24935220877729619, 12);
    expect(result.df).toBe(2);
  });

  it("matches scipy chi2_contingency on the aspirin 2×2 example, with Yates' correction", () => {
    // scipy docstring (aspirin vs placebo, ischemic stroke): table [[176, 230], [21035, 21018]]
    // -> statistic 6.892569132546561, pvalue 0.008655478161175739
    const result = contingencyTest([
      [176, 230],
      [21035, 21018],
    ]);
    expectSignificant(result.chiSquare, 6.892569132546561, 12);
    expectSignificant(result.pValue, 0.008655478161175739, 10);
    expect(result.df).toBe(1);
  });

  it('drops empty rows and columns, and gives p = 1 when nothing is left to compare', () => {
    const withEmpty = contingencyTest([
      [10, 0, 10, 20],
      [20, 0, 20, 20],
      [0, 0, 0, 0],
    ]);
    expect(withEmpty.chiSquare).toBeCloseTo(2.7777777777777777, 12);
    expect(contingencyTest([[5, 7]]).pValue).toBe(1);
  });
});

describe('histogramRankTest', () => {
  it('equals the tie-corrected Mann–Whitney test on the bucketed values', () => {
    const random = seededRandom(3);
    const buckets = 12;
    const x = Array.from({ length: buckets }, () => Math.floor(random.uniform() * 30));
    const y = Array.from({ length: buckets }, (_, b) => Math.floor(random.uniform() * 30) + (b > 6 ? 10 : 0));
    const expand = (counts: number[]) => counts.flatMap((count, bucket) => Array.from({ length: count }, () => bucket));
    for (const alternative of ['two-sided', 'less', 'greater'] as const) {
      const fromHistogram = histogramRankTest(x, y, { alternative });
      const fromValues = mannWhitneyU(expand(x), expand(y), { alternative, method: 'asymptotic' });
      expect(fromHistogram.u).toBeCloseTo(fromValues.u, 9);
      expect(fromHistogram.pValue).toBeCloseTo(fromValues.pValue, 12);
    }
    const result = histogramRankTest(x, y);
    expect(result.probabilityOfSuperiority).toBeCloseTo(result.u / (x.reduce((a, b) => a + b) * y.reduce((a, b) => a + b)), 12);
    expect(result.probabilityOfSuperiority).toBeLessThan(0.5);
  });

  it('is undefined for an empty side and rejects mismatched buckets', () => {
    expect(histogramRankTest([0, 0], [1, 2]).pValue).toBe(1);
    expect(() => histogramRankTest([1], [1, 2])).toThrow(/same buckets/);
  });
});
