import { describe, expect, it } from 'vitest';
import {
  type InteractionCells,
  type Summary,
  interactionTest,
  proportionSummary,
  sequentialInteractionTest,
  studentTQuantile,
  summarize,
  summaryMean,
  summaryVariance,
} from '../../../src/stats/index.js';
import { seededRandom } from './helpers.js';

function normalCell(random: ReturnType<typeof seededRandom>, n: number, mean: number): Summary {
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const x = mean + random.normal();
    sum += x;
    sumSquares += x * x;
  }
  return { n, sum, sumSquares };
}

describe('interactionTest', () => {
  it('computes the difference-in-differences, its standard error and Welch–Satterthwaite df by definition', () => {
    const cells: InteractionCells = {
      neither: summarize([1, 2, 3, 4]),
      firstOnly: summarize([2, 3, 4, 6]),
      secondOnly: summarize([1, 1, 2, 3, 3]),
      both: summarize([5, 6, 8, 9, 10, 12]),
    };
    const parts = Object.values(cells).map((c) => ({ mean: summaryMean(c), v: summaryVariance(c) / c.n, n: c.n }));
    const [n00, n10, n01, n11] = parts as [(typeof parts)[0], (typeof parts)[0], (typeof parts)[0], (typeof parts)[0]];
    const effect = n11.mean - n01.mean - (n10.mean - n00.mean);
    const variance = parts.reduce((s, p) => s + p.v, 0);
    const df = variance ** 2 / parts.reduce((s, p) => s + p.v ** 2 / (p.n - 1), 0);
    const result = interactionTest(cells);
    expect(result.effect).toBeCloseTo(effect, 12);
    expect(result.se).toBeCloseTo(Math.sqrt(variance), 12);
    const halfWidth = studentTQuantile(0.975, df) * Math.sqrt(variance);
    expect(result.ci[0]).toBeCloseTo(effect - halfWidth, 10);
    expect(result.ci[1]).toBeCloseTo(effect + halfWidth, 10);
  });

  it('keeps its false-positive rate at alpha when the flags add up (no interaction)', () => {
    const random = seededRandom(11);
    const runs = 400;
    let rejections = 0;
    for (let run = 0; run < runs; run++) {
      const cells = {
        neither: normalCell(random, 300, 10),
        firstOnly: normalCell(random, 300, 11),
        secondOnly: normalCell(random, 300, 12.5),
        both: normalCell(random, 300, 13.5),
      };
      if (interactionTest(cells).pValue < 0.05) rejections++;
    }
    expect(rejections / runs).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / runs));
  });

  it('multiplicative: error rates that multiply show no interaction, a combination that breaks shows one', () => {
    const n = 50_000;
    const base = {
      neither: proportionSummary(0.02 * n, n),
      firstOnly: proportionSummary(0.024 * n, n),
      secondOnly: proportionSummary(0.022 * n, n),
    };
    const multiplying = sequentialInteractionTest({ ...base, both: proportionSummary(0.02 * 1.2 * 1.1 * n, n) }, { relative: true });
    expect(multiplying.effect).toBeCloseTo(0, 10);
    expect(multiplying.pValue).toBe(1);
    const breaking = sequentialInteractionTest({ ...base, both: proportionSummary(0.04 * n, n) }, { relative: true });
    expect(breaking.effect).toBeCloseTo(0.04 / (0.02 * 1.2 * 1.1) - 1, 10);
    expect(breaking.pValue).toBeLessThan(0.001);
    expect(breaking.ci[0]).toBeGreaterThan(0);
  });

  it('the sequential version is wider than the fixed-horizon one and agrees on direction', () => {
    const random = seededRandom(5);
    const cells = {
      neither: normalCell(random, 2000, 10),
      firstOnly: normalCell(random, 2000, 10),
      secondOnly: normalCell(random, 2000, 10),
      both: normalCell(random, 2000, 10.5),
    };
    const fixed = interactionTest(cells);
    const sequential = sequentialInteractionTest(cells);
    expect(sequential.ci[1] - sequential.ci[0]).toBeGreaterThan(fixed.ci[1] - fixed.ci[0]);
    expect(sequential.effect).toBe(fixed.effect);
    expect(sequential.pValue).toBeLessThan(0.05);
  });

  it('is undefined when a cell has fewer than two units, and validates its input', () => {
    const one = summarize([1]);
    const two = summarize([1, 2]);
    expect(interactionTest({ neither: one, firstOnly: two, secondOnly: two, both: two }).pValue).toBe(1);
    expect(() => interactionTest({ neither: two, firstOnly: two, secondOnly: two } as InteractionCells)).toThrow(/missing/);
  });
});
