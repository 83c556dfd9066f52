import { invalidInput } from '../errors.js';
import { normalQuantile, normalSf, studentTQuantile, studentTSf } from './special.js';
import { type Summary, summaryMean, summaryVariance } from './summary.js';
import { requireAlpha, requireFinite, requireNonNegative } from './validate.js';

/**
 * The result of comparing a treatment with a control: the estimated `effect`
 * (treatment − control, or relative to control), its standard error `se`, a
 * two-sided confidence interval `ci` at level 1 − alpha and a two-sided
 * `pValue`. When a comparison is not defined (an arm with fewer than two
 * units, or a relative effect over a control mean of 0) `se` is NaN, `ci` is
 * [−∞, +∞] and `pValue` is 1.
 */
export interface ComparisonResult {
  effect: number;
  se: number;
  ci: [number, number];
  pValue: number;
}

/** Options of {@link welchTTest}. */
export interface WelchOptions {
  /** Report (mean(b) − mean(a)) / mean(a) with a delta-method standard error instead of mean(b) − mean(a). */
  relative?: boolean;
  /** 1 − confidence level of `ci`; default 0.05. */
  alpha?: number;
}

/** Options of {@link sequentialTest}. */
export interface SequentialOptions extends WelchOptions {
  /**
   * The total sample size (both arms together) at which the confidence
   * sequence is tightest; default 5,000, as GrowthBook's "sequential tuning
   * parameter".
   */
  tuning?: number;
}

/** Default sequential tuning parameter (total sample size at which the sequence is narrowest). */
export const DEFAULT_SEQUENTIAL_TUNING = 5000;

/** An asymptotically normal estimate of a difference: value, standard error, Welch–Satterthwaite degrees of freedom and total units. */
export interface DifferenceEstimate {
  effect: number;
  se: number;
  df: number;
  n: number;
}

function validateSummary(s: Summary, name: string): void {
  if (s === null || typeof s !== 'object') throw invalidInput(`${name} must be a { n, sum, sumSquares } summary`);
  requireNonNegative(s.n, `${name}.n`);
  requireFinite(s.sum, `${name}.sum`);
  requireNonNegative(s.sumSquares, `${name}.sumSquares`);
}

/**
 * Difference of means of two summaries (control `a`, treatment `b`), absolute
 * or relative to the control mean, with its standard error (delta method for
 * the relative case: Var(b̄/ā) ≈ Var(b̄)/ā² + b̄²·Var(ā)/ā⁴) and the
 * Welch–Satterthwaite degrees of freedom of the absolute difference. Returns
 * NaN fields when the difference is not defined.
 */
export function estimateDifference(a: Summary, b: Summary, relative = false): DifferenceEstimate {
  validateSummary(a, 'control');
  validateSummary(b, 'treatment');
  const n = a.n + b.n;
  const meanA = summaryMean(a);
  const meanB = summaryMean(b);
  const varianceA = summaryVariance(a);
  const varianceB = summaryVariance(b);
  const seSquaredA = varianceA / a.n;
  const seSquaredB = varianceB / b.n;
  const df = (seSquaredA + seSquaredB) ** 2 / ((seSquaredA * seSquaredA) / (a.n - 1) + (seSquaredB * seSquaredB) / (b.n - 1));
  if (!relative) {
    return { effect: meanB - meanA, se: Math.sqrt(seSquaredA + seSquaredB), df, n };
  }
  if (meanA === 0 || !Number.isFinite(meanA)) return { effect: Number.NaN, se: Number.NaN, df, n };
  const effect = (meanB - meanA) / meanA;
  const variance = seSquaredB / (meanA * meanA) + (seSquaredA * meanB * meanB) / meanA ** 4;
  return { effect, se: Math.sqrt(variance), df, n };
}

function undefinedResult(effect: number): ComparisonResult {
  return { effect, se: Number.NaN, ci: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], pValue: 1 };
}

