import { describe, expect, it } from 'vitest';
import {
  addSummaries,
  effectiveSampleSize,
  proportionSummary,
  summarize,
  summaryFromWeighted,
  summaryMean,
  summaryVariance,
  welchTTest,
} from '../../../src/stats/index.js';
import { seededRandom } from './helpers.js';

describe('summaries', () => {
  it('computes mean and unbiased variance from sufficient statistics', () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(summaryMean(s)).toBe(5);
    expect(summaryVariance(s)).toBeCloseTo(32 / 7, 12);
    expect(addSummaries(summarize([2, 4, 4, 4]), summarize([5, 5, 7, 9]))).toEqual(s);
  });

  it('represents a rate as the mean of 0/1 indicators', () => {
    const s = proportionSummary(30, 150);
    expect(summaryMean(s)).toBeCloseTo(0.2, 15);
    // scipy ttest_ind_from_stats docstring: the corrected sample variance of 30 ones in 150 is printed 0.161073
    // (0.16107382… truncated to 6 decimals)
    expect(Math.abs(summaryVariance(s) - 0.161073)).toBeLessThan(1e-6);
    expect(() => proportionSummary(5, 4)).toThrow(/exceed/);
  });

  it('weights by sample rate without inflating precision: equal rates give the unweighted summary', () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6];
    const rate = 20;
    const aggregate = {
      rows: values.length,
      weight: rate * values.length,
      weightSquares: rate * rate * values.length,
      sum: rate * values.reduce((a, b) => a + b, 0),
      sumSquares: rate * values.reduce((a, b) => a + b * b, 0),
    };
    const weighted = summaryFromWeighted(aggregate);
    const plain = summarize(values);
    expect(weighted.n).toBeCloseTo(plain.n, 12);
    expect(summaryMean(weighted)).toBeCloseTo(summaryMean(plain), 12);
    expect(summaryVariance(weighted)).toBeCloseTo(summaryVariance(plain), 10);
    // without weightSquares, equal weights are assumed
    const { weightSquares: _unused, ...withoutSquares } = aggregate;
    expect(summaryFromWeighted(withoutSquares)).toEqual(weighted);
  });

  it("uses Kish's effective sample size and the weighted mean when rates vary", () => {
    // one row stands for 1 event with value 10, one row stands for 3 events with value 2
    const aggregate = { rows: 2, weight: 4, weightSquares: 10, sum: 10 + 3 * 2, sumSquares: 100 + 3 * 4 };
    expect(effectiveSampleSize(aggregate)).toBeCloseTo(1.6, 12);
    const s = summaryFromWeighted(aggregate);
    expect(summaryMean(s)).toBeCloseTo(4, 12);
    expect(s.n).toBeCloseTo(1.6, 12);
  });

  it('gives the same comparison for 10% sampled data as for the rows it kept', () => {
    const keptA = [10, 12, 11, 13, 9, 10, 12, 11];
    const keptB = [12, 14, 13, 15, 11, 12, 14, 13];
    const weighted = (values: number[]) =>
      summaryFromWeighted({
        rows: values.length,
        weight: 10 * values.length,
        sum: 10 * values.reduce((a, b) => a + b, 0),
        sumSquares: 10 * values.reduce((a, b) => a + b * b, 0),
      });
    const fromWeighted = welchTTest(weighted(keptA), weighted(keptB));
    const fromRows = welchTTest(summarize(keptA), summarize(keptB));
    expect(fromWeighted.pValue).toBeCloseTo(fromRows.pValue, 10);
    expect(fromWeighted.ci[0]).toBeCloseTo(fromRows.ci[0], 10);
  });

  it('rejects negative counts and empty aggregates become empty summaries', () => {
    expect(() => summaryFromWeighted({ rows: -1, weight: 1, sum: 0, sumSquares: 0 })).toThrow(/negative/);
    expect(summaryFromWeighted({ rows: 0, weight: 0, sum: 0, sumSquares: 0 })).toEqual({ n: 0, sum: 0, sumSquares: 0 });
  });
});

describe('sample-rate weighting in simulation', () => {
  it('keeps the false-positive rate at alpha with mixed sample rates, where counting weighted events as units does not', () => {
    const random = seededRandom(8);
    const runs = 1000;
    let withEffectiveN = 0;
    let withWeightedCount = 0;
    const aggregate = () => {
      const agg = { rows: 0, weight: 0, weightSquares: 0, sum: 0, sumSquares: 0 };
      for (let i = 0; i < 400; i++) {
        const w = random.uniform() < 0.5 ? 1 : 20; // half the rows were kept 1-in-20
        const x = 100 + 15 * random.normal();
        agg.rows += 1;
        agg.weight += w;
        agg.weightSquares += w * w;
        agg.sum += w * x;
        agg.sumSquares += w * x * x;
      }
      return agg;
    };
    for (let run = 0; run < runs; run++) {
      const a = aggregate();
      const b = aggregate();
      if (welchTTest(summaryFromWeighted(a), summaryFromWeighted(b)).pValue < 0.05) withEffectiveN++;
      const naive = (agg: typeof a) => ({ n: agg.weight, sum: agg.sum, sumSquares: agg.sumSquares });
      if (welchTTest(naive(a), naive(b)).pValue < 0.05) withWeightedCount++;
    }
    const bound = 0.05 + 3 * Math.sqrt((0.05 * 0.95) / runs);
    expect(withEffectiveN / runs).toBeLessThanOrEqual(bound);
    expect(withWeightedCount / runs).toBeGreaterThan(0.3);
  });
});
