/**
 * Interactions between flags: for every pair of flags and every pair of their
 * non-control variants, how much the combination differs from what the two
 * flags alone predict, pooled over the other flags. Pure: no I/O, no clock.
 */
import { sequentialInteractionTest, type InteractionCells } from '../../stats/interaction.js';
import { estimateQuantile } from '../../stats/percentile.js';
import { summaryFromWeighted } from '../../stats/summary.js';
import { alwaysValidInterval, type ComparisonResult } from '../../stats/two-sample.js';
import type { MetricDefinition } from '../metrics.js';
import type { CohortAggregate, HistogramAggregate, MomentAggregate, UnitMoments } from '../plan.js';
import { finite, finiteCi, histogramOf, undefinedComparison, unitRatio, unitsOf } from './comparisons.js';
import type { CohortColumn, CompareSettings, InteractionResult, PendingTest } from './types.js';

/** What the interaction tests of a report are computed from. */
export interface InteractionScope {
  columns: CohortColumn[];
  metrics: MetricDefinition[];
  cohorts: CohortAggregate[];
  /** Per column, the variants seen (variant → weight). */
  seen: Map<string, number>[];
  /** Per column, its control variant. */
  controls: (string | undefined)[];
  settings: Required<CompareSettings>;
}

/** One interaction: flags `i` and `j` at their variants `a` and `b`, against both at control. */
interface InteractionCell {
  i: number;
  j: number;
  a: string;
  b: string;
}

/**
 * Every interaction of the report, each with its pending test, in order of flag pair, variant pair and metric.
 * None with fewer than two flags or when a flag has no control.
 */
export function interactionTests(scope: InteractionScope): PendingTest[] {
  const { columns, controls, seen } = scope;
  const tests: PendingTest[] = [];
  if (columns.length < 2 || !controls.every((c) => c !== undefined)) return tests;
  for (let i = 0; i < columns.length; i++) {
    for (let j = i + 1; j < columns.length; j++) {
      const variantsI = [...seen[i]!.keys()].filter((v) => v !== controls[i]).sort();
      const variantsJ = [...seen[j]!.keys()].filter((v) => v !== controls[j]).sort();
      for (const a of variantsI) {
        for (const b of variantsJ) {
          scope.metrics.forEach((metric, m) => {
            if (metric.kind === 'count') return;
            const cell = { i, j, a, b };
            tests.push(
              metric.kind === 'percentile'
                ? percentileInteractionTest(scope, cell, metric, m)
                : momentInteractionTest(scope, cell, metric, m),
            );
          });
        }
      }
    }
  }
  return tests;
}

/** The four cells of an interaction, pooled over the other flags: neither, first only, second only, both. */
function pooledCells<T>(scope: InteractionScope, cell: InteractionCell, pool: (cohorts: CohortAggregate[]) => T): [T, T, T, T] {
  const { i, j, a, b } = cell;
  const ci = scope.controls[i]!;
  const cj = scope.controls[j]!;
  const at = (vi: string, vj: string): T => pool(scope.cohorts.filter((c) => c.key[i] === vi && c.key[j] === vj));
  return [at(ci, cj), at(a, cj), at(ci, b), at(a, b)];
}

function percentileInteractionTest(scope: InteractionScope, cell: InteractionCell, metric: MetricDefinition, m: number): PendingTest {
  const cells = pooledCells(scope, cell, (cohorts) =>
    cohorts.reduce<HistogramAggregate>((sum, c) => addHistograms(sum, c.metrics[m] as HistogramAggregate), {
      rows: 0,
      weight: 0,
      weightSquares: 0,
      zeroWeight: 0,
      buckets: [],
    }),
  );
  const test = percentileInteraction(cells, metric.quantile!, scope.settings);
  return pendingInteraction(scope, cell, metric, test, 'relative', Math.min(...cells.map(unitsOf)));
}

function momentInteractionTest(scope: InteractionScope, cell: InteractionCell, metric: MetricDefinition, m: number): PendingTest {
  const aggregates = pooledCells(scope, cell, (cohorts) =>
    cohorts.reduce((sum, c) => addMoments(sum, c.metrics[m] as MomentAggregate), emptyMoments()),
  );
  const [neither, firstOnly, secondOnly, both] = aggregates.map(summaryFromWeighted);
  const cells: InteractionCells = { neither: neither!, firstOnly: firstOnly!, secondOnly: secondOnly!, both: both! };
  const perUnit = aggregates.map((c) => c.perUnit);
  const relative = metric.scale === 'relative';
  const { settings } = scope;
  const test = perUnit.every((u): u is UnitMoments => u !== undefined)
    ? unitLevelInteraction(perUnit, relative, settings)
    : sequentialInteractionTest(cells, { alpha: settings.alpha, tuning: settings.tuning, relative });
  return pendingInteraction(scope, cell, metric, test, metric.scale, Math.min(...aggregates.map(unitsOf)));
}

function pendingInteraction(
  scope: InteractionScope,
  cell: InteractionCell,
  metric: MetricDefinition,
  test: ComparisonResult,
  scale: 'absolute' | 'relative',
  units: number,
): PendingTest {
  const result: InteractionResult = {
    metric: metric.name,
    flags: [scope.columns[cell.i]!.flag, scope.columns[cell.j]!.flag],
    variants: [cell.a, cell.b],
    effect: finite(test.effect),
    scale,
    ci: finiteCi(test.ci),
    pValue: test.pValue,
    qValue: null,
    verdict: 'not enough data',
  };
  return { result, effect: test.effect, pValue: test.pValue, units, direction: metric.direction };
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
