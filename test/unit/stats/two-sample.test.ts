import { describe, expect, it } from 'vitest';
import { proportionSummary, sequentialRho, sequentialTest, summarize, twoProportionTest, welchTTest } from '../../../src/stats/index.js';
import { expectPublished, expectSignificant } from './helpers.js';

// GrowthBook gbstats, packages/stats/tests/frequentist/test_tests.py (growthbook/growthbook):
// SampleMeanStatistic(sum=1396.87, sum_squares=52377.9767, n=3407) vs (2422.7, 134698.29, 3461).
const gbControl = { n: 3407, sum: 1396.87, sumSquares: 52377.9767 };
const gbTreatment = { n: 3461, sum: 2422.7, sumSquares: 134698.29 };
// Same sums with n=3000 for the control, used by gbstats' TestSequentialTTest.
const gbSequentialControl = { n: 3000, sum: 1396.87, sumSquares: 52377.9767 };

describe('welchTTest', () => {
  it('matches scipy ttest_ind(equal_var=False), checked against R, on a=(1,2,3), b=(1.1,2.9,4.2)', () => {
    // scipy/stats/tests/test_stats.py::test_ttest_ind_with_uneq_var (values from R's t.test):
    // t = -0.68649512735572582, p = 0.53619490753126731 for ttest_ind(a, b, equal_var=False).
    const a = summarize([1, 2, 3]);
    const b = summarize([1.1, 2.9, 4.2]);
    const result = welchTTest(a, b);
    // our effect is mean(b) − mean(a), scipy's statistic is (mean(a) − mean(b)) / se
    expectSignificant(-result.effect / result.se, -0.68649512735572582, 10);
    expectSignificant(result.pValue, 0.53619490753126731, 10);
  });

  it('matches scipy/R for a=(1,2,3,4), b=(1.1,2.9,4.2)', () => {
    // same scipy test: t = -0.2108663315950719, p = 0.84354139131608286
    const result = welchTTest(summarize([1, 2, 3, 4]), summarize([1.1, 2.9, 4.2]));
    expectSignificant(-result.effect / result.se, -0.2108663315950719, 10);
    expectSignificant(result.pValue, 0.84354139131608286, 10);
  });

  it('matches GrowthBook TwoSidedTTest, absolute (test_two_sided_ttest_absolute)', () => {
    // expected=0.29, ci=(0.04538, 0.53462), stddev=0.12478, pValue=0.02016 (5 decimals)
    const result = welchTTest(gbControl, gbTreatment);
    expectPublished(result.effect, 0.29, 5);
    expectPublished(result.ci[0], 0.04538, 5);
    expectPublished(result.ci[1], 0.53462, 5);
    expectPublished(result.se, 0.12478, 5);
    expectPublished(result.pValue, 0.02016, 5);
  });

  it('matches GrowthBook TwoSidedTTest, relative with the delta method (test_two_sided_ttest)', () => {
    // expected=0.70732, ci=(-0.03526, 1.44989), stddev=0.37879, pValue=0.06191
    const result = welchTTest(gbControl, gbTreatment, { relative: true });
    expectPublished(result.effect, 0.70732, 5);
    expectPublished(result.ci[0], -0.03526, 5);
    expectPublished(result.ci[1], 1.44989, 5);
    expectPublished(result.se, 0.37879, 5);
    expectPublished(result.pValue, 0.06191, 5);
  });

  it('reports an undefined comparison when an arm has fewer than two units', () => {
    const result = welchTTest({ n: 1, sum: 3, sumSquares: 9 }, gbTreatment);
    expect(result.pValue).toBe(1);
    expect(Number.isNaN(result.se)).toBe(true);
    expect(result.ci).toEqual([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]);
  });

  it('treats two arms without any variation as certain: equal means p = 1, different means p = 0', () => {
    const noErrors = { n: 1000, sum: 0, sumSquares: 0 };
    expect(welchTTest(noErrors, noErrors)).toEqual({ effect: 0, se: 0, ci: [0, 0], pValue: 1 });
    expect(sequentialTest(noErrors, noErrors)).toEqual({ effect: 0, se: 0, ci: [0, 0], pValue: 1 });
    const allErrors = { n: 1000, sum: 1000, sumSquares: 1000 };
    expect(welchTTest(noErrors, allErrors).pValue).toBe(0);
  });

  it('rejects invalid summaries and alpha', () => {
    expect(() => welchTTest({ n: -1, sum: 0, sumSquares: 0 }, gbTreatment)).toThrow(/must not be negative/);
    expect(() => welchTTest(gbControl, gbTreatment, { alpha: 1.5 })).toThrow(/alpha/);
  });
});

