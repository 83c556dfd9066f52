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
