import { describe, expect, it } from 'vitest';
import {
  type QuantileHistogram,
  estimateQuantile,
  histogramFromLogBuckets,
  histogramQuantile,
  logBucketGamma,
  logBucketIndex,
  percentileTest,
} from '../../../src/stats/index.js';
import { seededRandom } from './helpers.js';

function logHistogram(values: number[], relativeAccuracy = 0.01): QuantileHistogram {
  const counts = new Map<number, number>();
  let zeroCount = 0;
  for (const value of values) {
    const index = logBucketIndex(value, relativeAccuracy);
    if (index === Number.NEGATIVE_INFINITY) zeroCount++;
    else counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  return histogramFromLogBuckets(
    [...counts].map(([index, count]) => ({ index, count })),
    { relativeAccuracy, zeroCount },
  );
}

function sampleQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('histogram quantiles', () => {
  it('interpolates linearly inside the crossing bucket', () => {
    const h = { edges: [0, 1, 2, 3, 4], counts: [1, 1, 1, 1] };
    expect(histogramQuantile(h, 0.5)).toBe(2);
    expect(histogramQuantile(h, 0.25)).toBe(1);
    expect(histogramQuantile(h, 0.1)).toBeCloseTo(0.4, 12);
    expect(histogramQuantile(h, 1)).toBe(4);
    expect(Number.isNaN(histogramQuantile({ edges: [0, 1], counts: [0] }, 0.5))).toBe(true);
  });

  it('log buckets keep every quantile within the relative accuracy of the raw sample quantile', () => {
    const random = seededRandom(7);
    const values = Array.from({ length: 20_000 }, () => Math.exp(3 + random.normal()));
    const h = logHistogram(values, 0.01);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const exact = sampleQuantile(values, q);
      expect(Math.abs(histogramQuantile(h, q) / exact - 1)).toBeLessThan(0.02);
    }
    expect(logBucketGamma(0.01)).toBeCloseTo(1.01 / 0.99, 15);
  });

  it('puts values ≤ 0 in a zero bucket', () => {
    const h = logHistogram([0, 0, 0, 0, 5, 6]);
    expect(histogramQuantile(h, 0.5)).toBe(0);
    expect(histogramQuantile(h, 0.9)).toBeGreaterThan(4.9);
  });
});

describe('estimateQuantile', () => {
  it('matches the asymptotic standard error of a sample quantile, √(q(1−q)/n)/f(ξ_q)', () => {
    // For Exp(1), ξ_0.95 = −ln 0.05 and f(ξ) = 0.05, so with n = 10,000 the textbook asymptotic
    // standard error (Serfling 1980, Thm 2.3.3.A) is √(0.95·0.05/10⁴)/0.05 = 0.0435890.
    const n = 10_000;
    const edges = Array.from({ length: 2001 }, (_, i) => i * 0.01);
    const counts = edges.slice(1).map((upper, i) => n * (Math.exp(-edges[i]!) - Math.exp(-upper)));
    const estimate = estimateQuantile({ edges, counts, effectiveCount: n }, 0.95);
    expect(estimate.value).toBeCloseTo(-Math.log(0.05), 2);
    expect(Math.abs(estimate.se / (Math.sqrt((0.95 * 0.05) / n) / 0.05) - 1)).toBeLessThan(0.02);
  });

  it('scales with the effective count, not the weighted count', () => {
    const h = { edges: [0, 1, 2, 3, 4], counts: [100, 100, 100, 100] };
    const weighted = estimateQuantile({ ...h, counts: h.counts.map((c) => c * 10), effectiveCount: 400 }, 0.5);
    const plain = estimateQuantile(h, 0.5);
    expect(weighted.se).toBeCloseTo(plain.se, 12);
  });
});

describe('percentileTest', () => {
  it('holds its false-positive rate at alpha on A/A data (fixed horizon, one look)', () => {
    const random = seededRandom(2024);
    const runs = 400;
    let rejectionsAbsolute = 0;
    let rejectionsRelative = 0;
    for (let run = 0; run < runs; run++) {
      const a = logHistogram(Array.from({ length: 2000 }, () => Math.exp(4 + 0.6 * random.normal())));
      const b = logHistogram(Array.from({ length: 2000 }, () => Math.exp(4 + 0.6 * random.normal())));
      if (percentileTest(a, b, 0.95, { sequential: false }).pValue < 0.05) rejectionsAbsolute++;
      if (percentileTest(a, b, 0.95, { sequential: false, relative: true }).pValue < 0.05) rejectionsRelative++;
    }
    const monteCarloSe = Math.sqrt((0.05 * 0.95) / runs);
    expect(rejectionsAbsolute / runs).toBeLessThanOrEqual(0.05 + 3 * monteCarloSe);
    expect(rejectionsRelative / runs).toBeLessThanOrEqual(0.05 + 3 * monteCarloSe);
    // and not uselessly conservative
    expect(rejectionsAbsolute / runs).toBeGreaterThanOrEqual(0.01);
  });

  it('finds a 20% slower P95 with the always-valid interval', () => {
    const random = seededRandom(99);
    const a = logHistogram(Array.from({ length: 20_000 }, () => Math.exp(4 + 0.6 * random.normal())));
    const b = logHistogram(Array.from({ length: 20_000 }, () => 1.2 * Math.exp(4 + 0.6 * random.normal())));
    const result = percentileTest(a, b, 0.95, { relative: true });
    expect(result.pValue).toBeLessThan(0.05);
    expect(result.ci[0]).toBeGreaterThan(0);
    expect(result.ci[0]).toBeLessThan(0.2);
    expect(result.ci[1]).toBeGreaterThan(0.2);
    expect(result.effect).toBeGreaterThan(0.1);
  });

  it('is undefined for empty cohorts and rejects bad quantiles', () => {
    const empty = { edges: [0, 1], counts: [0] };
    const some = { edges: [0, 1], counts: [10] };
    expect(percentileTest(empty, some, 0.5, { relative: true }).pValue).toBe(1);
    expect(() => percentileTest(some, some, 1.5)).toThrow(/quantile/);
  });
});