function degenerateResult(effect: number): ComparisonResult {
  // Zero standard error: no sampling noise at all; a non-zero effect is certain.
  return { effect, se: 0, ci: [effect, effect], pValue: effect === 0 ? 1 : 0 };
}

/**
 * Fixed-horizon interval and p-value for an estimate with standard error `se`,
 * using Student's t with `df` degrees of freedom (a normal reference when `df`
 * is infinite).
 */
export function fixedHorizonInterval(effect: number, se: number, df: number, alpha = 0.05): ComparisonResult {
  requireAlpha(alpha);
  if (se === 0 && Number.isFinite(effect)) return degenerateResult(effect);
  if (!Number.isFinite(effect) || !Number.isFinite(se) || !(df > 0)) return undefinedResult(effect);
  const critical = df === Number.POSITIVE_INFINITY ? normalQuantile(1 - alpha / 2) : studentTQuantile(1 - alpha / 2, df);
  const statistic = Math.abs(effect / se);
  const tail = df === Number.POSITIVE_INFINITY ? normalSf(statistic) : studentTSf(statistic, df);
  return { effect, se, ci: [effect - critical * se, effect + critical * se], pValue: Math.min(1, 2 * tail) };
}

/**
 * Welch's unequal-variance t-test of treatment `b` against control `a` from
 * their summaries: effect mean(b) − mean(a) (or relative to mean(a) with a
 * delta-method standard error), Welch–Satterthwaite degrees of freedom, a
 * two-sided t interval and p-value. Equivalent to scipy's
 * `ttest_ind(b, a, equal_var=False)` (absolute) and to GrowthBook's
 * `TwoSidedTTest` (relative). Valid for one look at the data only; use
 * {@link sequentialTest} when results are watched as they arrive.
 */
export function welchTTest(a: Summary, b: Summary, options: WelchOptions = {}): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  requireAlpha(alpha);
  const estimate = estimateDifference(a, b, options.relative ?? false);
  if (a.n < 2 || b.n < 2) return undefinedResult(estimate.effect);
  return fixedHorizonInterval(estimate.effect, estimate.se, estimate.df, alpha);
}

/**
 * The mixing parameter ρ of the normal-mixture confidence sequence that makes
 * it tightest at `tuning` total units (Waudby-Smith et al., "Time-uniform
 * central limit theory and asymptotic confidence sequences", eq. 161):
 * ρ² = (−2 ln α + ln(1 − 2 ln α)) / tuning.
 */
export function sequentialRho(alpha: number, tuning: number): number {
  requireAlpha(alpha);
  if (!(tuning > 0) || !Number.isFinite(tuning)) {
    throw invalidInput(
      `tuning must be a positive number of units, got ${String(tuning)}`,
      'use the total sample size you expect, e.g. 5000',
    );
  }
  const logAlpha = Math.log(alpha);
  return Math.sqrt((-2 * logAlpha + Math.log(1 - 2 * logAlpha)) / tuning);
}

/**
 * Always-valid interval and p-value for an asymptotically normal estimate
 * `effect` with standard error `se` after `n` total units: the two-sided
 * normal-mixture confidence sequence (Waudby-Smith et al., eq. 9), with the
 * per-unit variance taken as se²·n, and the p-value 1/E of its mixture
 * e-value E = exp(ρ²·n·effect² / (2·se²·(nρ²+1))) / √(nρ²+1), capped at 1.
 * `p < alpha` exactly when `ci` excludes 0, at every look.
 */
