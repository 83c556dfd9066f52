/**
 * The canary's always-valid tests: they may be recomputed at every tick, as
 * data arrives, without inflating false alarms, because each is the reciprocal
 * of a test martingale (an e-process) and Ville's inequality bounds the chance
 * that it ever crosses 1/α by α.
 *
 * - {@link harmTest}: "the canary is worse than control by more than the
 *   tolerance", one-sided, on an asymptotically normal difference (a rate
 *   difference, a relative change of a mean or a percentile): the one-sided
 *   normal-mixture (mixture SPRT) e-value of Howard, Ramdas, McAuliffe & Sekhon
 *   (2021, Prop. 5 with a half-normal mixing distribution), in the Gaussian
 *   form of Johari et al. (2022) where the information is 1/se².
 * - {@link srmEvidence}: the sample ratio of the canary and control cohorts
 *   against the split the rollout configures, with the beta-binomial mixture
 *   likelihood ratio (the two-arm case of Lindon & Malek's Dirichlet-multinomial
 *   test, 2022), which is exact (no normal approximation) for counts of
 *   independent units.
 *
 * Pure: numbers in, numbers out.
 */
import { invalidInput } from '../errors.js';
import { logGamma, normalCdf } from '../stats/special.js';
import type { MetricDirection } from '../stats/verdict.js';

/** Input of {@link harmTest}. */
export interface HarmTestInput {
  /** Estimated difference canary − control (absolute, or relative to control). */
  effect: number;
  /** Its standard error. */
  se: number;
  /** The tolerated difference on the same scale: harm is `effect > tolerance` (lower is better) or `effect < tolerance` (higher is better). */
  tolerance: number;
  direction: MetricDirection;
  /** Level of the test; default 0.05. */
  alpha?: number;
  /**
   * Standard deviation τ of the mixing distribution over the harm beyond the
   * tolerance, on the effect's scale: the test is quickest for regressions of
   * about this size. Must be positive.
   */
  mixingScale: number;
}

/** Result of {@link harmTest}. */
export interface HarmTestResult {
  /** Standardised excess in the harmful direction: (effect − tolerance)/se, negated when higher is better. */
  z: number;
  /** The mixture e-value (≥ 0; its reciprocal is the p-value). */
  eValue: number;
  /** Always-valid one-sided p-value of "no harm beyond the tolerance", min(1, 1/e). */
  pValue: number;
  /**
   * Always-valid bounds on the difference, each one-sided at level 1 − α: the
   * test finds harm exactly when the bound on the harmful side is beyond the
   * tolerance (lower bound > tolerance for lower-is-better).
   */
  interval: [number, number];
  /** The boundary in standard errors: harm when z exceeds it. */
  boundary: number;
}

function requireAlphaValue(alpha: number): void {
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) {
    throw invalidInput(`alpha must be between 0 and 1 (exclusive), got ${String(alpha)}`, 'use e.g. 0.05');
  }
}

/** ln Φ(x), accurate far in the lower tail (Mills-ratio asymptote below −30). */
function logNormalCdf(x: number): number {
  if (x > -30) return Math.log(normalCdf(x));
  return -0.5 * x * x - Math.log(-x) - 0.5 * Math.log(2 * Math.PI);
}

/**
 * ln of the one-sided normal-mixture e-value at standardised statistic `z`
 * with information ratio `v` = τ²/se²: mixing exp(λS − λ²V/2) over λ ≥ 0 with a
 * half-normal density gives
 * E = 2/√(1+v) · exp(z²·r/2) · Φ(z·√r), r = v/(1+v).
 * E has expectation ≤ 1 under "no harm beyond the tolerance" at every look.
 */
export function oneSidedMixtureLogE(z: number, v: number): number {
  if (!(v > 0) || Number.isNaN(z)) return Number.NEGATIVE_INFINITY;
  if (v === Number.POSITIVE_INFINITY) return z === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  const r = v / (1 + v);
  return Math.LN2 - 0.5 * Math.log1p(v) + (z * z * r) / 2 + logNormalCdf(z * Math.sqrt(r));
}

/** The z at which the one-sided mixture e-value with information ratio `v` reaches 1/α (bisection; e rises with z). */
export function mixtureBoundary(v: number, alpha = 0.05): number {
  requireAlphaValue(alpha);
  if (!(v > 0) || !Number.isFinite(v)) return Number.POSITIVE_INFINITY;
  const target = -Math.log(alpha);
  let low = 0;
  let high = 1;
  while (oneSidedMixtureLogE(high, v) < target) {
    low = high;
    high *= 2;
    if (high > 1e8) return Number.POSITIVE_INFINITY;
  }
  for (let i = 0; i < 80 && high - low > 1e-10 * high; i++) {
    const middle = (low + high) / 2;
    if (oneSidedMixtureLogE(middle, v) < target) low = middle;
    else high = middle;
  }
  return high;
}

