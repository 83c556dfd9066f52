/**
 * The evidence of one tick: per guard the control and canary values, the
 * difference, its always-valid interval, the one-sided p-value of "harm beyond
 * the tolerance", the Benjamini–Hochberg q-value across the guards and the
 * verdict; the step's sample per cohort; the always-valid sample-ratio test.
 * Values and differences are compare's (src/compare/report/comparisons.ts);
 * only the test differs: one-sided, shifted by the tolerance. Pure.
 */
import type { MetricDefinition } from '../compare/metrics.js';
import type { CohortAggregate, HistogramAggregate, MomentAggregate } from '../compare/plan.js';
import { isHistogram } from '../compare/plan.js';
import { compareAggregates, metricValue, unitsOf } from '../compare/report/comparisons.js';
import { DEFAULT_RELATIVE_ACCURACY } from '../stats/percentile.js';
import { adjustPValues } from '../stats/adjust.js';
import { effectiveSampleSize } from '../stats/summary.js';
import { DEFAULT_SEQUENTIAL_TUNING } from '../stats/two-sample.js';
import type { MetricDirection } from '../stats/verdict.js';
import { type GuardAction, type GuardDefinition, toleranceOnDifferenceScale } from './guard.js';
import type { CanaryMeasurement } from './measure.js';
import type { CanaryPlan } from './plan.js';
import { harmTest, srmEvidence } from './sequential.js';

/** Level of the always-valid sample-ratio test (a mismatch means a broken canary, so it is held to a strict level). */
export const CANARY_SRM_ALPHA = 0.001;
/** Units each cohort needs (over the guards' window) before a guard may fail: below it the normal approximation is too rough. */
export const MIN_UNITS_FOR_VERDICT = 30;
/** Smallest mixing scale of a rate guard (percentage points as a fraction). */
export const MIN_RATE_MIXING_SCALE = 0.005;
/** Smallest mixing scale of a relative guard. */
export const MIN_RELATIVE_MIXING_SCALE = 0.05;

export type GuardVerdict = 'pass' | 'fail' | 'inconclusive';

/** One guard at one tick. */
export interface GuardEvidence {
  guard: string;
  metric: string;
  direction: MetricDirection;
  action: GuardAction;
  /** The metric in the control and canary cohorts (a rate as a fraction, a percentile in the column's unit); null without data. */
  control: number | null;
  canary: number | null;
  /** Canary − control: absolute for rates, relative (0.1 = +10%) otherwise. */
  difference: number | null;
  scale: 'absolute' | 'relative';
  /** Always-valid bounds of the difference (each one-sided at 1 − alpha); null when undefined. */
  interval: [number, number] | null;
  /** The tolerance on the difference's scale; null when it cannot be placed yet (a tolerance in the metric's unit with no control value). */
  tolerance: number | null;
  /** The tolerance as written, e.g. `+0.5pp`. */
  toleranceText: string;
  /** Always-valid one-sided p-value of "no harm beyond the tolerance". */
  pValue: number;
  /** Benjamini–Hochberg q-value across the guards (on always-valid p-values: e-BH). */
  qValue: number;
  verdict: GuardVerdict;
  /** Units per cohort behind the comparison (guards' window). */
  units: { control: number; canary: number };
}

/** The always-valid sample-ratio test: the current step's counts and the evidence over every step. */
export interface SampleRatioEvidence {
  /** Units counted (a unit column such as `user.id`, or null for stored events). */
  unit: string | null;
  control: number;
  canary: number;
  expectedShare: number;
  observedShare: number | null;
  /** ln e-value of the current step. */
  stepLogE: number;
  /** ln e-value over the whole canary (completed steps × this one). */
  logE: number;
  /** min(1, 1/e). */
  pValue: number;
  alpha: number;
  mismatch: boolean;
}

/** Everything one tick found. */
export interface CanaryEvidence {
  /** Now (ms). */
  at: number;
  window: { start: number; end: number };
  stepWindow: { start: number; end: number };
  guards: GuardEvidence[];
  /** Units per cohort in the step's window against the plan's minimum. */
  sample: { control: number; canary: number; minimum: number; reached: boolean };
  sampleRatio: SampleRatioEvidence;
}

/** Input of {@link assembleEvidence}. */
export interface EvidenceInput {
  plan: Pick<CanaryPlan, 'alpha' | 'minSample'>;
  guards: GuardDefinition[];
  measurement: CanaryMeasurement;
  /** The percentage served in the step's window. */
  percent: number;
  /** ln e-value of the sample-ratio test over the completed steps. */
  srmLogE: number;
  now: number;
  /** Default {@link CANARY_SRM_ALPHA}. */
  srmAlpha?: number;
}

/** Events (stored rows) or units of a cohort over a window, for the minimum sample and the sample-ratio test. */
function countOf(cohort: CohortAggregate | undefined): number {
  if (cohort === undefined) return 0;
  return cohort.units ?? cohort.rows;
}