export function alwaysValidInterval(
  effect: number,
  se: number,
  n: number,
  options: { alpha?: number; tuning?: number } = {},
): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  const rho = sequentialRho(alpha, options.tuning ?? DEFAULT_SEQUENTIAL_TUNING);
  if (!Number.isFinite(effect) || !Number.isFinite(se) || !(n > 0)) return undefinedResult(effect);
  if (se === 0) return degenerateResult(effect);
  const nRho2 = n * rho * rho;
  const halfWidth = se * Math.sqrt((2 * (nRho2 + 1) * Math.log(Math.sqrt(nRho2 + 1) / alpha)) / nRho2);
  const logEValue = (nRho2 * effect * effect) / (2 * se * se * (nRho2 + 1)) - 0.5 * Math.log(nRho2 + 1);
  const pValue = Math.min(1, Math.exp(-logEValue));
  return { effect, se, ci: [effect - halfWidth, effect + halfWidth], pValue };
}

/**
 * Always-valid (peeking-safe) comparison of treatment `b` against control `a`:
 * the normal-mixture confidence sequence of Waudby-Smith et al. (2023),
 * parameterised as GrowthBook's `SequentialTwoSidedTTest` — ρ from `alpha` and
 * `tuning` (total units at which the sequence is tightest, default 5,000),
 * per-unit variance se²·(n_a + n_b), p-value from the mixture e-value. The
 * p-value and interval stay valid however often they are recomputed while
 * data arrives.
 */
export function sequentialTest(a: Summary, b: Summary, options: SequentialOptions = {}): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  requireAlpha(alpha);
  const tuning = options.tuning ?? DEFAULT_SEQUENTIAL_TUNING;
  sequentialRho(alpha, tuning);
  const estimate = estimateDifference(a, b, options.relative ?? false);
  if (a.n < 2 || b.n < 2) return undefinedResult(estimate.effect);
  return alwaysValidInterval(estimate.effect, estimate.se, estimate.n, { alpha, tuning });
}

/** A rate in one cohort: `successes` out of `n` units. */
export interface ProportionCounts {
  n: number;
  successes: number;
}

/** Options of {@link twoProportionTest}. */
export interface TwoProportionOptions extends SequentialOptions {
  /** Use the always-valid confidence sequence (default) or a fixed-horizon z-test. */
  sequential?: boolean;
}

/**
 * Compares two rates (control `a`, treatment `b`) with the Bernoulli variance
 * p(1 − p) per unit (the unpooled Wald form, as GrowthBook's
 * `ProportionStatistic`): always-valid by default, or a fixed-horizon normal
 * test with `sequential: false`. For rates, {@link sequentialTest} on
 * `{ n, sum: successes, sumSquares: successes }` gives nearly the same answer
 * (it uses the n − 1 variance).
 */
export function twoProportionTest(a: ProportionCounts, b: ProportionCounts, options: TwoProportionOptions = {}): ComparisonResult {
  const alpha = options.alpha ?? 0.05;
  requireAlpha(alpha);
  for (const [name, arm] of [
    ['control', a],
    ['treatment', b],
  ] as const) {
    requireNonNegative(arm.n, `${name}.n`);
    requireNonNegative(arm.successes, `${name}.successes`);
    if (arm.successes > arm.n) throw invalidInput(`${name}.successes (${arm.successes}) exceed ${name}.n (${arm.n})`);
  }
  const rateA = a.successes / a.n;
  const rateB = b.successes / b.n;
  const relative = options.relative ?? false;
  let effect = rateB - rateA;
  if (relative) effect = rateA === 0 ? Number.NaN : (rateB - rateA) / rateA;
  if (a.n < 1 || b.n < 1 || Number.isNaN(effect)) return undefinedResult(effect);
  const seSquaredA = (rateA * (1 - rateA)) / a.n;
  const seSquaredB = (rateB * (1 - rateB)) / b.n;
  const se = relative
    ? Math.sqrt(seSquaredB / (rateA * rateA) + (seSquaredA * rateB * rateB) / rateA ** 4)
    : Math.sqrt(seSquaredA + seSquaredB);
  if (options.sequential === false) return fixedHorizonInterval(effect, se, Number.POSITIVE_INFINITY, alpha);
  return alwaysValidInterval(effect, se, a.n + b.n, { alpha, tuning: options.tuning ?? DEFAULT_SEQUENTIAL_TUNING });
}