/**
 * One-sided always-valid test of "the canary is worse than control by more than
 * the tolerance". With z the standardised excess and v = τ²/se² the information
 * in units of the mixing scale, the e-value is the one-sided normal mixture
 * ({@link oneSidedMixtureLogE}) and p = min(1, 1/e). Undefined estimates (NaN,
 * a standard error of 0 or less) give p = 1 and an unbounded interval: no
 * evidence either way.
 */
export function harmTest(input: HarmTestInput): HarmTestResult {
  const alpha = input.alpha ?? 0.05;
  requireAlphaValue(alpha);
  if (!(input.mixingScale > 0) || !Number.isFinite(input.mixingScale)) {
    throw invalidInput(
      `mixing scale must be a positive number, got ${String(input.mixingScale)}`,
      'use about the size of regression to detect',
    );
  }
  if (input.direction !== 'lower-is-better' && input.direction !== 'higher-is-better') {
    throw invalidInput(`unknown direction ${JSON.stringify(input.direction)}`, "use 'lower-is-better' or 'higher-is-better'");
  }
  const { effect, se, tolerance } = input;
  if (!Number.isFinite(effect) || !Number.isFinite(se) || !(se > 0) || !Number.isFinite(tolerance)) {
    return {
      z: Number.NaN,
      eValue: 0,
      pValue: 1,
      interval: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY],
      boundary: Number.POSITIVE_INFINITY,
    };
  }
  const v = (input.mixingScale / se) ** 2;
  const excess = input.direction === 'lower-is-better' ? effect - tolerance : tolerance - effect;
  const z = excess / se;
  const logE = oneSidedMixtureLogE(z, v);
  const boundary = mixtureBoundary(v, alpha);
  return {
    z,
    eValue: Math.exp(logE),
    pValue: Math.min(1, Math.exp(-logE)),
    interval: [effect - boundary * se, effect + boundary * se],
    boundary,
  };
}

/** Input of {@link srmEvidence}: units per cohort in one window where the configured split did not change. */
export interface SrmInput {
  canary: number;
  control: number;
  /** The canary cohort's configured share of canary + control, in (0, 1). */
  expectedShare: number;
  /**
   * Concentration k of the Beta(k·p, k·(1 − p)) mixing distribution around
   * the expected share p; default {@link srmConcentration}.
   */
  concentration?: number;
}

/** Result of {@link srmEvidence}. */
export interface SrmEvidence {
  /** ln of the beta-binomial mixture likelihood ratio against the configured split. */
  logE: number;
  observedShare: number | null;
  expectedShare: number;
}

/** Relative standard deviation of the canary's share under the SRM test's mixing distribution (see {@link srmConcentration}). */
export const SRM_RELATIVE_SPREAD = 0.2;

/**
 * The default concentration of the SRM mixture: Beta(k·p, k·(1 − p)) whose
 * standard deviation is {@link SRM_RELATIVE_SPREAD} of the share p (or of 1 − p,
 * whichever is smaller), so the test is quickest for cohorts that lose or gain
 * about a fifth of their share, the scale of a cohort that goes quiet.
 */
export function srmConcentration(expectedShare: number): number {
  const small = Math.min(expectedShare, 1 - expectedShare);
  const sd = SRM_RELATIVE_SPREAD * small;
  return Math.max(1, (expectedShare * (1 - expectedShare)) / (sd * sd) - 1);
}

function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/**
 * Always-valid sample-ratio test of two cohorts against the configured split:
 * the Bayes factor of a beta-binomial mixture over the canary's share against
 * the point null, E = B(a + x, b + y) / (B(a, b) · p^x · (1 − p)^y) with
 * a = k·p, b = k·(1 − p). Under the configured split E is a test martingale in
 * the units as they arrive, so 1/E is a p-value at every look. Counts must be
 * independent units (users when the plan has a unit column, otherwise stored
 * events). E of windows with different splits multiply (sum their logE).
 */
export function srmEvidence(input: SrmInput): SrmEvidence {
  const { canary, control, expectedShare } = input;
  if (!(expectedShare > 0 && expectedShare < 1)) {
    throw invalidInput(`expected share must be between 0 and 1 (exclusive), got ${String(expectedShare)}`);
  }
  for (const [name, value] of [
    ['canary', canary],
    ['control', control],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw invalidInput(`${name} units must be a count ≥ 0, got ${String(value)}`);
  }
  const total = canary + control;
  if (total === 0) return { logE: 0, observedShare: null, expectedShare };
  const k = input.concentration ?? srmConcentration(expectedShare);
  const a = k * expectedShare;
  const b = k * (1 - expectedShare);
  const logE = logBeta(a + canary, b + control) - logBeta(a, b) - canary * Math.log(expectedShare) - control * Math.log1p(-expectedShare);
  return { logE, observedShare: canary / total, expectedShare };
}
