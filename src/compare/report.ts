/**
 * Assembles a comparison report from per-cohort aggregates with the
 * statistics engine: values, differences from control, always-valid
 * confidence intervals and p-values, Benjamini–Hochberg q-values over every
 * test in the report, verdicts, interactions between flags, the sample-ratio
 * line per flag and the incomplete-executions line. Pure: no I/O, no clock.
 */
import { invalidInput } from '../errors.js';
import { adjustPValues } from '../stats/adjust.js';
import { sequentialInteractionTest, type InteractionCells } from '../stats/interaction.js';
import {
  estimateQuantile,
  histogramFromLogBuckets,
  histogramQuantile,
  percentileTest,
  type QuantileHistogram,
} from '../stats/percentile.js';
import { srmTest } from '../stats/srm.js';
import { effectiveSampleSize, summaryFromWeighted } from '../stats/summary.js';
import {
  DEFAULT_SEQUENTIAL_TUNING,
  alwaysValidInterval,
  sequentialTest,
  twoProportionTest,
  type ComparisonResult,
} from '../stats/two-sample.js';
import { verdict, type MetricDirection, type Verdict } from '../stats/verdict.js';
import type { MetricDefinition, MetricKind } from './metrics.js';
import { isHistogram, type CohortAggregate, type HistogramAggregate, type MomentAggregate, type UnitMoments } from './plan.js';

/** Significance level of the sample-ratio test (a mismatch is a broken experiment, so it is held to a stricter level). */
export const SRM_ALPHA = 0.001;
/** Units (effective sample size) a cohort needs before a verdict other than 'not enough data'. */
export const DEFAULT_MINIMUM_SAMPLE = 100;
/** Variant names taken as the control when none is given and the flag's default is unknown. */
export const CONTROL_NAMES = ['off', 'control', 'false', 'disabled', 'baseline', 'none'];

/** Statistical settings of a report. */
export interface CompareSettings {
  /** Significance level of q-values and interval width; default 0.05. */
  alpha?: number;
  /** Sequential tuning (total units at which intervals are tightest); default 5,000. */
  tuning?: number;
  /** Relative accuracy of percentile buckets; default 1%. */
  relativeAccuracy?: number;
  /** Default {@link DEFAULT_MINIMUM_SAMPLE}. */
  minimumSample?: number;
}

/** One cohort column (a flag's variant column) of a comparison. */
export interface CohortColumn {
  /** Flag key, e.g. `checkout_v2`. */
  flag: string;
  /** Column holding the variant, e.g. `flag.checkout_v2`. */
  column: string;
  /** Control variant given by the caller. */
  control?: string;
  /** The flag's default variant from the flag API, used as control when `control` is absent. */
  defaultVariant?: string;
  /** Expected split (variant → weight, any scale) and where it comes from. */
  expected?: Record<string, number>;
  expectedSource?: 'flag' | 'expect';
}

export interface CompareReportInput {
  dataset: string;
  columns: CohortColumn[];
  metrics: MetricDefinition[];
  cohorts: CohortAggregate[];
  /** Unix seconds. */
  startTime: number;
  endTime: number;
  settings?: CompareSettings;
  /** The unit column whose distinct values the cohorts' `units` count, if any. */
  unitColumn?: string;
}

export interface CohortInfo {
  /** Variant per flag, e.g. `{ checkout_v2: 'on', new_cart: 'off' }`. */
  variants: Record<string, string>;
  /** `on` for one flag; `checkout_v2=on new_cart=off` for combinations. */
  label: string;
  control: boolean;
  /** Stored events. */
  rows: number;
  /** Events they represent (sample rates applied). */
  weight: number;
}

export interface MetricResult {
  metric: string;
  cohort: string;
  control: boolean;
  /** Events that carry the metric (weighted). */
  count: number;
  /** The metric's value in the cohort (a rate as a fraction, a percentile in the column's unit). */
  value: number | null;
  /** Difference from control: absolute for rates, relative (0.1 = +10%) otherwise; null for control. */
  difference: number | null;
  scale: 'absolute' | 'relative';
  /** Always-valid confidence interval of `difference`; null when undefined. */
  ci: [number, number] | null;
  pValue: number | null;
  qValue: number | null;
  /** Null for the control row and for COUNT (counts are judged by the sample-ratio line). */
  verdict: Verdict | null;
}

