import { invalidInput } from '../errors.js';
import { requireAlpha } from './validate.js';

/** Which way a metric should move: error rates and latency are lower-is-better, conversion higher-is-better. */
export type MetricDirection = 'lower-is-better' | 'higher-is-better';

/** The four verdicts a comparison can end in. */
export type Verdict = 'better' | 'worse' | 'no detectable difference' | 'not enough data';

/** Input of {@link verdict}. */
export interface VerdictInput {
  /** Estimated effect of treatment against control (only its sign is used). */
  effect: number;
  /** The comparison's q-value (BH-adjusted p-value over the whole report) or p-value. */
  qValue: number;
  direction: MetricDirection;
  /** Units in the smaller of the two cohorts compared (control or treatment). */
  sampleSize: number;
  /** Fewer units than this in either cohort → 'not enough data'. Default 0. */
  minimumSample?: number;
  /** Significance level the q-value is held to; default 0.05. */
  alpha?: number;
}

/**
 * Turns a comparison into a verdict: 'not enough data' when a cohort is below
 * the minimum sample or the comparison is undefined (NaN effect or q-value);
 * otherwise, when q < alpha, 'better' or 'worse' by the effect's sign and the
 * metric's direction; otherwise 'no detectable difference'.
 */
export function verdict(input: VerdictInput): Verdict {
  const alpha = input.alpha ?? 0.05;
  requireAlpha(alpha);
  if (input.direction !== 'lower-is-better' && input.direction !== 'higher-is-better') {
    throw invalidInput(`unknown direction ${JSON.stringify(input.direction)}`, "use 'lower-is-better' or 'higher-is-better'");
  }
  const minimumSample = input.minimumSample ?? 0;
  if (!(input.sampleSize >= minimumSample) || !(input.sampleSize > 0)) return 'not enough data';
  if (Number.isNaN(input.effect) || Number.isNaN(input.qValue)) return 'not enough data';
  if (input.qValue >= alpha || input.effect === 0) return 'no detectable difference';
  const increased = input.effect > 0;
  return increased === (input.direction === 'higher-is-better') ? 'better' : 'worse';
}

/** Outcome of a guard: the canary is within its tolerance, beyond it, or it cannot be told yet. */
export type GuardOutcome = 'pass' | 'fail' | 'inconclusive';

/**
 * Checks a guard such as `RATE(error) <= +0.5pp` or `P95(duration_ms) <= +10%`
 * (lower is better: the canary may be worse than control by at most `bound`)
 * or `CONVERSION >= -2%` (higher is better: the effect must stay at or above
 * `bound`) against a comparison's confidence interval, in the interval's unit
 * (relative results take relative bounds, e.g. 0.1 for +10%):
 *
 * - 'fail' when the whole interval is beyond the bound (a regression);
 * - 'pass' when the whole interval is within it;
 * - 'inconclusive' otherwise, or when the interval is undefined.
 *
 * With an always-valid interval ({@link sequentialTest}) the check may be
 * repeated at every step of a ramp without inflating false alarms.
 */
export function checkGuard(ci: readonly [number, number], guard: { direction: MetricDirection; bound: number }): GuardOutcome {
  if (guard.direction !== 'lower-is-better' && guard.direction !== 'higher-is-better') {
    throw invalidInput(`unknown direction ${JSON.stringify(guard.direction)}`, "use 'lower-is-better' or 'higher-is-better'");
  }
  if (typeof guard.bound !== 'number' || !Number.isFinite(guard.bound)) {
    throw invalidInput(`guard bound must be a finite number, got ${String(guard.bound)}`);
  }
  const [low, high] = ci;
  if (Number.isNaN(low) || Number.isNaN(high)) return 'inconclusive';
  if (guard.direction === 'lower-is-better') {
    if (low > guard.bound) return 'fail';
    if (high <= guard.bound) return 'pass';
    return 'inconclusive';
  }
  if (high < guard.bound) return 'fail';
  if (low >= guard.bound) return 'pass';
  return 'inconclusive';
}
