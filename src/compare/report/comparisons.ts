/**
 * The statistics of one comparison: a metric's value in a cohort, a cohort
 * against control (unit-level ratios, proportions, means or percentiles), and
 * what the interactions of two flags are built from. Pure: no I/O, no clock.
 */
import { histogramFromLogBuckets, histogramQuantile, percentileTest, type QuantileHistogram } from '../../stats/percentile.js';
import { effectiveSampleSize, summaryFromWeighted } from '../../stats/summary.js';
import { alwaysValidInterval, sequentialTest, twoProportionTest, type ComparisonResult } from '../../stats/two-sample.js';
import type { MetricDefinition } from '../metrics.js';
import { isHistogram, type HistogramAggregate, type MomentAggregate, type UnitMoments } from '../plan.js';
import type { CompareSettings } from './types.js';

export function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

export function finiteCi(ci: [number, number]): [number, number] | null {
  return Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? [ci[0], ci[1]] : null;
}

/**
 * A metric as a ratio over units, ΣX/ΣY, with its delta-method variance
 * (s²_X − 2R·s_XY + R²·s²_Y) / (n·Ȳ²): the units (users) are the independent
 * draws, however many events each sends. Undefined below two units or
 * without weight.
 */
export function unitRatio(u: UnitMoments): { ratio: number; variance: number; units: number } | undefined {
  const n = u.units;
  if (!(n >= 2) || !(u.sumY > 0)) return undefined;
  const meanX = u.sumX / n;
  const meanY = u.sumY / n;
  const varX = (u.sumXSquares - n * meanX * meanX) / (n - 1);
  const varY = (u.sumYSquares - n * meanY * meanY) / (n - 1);
  const covXY = (u.sumXY - n * meanX * meanY) / (n - 1);
  const ratio = meanX / meanY;
  const variance = Math.max(0, (varX - 2 * ratio * covXY + ratio * ratio * varY) / (n * meanY * meanY));
  return { ratio, variance, units: n };
}

function unitLevelTest(a: UnitMoments, b: UnitMoments, relative: boolean, settings: Required<CompareSettings>): ComparisonResult {
  const control = unitRatio(a);
  const treatment = unitRatio(b);
  if (control === undefined || treatment === undefined) return undefinedComparison();
  let effect: number;
  let se: number;
  if (relative) {
    if (control.ratio === 0) return undefinedComparison();
    effect = treatment.ratio / control.ratio - 1;
    se = Math.sqrt(treatment.variance / control.ratio ** 2 + (treatment.ratio ** 2 * control.variance) / control.ratio ** 4);
  } else {
    effect = treatment.ratio - control.ratio;
    se = Math.sqrt(control.variance + treatment.variance);
  }
  return alwaysValidInterval(effect, se, control.units + treatment.units, { alpha: settings.alpha, tuning: settings.tuning });
}

export function histogramOf(h: HistogramAggregate, relativeAccuracy: number): QuantileHistogram {
  return histogramFromLogBuckets(h.buckets, {
    relativeAccuracy,
    zeroCount: h.zeroWeight,
    effectiveCount: effectiveSampleSize(h),
  });
}

export function metricValue(
  metric: MetricDefinition,
  aggregate: MomentAggregate | HistogramAggregate,
  relativeAccuracy: number,
): number | null {
  if (isHistogram(aggregate)) {
    if (aggregate.weight === 0) return null;
    return finite(histogramQuantile(histogramOf(aggregate, relativeAccuracy), metric.quantile!));
  }
  switch (metric.kind) {
    case 'count':
      return aggregate.weight;
    case 'sum':
      return aggregate.sum;
    default:
      return aggregate.weight > 0 ? aggregate.sum / aggregate.weight : null;
  }
}

export function compareAggregates(
  metric: MetricDefinition,
  control: MomentAggregate | HistogramAggregate,
  treatment: MomentAggregate | HistogramAggregate,
  settings: Required<CompareSettings>,
): ComparisonResult {
  const options = { alpha: settings.alpha, tuning: settings.tuning };
  if (isHistogram(control) && isHistogram(treatment)) {
    if (control.weight === 0 || treatment.weight === 0) return undefinedComparison();
    return percentileTest(
      histogramOf(control, settings.relativeAccuracy),
      histogramOf(treatment, settings.relativeAccuracy),
      metric.quantile!,
      { ...options, relative: true },
    );
  }
  const a = control as MomentAggregate;
  const b = treatment as MomentAggregate;
  if (a.perUnit !== undefined && b.perUnit !== undefined) return unitLevelTest(a.perUnit, b.perUnit, metric.scale === 'relative', settings);
  if (metric.kind === 'rate' || metric.kind === 'incomplete') {
    const arm = (m: MomentAggregate): { n: number; successes: number } => {
      const n = effectiveSampleSize(m);
      const rate = m.weight > 0 ? Math.min(1, Math.max(0, m.sum / m.weight)) : 0;
      return { n, successes: rate * n };
    };
    return twoProportionTest(arm(a), arm(b), options);
  }
  return sequentialTest(summaryFromWeighted(a), summaryFromWeighted(b), { ...options, relative: true });
}

export function undefinedComparison(): ComparisonResult {
  return { effect: Number.NaN, se: Number.NaN, ci: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], pValue: 1 };
}

export function unitsOf(aggregate: MomentAggregate | HistogramAggregate): number {
  if (!isHistogram(aggregate) && aggregate.perUnit !== undefined) return aggregate.perUnit.units;
  return effectiveSampleSize(aggregate);
}