export interface InteractionResult {
  metric: string;
  /** The two flags and the variants compared with their controls. */
  flags: [string, string];
  variants: [string, string];
  /** How much the combination differs from what the two flags alone predict (same scale as the metric's difference). */
  effect: number | null;
  scale: 'absolute' | 'relative';
  ci: [number, number] | null;
  pValue: number | null;
  qValue: number | null;
  verdict: Verdict;
}

export interface SampleRatioLine {
  flag: string;
  column: string;
  /** Where the expected split comes from; null when none is known (no test). */
  source: 'flag' | 'expect' | null;
  /** The unit counted: a column of distinct units (e.g. `user.id`), or null for events. */
  unit: string | null;
  /** Distinct units per variant, or events in units of stored rows (weighted count divided by the mean sample rate). */
  observed: Record<string, number>;
  /** Expected share per variant (sums to 1), or null. */
  expected: Record<string, number> | null;
  chiSquare: number | null;
  df: number | null;
  pValue: number | null;
  /** Variants seen in the data that the expected split gives no weight. */
  unexpectedVariants: string[];
  /** True when p < {@link SRM_ALPHA} or events arrived in a variant that should get none. */
  mismatch: boolean;
}

export interface CompareReport {
  dataset: string;
  flags: string[];
  columns: string[];
  control: Record<string, string>;
  start_time: number;
  end_time: number;
  settings: { alpha: number; tuning: number; relativeAccuracy: number; minimumSample: number; srmAlpha: number };
  cohorts: CohortInfo[];
  metrics: { name: string; kind: MetricKind; direction: MetricDirection; scale: 'absolute' | 'relative' }[];
  results: MetricResult[];
  interactions: InteractionResult[];
  sampleRatio: SampleRatioLine[];
  /** The INCOMPLETE rows of `results` (one per cohort), or null when the dataset has no `meta.incomplete`. */
  incomplete: MetricResult[] | null;
  /** Notes on what could not be computed. */
  notes: string[];
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function finiteCi(ci: [number, number]): [number, number] | null {
  return Number.isFinite(ci[0]) && Number.isFinite(ci[1]) ? [ci[0], ci[1]] : null;
}

/** Picks the control variant of a column among the variants seen. */
export function chooseControl(column: CohortColumn, seen: Map<string, number>): string | undefined {
  if (column.control !== undefined) return column.control;
  if (column.defaultVariant !== undefined && seen.has(column.defaultVariant)) return column.defaultVariant;
  for (const name of CONTROL_NAMES) if (seen.has(name)) return name;
  let best: string | undefined;
  let bestWeight = -1;
  for (const [variant, weight] of [...seen].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (weight > bestWeight) {
      best = variant;
      bestWeight = weight;
    }
  }
  return best;
}

function emptyMoments(): MomentAggregate {
  return { rows: 0, weight: 0, weightSquares: 0, sum: 0, sumSquares: 0 };
}

function addMoments(a: MomentAggregate, b: MomentAggregate): MomentAggregate {
  const sum: MomentAggregate = {
    rows: a.rows + b.rows,
    weight: a.weight + b.weight,
    weightSquares: a.weightSquares + b.weightSquares,
    sum: a.sum + b.sum,
    sumSquares: a.sumSquares + b.sumSquares,
  };
  if (a.perUnit !== undefined && b.perUnit !== undefined) {
    sum.perUnit = {
      units: a.perUnit.units + b.perUnit.units,
      sumX: a.perUnit.sumX + b.perUnit.sumX,
      sumXSquares: a.perUnit.sumXSquares + b.perUnit.sumXSquares,
      sumY: a.perUnit.sumY + b.perUnit.sumY,
      sumYSquares: a.perUnit.sumYSquares + b.perUnit.sumYSquares,
      sumXY: a.perUnit.sumXY + b.perUnit.sumXY,
    };
  }
  return sum;
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

/** Interaction contrast of four unit-level ratios (absolute, or of logs mapped back to a relative effect). */
function unitLevelInteraction(cells: UnitMoments[], relative: boolean, settings: Required<CompareSettings>): ComparisonResult {
  const signs = [1, -1, -1, 1];
  let effect = 0;
  let variance = 0;
  let n = 0;
  for (const [k, cell] of cells.entries()) {
    const r = unitRatio(cell);
    if (r === undefined) return undefinedComparison();
    if (relative) {
      if (!(r.ratio > 0)) return undefinedComparison();
      effect += signs[k]! * Math.log(r.ratio);
      variance += r.variance / (r.ratio * r.ratio);
    } else {
      effect += signs[k]! * r.ratio;
      variance += r.variance;
    }
    n += r.units;
  }
  const result = alwaysValidInterval(effect, Math.sqrt(variance), n, { alpha: settings.alpha, tuning: settings.tuning });
  if (!relative) return result;
  const ratio = Math.exp(effect);
  return {
    effect: ratio - 1,
    se: ratio * Math.sqrt(variance),
    ci: [Math.exp(result.ci[0]) - 1, Math.exp(result.ci[1]) - 1],
    pValue: result.pValue,
  };
}

function histogramOf(h: HistogramAggregate, relativeAccuracy: number): QuantileHistogram {
  return histogramFromLogBuckets(h.buckets, {
    relativeAccuracy,
    zeroCount: h.zeroWeight,
    effectiveCount: effectiveSampleSize(h),
  });
}

function metricValue(metric: MetricDefinition, aggregate: MomentAggregate | HistogramAggregate, relativeAccuracy: number): number | null {
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

function compareAggregates(
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

function addHistograms(a: HistogramAggregate, b: HistogramAggregate): HistogramAggregate {
  return {
    rows: a.rows + b.rows,
    weight: a.weight + b.weight,
    weightSquares: a.weightSquares + b.weightSquares,
    zeroWeight: a.zeroWeight + b.zeroWeight,
    buckets: [...a.buckets, ...b.buckets],
  };
}

/**
 * Interaction of two flags on a percentile: the contrast of log quantiles
 * ln Q_both − ln Q_firstOnly − ln Q_secondOnly + ln Q_neither (a ratio of
 * ratios), each quantile's standard error from its histogram (binomial
 * order-statistic band), under the always-valid confidence sequence; mapped
 * back to a relative effect. Undefined when a quantile is not positive.
 */
function percentileInteraction(cells: HistogramAggregate[], q: number, settings: Required<CompareSettings>): ComparisonResult {
  const signs = [1, -1, -1, 1];
  let effect = 0;
  let variance = 0;
  let n = 0;
  for (const [k, cell] of cells.entries()) {
    if (cell.weight === 0) return undefinedComparison();
    const estimate = estimateQuantile(histogramOf(cell, settings.relativeAccuracy), q);
    if (!(estimate.value > 0) || !Number.isFinite(estimate.se) || estimate.n < 2) return undefinedComparison();
    effect += signs[k]! * Math.log(estimate.value);
    variance += (estimate.se / estimate.value) ** 2;
    n += estimate.n;
  }
  const onLogScale = alwaysValidInterval(effect, Math.sqrt(variance), n, { alpha: settings.alpha, tuning: settings.tuning });
  const ratio = Math.exp(effect);
  return {
    effect: ratio - 1,
    se: ratio * Math.sqrt(variance),
    ci: [Math.exp(onLogScale.ci[0]) - 1, Math.exp(onLogScale.ci[1]) - 1],
    pValue: onLogScale.pValue,
  };
}

function undefinedComparison(): ComparisonResult {
  return { effect: Number.NaN, se: Number.NaN, ci: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], pValue: 1 };
}

function unitsOf(aggregate: MomentAggregate | HistogramAggregate): number {
  if (!isHistogram(aggregate) && aggregate.perUnit !== undefined) return aggregate.perUnit.units;
  return effectiveSampleSize(aggregate);
}

/**
 * Builds the report. Cohorts are the combinations of variants seen in the
 * data; each non-control cohort is compared with the cohort where every flag
 * is at its control variant.
 */
export function assembleCompareReport(input: CompareReportInput): CompareReport {
  const settings: Required<CompareSettings> = {
    alpha: input.settings?.alpha ?? 0.05,
    tuning: input.settings?.tuning ?? DEFAULT_SEQUENTIAL_TUNING,
    relativeAccuracy: input.settings?.relativeAccuracy ?? 0.01,
    minimumSample: input.settings?.minimumSample ?? DEFAULT_MINIMUM_SAMPLE,
  };
  if (input.columns.length === 0) throw invalidInput('a comparison needs at least one flag');
  const notes: string[] = [];
  const flags = input.columns.map((c) => c.flag);

  // Variants seen per column, by weight.
  const seen = input.columns.map(() => new Map<string, number>());
  for (const cohort of input.cohorts) {
    cohort.key.forEach((variant, i) => seen[i]!.set(variant, (seen[i]!.get(variant) ?? 0) + cohort.weight));
  }
  const controls = input.columns.map((column, i) => chooseControl(column, seen[i]!));
  input.columns.forEach((column, i) => {
    if (column.control !== undefined && !seen[i]!.has(column.control) && seen[i]!.size > 0) {
      throw invalidInput(
        `control variant ${JSON.stringify(column.control)} of ${column.flag} has no events in this time range`,
        `the variants seen are ${[...seen[i]!.keys()].map((v) => JSON.stringify(v)).join(', ')}; pass one of them with --control`,
      );
    }
  });
  const control: Record<string, string> = {};
  input.columns.forEach((column, i) => {
    if (controls[i] !== undefined) control[column.flag] = controls[i]!;
  });

  const isControlKey = (key: string[]): boolean => key.every((v, i) => v === controls[i]);
  const labelOf = (key: string[]): string =>
    input.columns.length === 1 ? key[0]! : key.map((v, i) => `${input.columns[i]!.flag}=${v}`).join(' ');
  const cohorts = [...input.cohorts].sort((a, b) => {
    const ca = isControlKey(a.key) ? 0 : 1;
    const cb = isControlKey(b.key) ? 0 : 1;
    if (ca !== cb) return ca - cb;
    return labelOf(a.key) < labelOf(b.key) ? -1 : labelOf(a.key) > labelOf(b.key) ? 1 : 0;
  });
  const controlCohort = cohorts.find((c) => isControlKey(c.key));
  if (cohorts.length > 0 && controlCohort === undefined) {
    notes.push(
      `no events in the control cohort (${input.columns.map((c, i) => `${c.flag}=${controls[i] ?? '?'}`).join(' ')}): nothing to compare with`,
    );
  }
  if (cohorts.length === 0) notes.push('no events with these flags in the time range');

  const cohortInfos: CohortInfo[] = cohorts.map((c) => {
    const variants: Record<string, string> = {};
    c.key.forEach((v, i) => {
      variants[input.columns[i]!.flag] = v;
    });
    return { variants, label: labelOf(c.key), control: isControlKey(c.key), rows: c.rows, weight: c.weight };
  });

  // Per metric × cohort.
  const results: MetricResult[] = [];
  const rawTests: {
    result: MetricResult | InteractionResult;
    effect: number;
    pValue: number;
    units: number;
    direction: MetricDirection;
  }[] = [];
  input.metrics.forEach((metric, m) => {
    for (const cohort of cohorts) {
      const aggregate = cohort.metrics[m]!;
      const isControl = controlCohort !== undefined && cohort === controlCohort;
      const row: MetricResult = {
        metric: metric.name,
        cohort: labelOf(cohort.key),
        control: isControl,
        count: aggregate.weight,
        value: metricValue(metric, aggregate, settings.relativeAccuracy),
        difference: null,
        scale: metric.scale,
        ci: null,
        pValue: null,
        qValue: null,
        verdict: null,
      };
      results.push(row);
      if (isControl || controlCohort === undefined) continue;
      const controlAggregate = controlCohort.metrics[m]!;
      if (metric.kind === 'count') {
        row.difference = controlAggregate.weight > 0 ? aggregate.weight / controlAggregate.weight - 1 : null;
        continue;
      }
      const comparison = compareAggregates(metric, controlAggregate, aggregate, settings);
      row.difference = finite(comparison.effect);
      row.ci = finiteCi(comparison.ci);
      row.pValue = comparison.pValue;
      rawTests.push({
        result: row,
        effect: comparison.effect,
        pValue: comparison.pValue,
        units: Math.min(unitsOf(aggregate), unitsOf(controlAggregate)),
        direction: metric.direction,
      });
    }
  });

  // Interactions: every pair of flags, every pair of non-control variants, pooled over the other flags.
  const interactions: InteractionResult[] = [];
  if (input.columns.length >= 2 && controls.every((c) => c !== undefined)) {
    for (let i = 0; i < input.columns.length; i++) {
      for (let j = i + 1; j < input.columns.length; j++) {
        const variantsI = [...seen[i]!.keys()].filter((v) => v !== controls[i]).sort();
        const variantsJ = [...seen[j]!.keys()].filter((v) => v !== controls[j]).sort();
        for (const a of variantsI) {
          for (const b of variantsJ) {
            input.metrics.forEach((metric, m) => {
              if (metric.kind === 'count') return;
              if (metric.kind === 'percentile') {
                const pooledHistogram = (vi: string, vj: string): HistogramAggregate =>
                  cohorts
                    .filter((c) => c.key[i] === vi && c.key[j] === vj)
                    .reduce<HistogramAggregate>((sum, c) => addHistograms(sum, c.metrics[m] as HistogramAggregate), {
                      rows: 0,
                      weight: 0,
                      weightSquares: 0,
                      zeroWeight: 0,
                      buckets: [],
                    });
                const histogramCells = [
                  pooledHistogram(controls[i]!, controls[j]!),
                  pooledHistogram(a, controls[j]!),
                  pooledHistogram(controls[i]!, b),
                  pooledHistogram(a, b),
                ];
                const test = percentileInteraction(histogramCells, metric.quantile!, settings);
                const row: InteractionResult = {
                  metric: metric.name,
                  flags: [input.columns[i]!.flag, input.columns[j]!.flag],
                  variants: [a, b],
                  effect: finite(test.effect),
                  scale: 'relative',
                  ci: finiteCi(test.ci),
                  pValue: test.pValue,
                  qValue: null,
                  verdict: 'not enough data',
                };
                interactions.push(row);
                rawTests.push({
                  result: row,
                  effect: test.effect,
                  pValue: test.pValue,
                  units: Math.min(...histogramCells.map(unitsOf)),
                  direction: metric.direction,
                });
                return;
              }
              const pooled = (vi: string, vj: string): MomentAggregate =>
                cohorts
                  .filter((c) => c.key[i] === vi && c.key[j] === vj)
                  .reduce((sum, c) => addMoments(sum, c.metrics[m] as MomentAggregate), emptyMoments());
              const cellAggregates = {
                neither: pooled(controls[i]!, controls[j]!),
                firstOnly: pooled(a, controls[j]!),
                secondOnly: pooled(controls[i]!, b),
                both: pooled(a, b),
              };
              const cells: InteractionCells = {
                neither: summaryFromWeighted(cellAggregates.neither),
                firstOnly: summaryFromWeighted(cellAggregates.firstOnly),
                secondOnly: summaryFromWeighted(cellAggregates.secondOnly),
                both: summaryFromWeighted(cellAggregates.both),
              };
              const perUnit = Object.values(cellAggregates).map((c) => c.perUnit);
              const test = perUnit.every((u): u is UnitMoments => u !== undefined)
                ? unitLevelInteraction(perUnit, metric.scale === 'relative', settings)
                : sequentialInteractionTest(cells, {
                    alpha: settings.alpha,
                    tuning: settings.tuning,
                    relative: metric.scale === 'relative',
                  });
              const units = Math.min(...Object.values(cellAggregates).map(unitsOf));
              const row: InteractionResult = {
                metric: metric.name,
                flags: [input.columns[i]!.flag, input.columns[j]!.flag],
                variants: [a, b],
                effect: finite(test.effect),
                scale: metric.scale,
                ci: finiteCi(test.ci),
                pValue: test.pValue,
                qValue: null,
                verdict: 'not enough data',
              };
              interactions.push(row);
              rawTests.push({ result: row, effect: test.effect, pValue: test.pValue, units, direction: metric.direction });
            });
          }
        }
      }
    }
  }

  // Benjamini–Hochberg over every test of the report.
  const qValues =
    rawTests.length > 0
      ? adjustPValues(
          rawTests.map((t) => t.pValue),
          'bh',
        )
      : [];
  rawTests.forEach((test, k) => {
    const q = qValues[k]!;
    test.result.qValue = q;
    test.result.verdict = verdict({
      effect: test.effect,
      qValue: q,
      direction: test.direction,
      sampleSize: test.units,
      minimumSample: settings.minimumSample,
      alpha: settings.alpha,
    });
  });

  // Sample ratio per flag.
  const totalRows = cohorts.reduce((s, c) => s + c.rows, 0);
  const totalWeight = cohorts.reduce((s, c) => s + c.weight, 0);
  const meanRate = totalRows > 0 ? totalWeight / totalRows : 1;
  const byUnits = input.unitColumn !== undefined && cohorts.length > 0 && cohorts.every((c) => c.units !== undefined);
  const sampleRatio: SampleRatioLine[] = input.columns.map((column, i) => {
    const observed: Record<string, number> = {};
    for (const [variant, weight] of [...seen[i]!].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      // Each unit is bucketed into one variant of each flag, so the cohorts' distinct units add up per variant.
      observed[variant] = byUnits ? cohorts.filter((c) => c.key[i] === variant).reduce((s, c) => s + (c.units ?? 0), 0) : weight / meanRate;
    }
    const line: SampleRatioLine = {
      flag: column.flag,
      column: column.column,
      source: null,
      unit: byUnits ? input.unitColumn! : null,
      observed,
      expected: null,
      chiSquare: null,
      df: null,
      pValue: null,
      unexpectedVariants: [],
      mismatch: false,
    };
    if (column.expected === undefined) return line;
    const expectedTotal = Object.values(column.expected).reduce((s, w) => s + Math.max(0, w), 0);
    if (!(expectedTotal > 0)) return line;
    const variants = [...new Set([...Object.keys(column.expected), ...Object.keys(observed)])].sort();
    const weights = variants.map((v) => Math.max(0, column.expected![v] ?? 0));
    const counts = variants.map((v) => observed[v] ?? 0);
    const test = srmTest(counts, weights);
    line.source = column.expectedSource ?? 'expect';
    line.expected = Object.fromEntries(variants.map((v, k) => [v, weights[k]! / expectedTotal]));
    line.chiSquare = test.chiSquare;
    line.df = test.df;
    line.pValue = test.pValue;
    line.unexpectedVariants = variants.filter((v, k) => weights[k] === 0 && (observed[v] ?? 0) > 0);
    line.mismatch = test.pValue < SRM_ALPHA || line.unexpectedVariants.length > 0;
    return line;
  });

  const hasIncomplete = input.metrics.some((m) => m.kind === 'incomplete');
  return {
    dataset: input.dataset,
    flags,
    columns: input.columns.map((c) => c.column),
    control,
    start_time: input.startTime,
    end_time: input.endTime,
    settings: { ...settings, srmAlpha: SRM_ALPHA },
    cohorts: cohortInfos,
    metrics: input.metrics.map((m) => ({ name: m.name, kind: m.kind, direction: m.direction, scale: m.scale })),
    results,
    interactions,
    sampleRatio,
    incomplete: hasIncomplete ? results.filter((r) => r.metric === 'INCOMPLETE') : null,
    notes,
  };
}

/**
 * Parses an expected split such as `on=50,off=50` (weights in any unit) into
 * variant → weight.
 */
export function parseExpectedSplit(text: string): Record<string, number> {
  const split: Record<string, number> = {};
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const match = /^(.+?)\s*[=:]\s*([0-9]+(?:\.[0-9]+)?)%?$/.exec(trimmed);
    if (!match)
      throw invalidInput(`invalid expected split ${JSON.stringify(text)}`, 'write variant=weight pairs, e.g. --expect on=50,off=50');
    split[match[1]!] = Number(match[2]);
  }
  const total = Object.values(split).reduce((s, w) => s + w, 0);
  if (Object.keys(split).length < 2 || !(total > 0)) {
    throw invalidInput(
      `expected split ${JSON.stringify(text)} needs at least two variants with a positive total`,
      'e.g. --expect on=50,off=50',
    );
  }
  return split;
}