const isRate = (metric: MetricDefinition): boolean => metric.kind === 'rate' || metric.kind === 'incomplete';

/**
 * The standard error of a rate difference for the harm test. The canary's
 * variance is taken between two calibrations: the Bernoulli variance at the
 * tolerance's boundary (control's rate plus the tolerance: a score-type
 * variance, exact where the null is hardest, and not inflated when the canary's
 * rate is high) and at the canary's observed rate (Wald): their geometric mean
 * when the observed variance is larger, the boundary's otherwise. Measured
 * (bench/canary-power.mjs): the boundary's alone raises false alarms at the
 * boundary to 5.5–8.8% (a skewed binomial at small counts has a heavier upper
 * tail than the normal), the observed one alone needs 1.05–1.5 times the
 * fixed-horizon sample; the geometric mean keeps false alarms at 2.5% and needs
 * 0.6 times. Where the null side holds the larger variances (rates above ½ for
 * a lower-is-better guard, below ½ for a higher-is-better one), the larger of
 * the two is taken. Rates are smoothed ((x + ½)/(n + 1)) so a cohort with no
 * errors, or errors only, is never certain. With a unit column, compare's
 * unit-level standard error over the plain Bernoulli one (the design effect of
 * users sending many events) scales the result.
 */
function rateSe(
  control: MomentAggregate,
  canary: MomentAggregate,
  tolerance: number,
  direction: MetricDirection,
  compareSe: number,
): number {
  const arm = (m: MomentAggregate): { n: number; rate: number } => {
    const n = effectiveSampleSize(m);
    const raw = m.weight > 0 ? Math.min(1, Math.max(0, m.sum / m.weight)) : 0;
    return { n, rate: (raw * n + 0.5) / (n + 1) };
  };
  const a = arm(control);
  const b = arm(canary);
  if (!(a.n > 0) || !(b.n > 0)) return Number.NaN;
  const edge = 0.5 / (b.n + 1);
  const boundary = Math.min(1 - edge, Math.max(edge, a.rate + tolerance));
  const nullSideWider = direction === 'lower-is-better' ? boundary > 0.5 : boundary < 0.5;
  const boundaryVariance = boundary * (1 - boundary);
  const observedVariance = b.rate * (1 - b.rate);
  const canaryVariance = nullSideWider
    ? Math.max(boundaryVariance, observedVariance)
    : Math.max(boundaryVariance, Math.sqrt(boundaryVariance * observedVariance));
  const se = Math.sqrt((a.rate * (1 - a.rate)) / a.n + canaryVariance / b.n);
  const plain = Math.sqrt((a.rate * (1 - a.rate)) / a.n + observedVariance / b.n);
  const designEffect = Number.isFinite(compareSe) && plain > 0 ? Math.max(1, compareSe / plain) : 1;
  return se * designEffect;
}

/** The mixing scale is this many times the tolerance: the test is quickest for regressions about that far beyond it. */
export const MIXING_SCALE_TOLERANCES = 3;

/**
 * The mixing scale τ of a guard's test: three times its tolerance (at least
 * 0.5pp for rates and 5% otherwise), so regressions about three tolerances
 * beyond the tolerance (error rate +1.5pp over a +0.5pp guard) are caught
 * quickest, and all larger or smaller ones still are, a little later.
 */
export function mixingScaleOf(metric: MetricDefinition, tolerance: number): number {
  const floor = isRate(metric) ? MIN_RATE_MIXING_SCALE : MIN_RELATIVE_MIXING_SCALE;
  return MIXING_SCALE_TOLERANCES * Math.max(Math.abs(tolerance), floor);
}

interface PendingGuard {
  evidence: GuardEvidence;
  defined: boolean;
}