describe('sequentialTest', () => {
  it('derives rho as in eq. 161 of Waudby-Smith et al.', () => {
    const logAlpha = Math.log(0.05);
    expect(sequentialRho(0.05, 5000)).toBeCloseTo(Math.sqrt((-2 * logAlpha + Math.log(-2 * logAlpha + 1)) / 5000), 14);
  });

  it('matches GrowthBook SequentialTwoSidedTTest with tuning 1000 (test_sequential_test_runs)', () => {
    // expected=0.50336, ci=(-0.55844, 1.56516), uplift stddev=0.33341, pValue=1
    const result = sequentialTest(gbSequentialControl, gbTreatment, { relative: true, tuning: 1000 });
    expectPublished(result.effect, 0.50336, 5);
    expectPublished(result.ci[0], -0.55844, 5);
    expectPublished(result.ci[1], 1.56516, 5);
    expectPublished(result.se, 0.33341, 5);
    expect(result.pValue).toBe(1);
  });

  it('matches GrowthBook SequentialTwoSidedTTest on proportions with the default tuning (test_sequential_test_runs_prop)', () => {
    // ProportionStatistic(sum=1396, n=3000) vs (2422, 3461): expected=0.50386, ci=(0.40098, 0.60675),
    // stddev=0.03386, pValue=0.0 (5 decimals)
    const result = twoProportionTest({ n: 3000, successes: 1396 }, { n: 3461, successes: 2422 }, { relative: true });
    expectPublished(result.effect, 0.50386, 5);
    expectPublished(result.ci[0], 0.40098, 5);
    expectPublished(result.ci[1], 0.60675, 5);
    expectPublished(result.se, 0.03386, 5);
    expectPublished(result.pValue, 0, 5);
  });

  it('gives nearly the same answer on 0/1 summaries (n − 1 variance)', () => {
    const result = sequentialTest(proportionSummary(1396, 3000), proportionSummary(2422, 3461), { relative: true });
    expect(result.effect).toBeCloseTo(0.50386, 5);
    expect(result.ci[0]).toBeCloseTo(0.40098, 3);
    expect(result.ci[1]).toBeCloseTo(0.60675, 3);
  });

  it("equals Johari et al.'s normal-mixture mSPRT with mixing variance τ² = σ²ρ²", () => {
    // mSPRT (Johari, Koomen, Pekelis, Walsh 2022, eq. for normal data): Λ = √(V/(V+τ²))·exp(τ²θ̂²/(2V(V+τ²))),
    // with V = se² of the difference; always-valid p = min(1, 1/Λ).
    for (const [a, b] of [
      [gbSequentialControl, gbTreatment],
      [
        { n: 20_000, sum: 400, sumSquares: 400 },
        { n: 20_000, sum: 480, sumSquares: 480 },
      ],
    ] as const) {
      const result = sequentialTest(a, b);
      const n = a.n + b.n;
      const v = result.se ** 2;
      const tau2 = v * n * sequentialRho(0.05, 5000) ** 2;
      const lambda = Math.sqrt(v / (v + tau2)) * Math.exp((tau2 * result.effect ** 2) / (2 * v * (v + tau2)));
      expect(result.pValue).toBeCloseTo(Math.min(1, 1 / lambda), 12);
    }
  });

  it('is tightest near the tuning sample size (test_sequential_test_tuning_as_expected)', () => {
    const width = (tuning: number): number => {
      const r = sequentialTest(gbSequentialControl, gbTreatment, { relative: true, tuning });
      return r.ci[1] - r.ci[0];
    };
    expect(width(10)).toBeGreaterThan(width(10000));
    expect(width(10000)).toBeGreaterThan(width(6461));
  });

  it('is wider than the fixed-horizon interval and its p-value crosses alpha exactly when the interval excludes 0', () => {
    const fixed = welchTTest(gbControl, gbTreatment);
    const sequential = sequentialTest(gbControl, gbTreatment);
    expect(sequential.ci[1] - sequential.ci[0]).toBeGreaterThan(fixed.ci[1] - fixed.ci[0]);
    for (const scale of [0.5, 1, 2, 3, 4, 6]) {
      const b = { n: gbTreatment.n * scale, sum: gbTreatment.sum * scale, sumSquares: gbTreatment.sumSquares * scale };
      const a = { n: gbControl.n * scale, sum: gbControl.sum * scale, sumSquares: gbControl.sumSquares * scale };
      const r = sequentialTest(a, b);
      expect(r.pValue < 0.05).toBe(r.ci[0] > 0 || r.ci[1] < 0);
    }
  });
});