function guardEvidence(
  guard: GuardDefinition,
  metric: MetricDefinition,
  index: number,
  measurement: CanaryMeasurement,
  alpha: number,
): PendingGuard {
  const { control, canary } = measurement.cumulative;
  const controlAggregate = control?.metrics[index] as MomentAggregate | HistogramAggregate | undefined;
  const canaryAggregate = canary?.metrics[index] as MomentAggregate | HistogramAggregate | undefined;
  const value = (a: MomentAggregate | HistogramAggregate | undefined): number | null =>
    a === undefined ? null : metricValue(metric, a, DEFAULT_RELATIVE_ACCURACY);
  const controlValue = value(controlAggregate);
  const evidence: GuardEvidence = {
    guard: guard.text,
    metric: metric.name,
    direction: guard.direction,
    action: guard.action,
    control: controlValue,
    canary: value(canaryAggregate),
    difference: null,
    scale: metric.scale,
    interval: null,
    tolerance: toleranceOnDifferenceScale(guard, controlValue) ?? null,
    toleranceText: guard.toleranceText,
    pValue: 1,
    qValue: 1,
    verdict: 'inconclusive',
    units: {
      control: controlAggregate === undefined ? 0 : unitsOf(controlAggregate),
      canary: canaryAggregate === undefined ? 0 : unitsOf(canaryAggregate),
    },
  };
  if (controlAggregate === undefined || canaryAggregate === undefined || evidence.tolerance === null) return { evidence, defined: false };
  const comparison = compareAggregates(metric, controlAggregate, canaryAggregate, {
    alpha,
    tuning: DEFAULT_SEQUENTIAL_TUNING,
    relativeAccuracy: DEFAULT_RELATIVE_ACCURACY,
    minimumSample: 0,
  });
  if (!Number.isFinite(comparison.effect)) return { evidence, defined: false };
  evidence.difference = comparison.effect;
  let se = comparison.se;
  const enough = evidence.units.control >= MIN_UNITS_FOR_VERDICT && evidence.units.canary >= MIN_UNITS_FOR_VERDICT;
  if (isRate(metric) && !isHistogram(controlAggregate) && !isHistogram(canaryAggregate)) {
    se = rateSe(controlAggregate, canaryAggregate, evidence.tolerance, guard.direction, comparison.se);
  }
  const test = harmTest({
    effect: comparison.effect,
    se,
    tolerance: evidence.tolerance,
    direction: guard.direction,
    alpha,
    mixingScale: mixingScaleOf(metric, evidence.tolerance),
  });
  evidence.pValue = test.pValue;
  if (Number.isFinite(test.interval[0]) && Number.isFinite(test.interval[1])) evidence.interval = test.interval;
  return { evidence, defined: enough && Number.isFinite(test.z) };
}

/** True when the always-valid bound on the harmful side is within the tolerance (the canary is shown to be no worse than it allows). */
function withinTolerance(guard: GuardEvidence): boolean {
  if (guard.interval === null || guard.tolerance === null) return false;
  return guard.direction === 'lower-is-better' ? guard.interval[1] <= guard.tolerance : guard.interval[0] >= guard.tolerance;
}

/**
 * Judges every guard and the sample ratio from one tick's measurement
 * (the three outcomes of `checkGuard` in flagscope/stats):
 *
 * - `fail` when its always-valid p-value of "no harm beyond the tolerance"
 *   survives Benjamini–Hochberg at the plan's alpha across the guards (on
 *   always-valid p-values this is e-BH, valid however the guards depend on one
 *   another);
 * - `pass` when the always-valid bound on the harmful side is within the
 *   tolerance: the canary is shown to be no worse than the guard allows;
 * - `inconclusive` otherwise: the interval still straddles the tolerance, the
 *   comparison is undefined, or a cohort has fewer than
 *   {@link MIN_UNITS_FOR_VERDICT} units (such a guard counts as p = 1 in the
 *   adjustment).
 */
export function assembleEvidence(input: EvidenceInput): CanaryEvidence {
  const { plan, guards, measurement } = input;
  const pending = guards.map((guard, i) => guardEvidence(guard, measurement.metrics[i] ?? guard.metric, i, measurement, plan.alpha));
  const pValues = pending.map((p) => (p.defined ? p.evidence.pValue : 1));
  const qValues = pValues.length > 0 ? adjustPValues(pValues, 'bh') : [];
  pending.forEach((p, i) => {
    p.evidence.qValue = qValues[i]!;
    p.evidence.verdict = !p.defined
      ? 'inconclusive'
      : qValues[i]! <= plan.alpha
        ? 'fail'
        : withinTolerance(p.evidence)
          ? 'pass'
          : 'inconclusive';
  });
  const control = countOf(measurement.step.control);
  const canary = countOf(measurement.step.canary);
  const expectedShare = input.percent / 100;
  const srmAlpha = input.srmAlpha ?? CANARY_SRM_ALPHA;
  const step =
    expectedShare > 0 && expectedShare < 1
      ? srmEvidence({ canary, control, expectedShare })
      : { logE: 0, observedShare: control + canary > 0 ? canary / (control + canary) : null, expectedShare };
  const logE = input.srmLogE + step.logE;
  return {
    at: input.now,
    window: measurement.window,
    stepWindow: measurement.stepWindow,
    guards: pending.map((p) => p.evidence),
    sample: { control, canary, minimum: plan.minSample, reached: control >= plan.minSample && canary >= plan.minSample },
    sampleRatio: {
      unit: measurement.unitColumn ?? null,
      control,
      canary,
      expectedShare,
      observedShare: step.observedShare,
      stepLogE: step.logE,
      logE,
      pValue: Math.min(1, Math.exp(-logE)),
      alpha: srmAlpha,
      mismatch: logE >= -Math.log(srmAlpha),
    },
  };
}
