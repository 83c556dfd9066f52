/**
 * Assembles a comparison report from per-cohort aggregates with the
 * statistics engine: values, differences from control, always-valid
 * confidence intervals and p-values, Benjamini–Hochberg q-values over every
 * test in the report, verdicts, interactions between flags, the sample-ratio
 * line per flag and the incomplete-executions line. Pure: no I/O, no clock.
 */
import { invalidInput } from '../errors.js';
import { adjustPValues } from '../stats/adjust.js';
import { DEFAULT_SEQUENTIAL_TUNING } from '../stats/two-sample.js';
import { verdict } from '../stats/verdict.js';
import type { MetricDefinition } from './metrics.js';
import { arrangeCohorts, type CohortLayout } from './report/cohorts.js';
import { compareAggregates, finite, finiteCi, metricValue, unitsOf } from './report/comparisons.js';
import { interactionTests } from './report/interactions.js';
import { sampleRatioLines } from './report/sample-ratio.js';
import {
  type CompareReport,
  type CompareReportInput,
  type CompareSettings,
  DEFAULT_MINIMUM_SAMPLE,
  type InteractionResult,
  type MetricResult,
  type PendingTest,
  SRM_ALPHA,
} from './report/types.js';

export { CONTROL_NAMES, chooseControl } from './report/cohorts.js';
export { unitRatio } from './report/comparisons.js';
export {
  type CohortColumn,
  type CohortInfo,
  type CompareReport,
  type CompareReportInput,
  type CompareSettings,
  DEFAULT_MINIMUM_SAMPLE,
  type InteractionResult,
  type MetricResult,
  type SampleRatioLine,
  SRM_ALPHA,
} from './report/types.js';

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
  const layout = arrangeCohorts(input);
  const { results, tests } = metricResults(input.metrics, layout, settings);
  const interactions = interactionTests({
    columns: input.columns,
    metrics: input.metrics,
    cohorts: layout.cohorts,
    seen: layout.seen,
    controls: layout.controls,
    settings,
  });
  judge([...tests, ...interactions], settings);
  const hasIncomplete = input.metrics.some((m) => m.kind === 'incomplete');
  return {
    dataset: input.dataset,
    flags: input.columns.map((c) => c.flag),
    columns: input.columns.map((c) => c.column),
    control: layout.control,
    start_time: input.startTime,
    end_time: input.endTime,
    settings: { ...settings, srmAlpha: SRM_ALPHA },
    cohorts: layout.infos,
    metrics: input.metrics.map((m) => ({ name: m.name, kind: m.kind, direction: m.direction, scale: m.scale })),
    results,
    interactions: interactions.map((test) => test.result as InteractionResult),
    sampleRatio: sampleRatioLines(input.columns, layout.cohorts, layout.seen, input.unitColumn),
    incomplete: hasIncomplete ? results.filter((r) => r.metric === 'INCOMPLETE') : null,
    notes: [...(input.notes ?? []), ...layout.notes, ...uncomputedMetricNotes(input.metrics, results)],
  };
}

/** A note for each metric that has no value in any cohort (no numbers in its column, say), with why. */
function uncomputedMetricNotes(metrics: MetricDefinition[], results: MetricResult[]): string[] {
  const notes: string[] = [];
  for (const metric of metrics) {
    const rows = results.filter((r) => r.metric === metric.name);
    if (rows.length === 0 || rows.some((r) => r.value !== null)) continue;
    const why =
      metric.column !== undefined
        ? `no cohort has a value of ${metric.column} in the time range`
        : rows.every((r) => r.count === 0)
          ? 'no cohort has events'
          : 'no cohort has events it can be computed on';
    notes.push(`${metric.name} not computed: ${why}`);
  }
  return notes;
}

/** One row per metric and cohort, in that order, with a pending test for each non-control row of a metric that is not COUNT. */
function metricResults(
  metrics: MetricDefinition[],
  layout: CohortLayout,
  settings: Required<CompareSettings>,
): { results: MetricResult[]; tests: PendingTest[] } {
  const { cohorts, controlCohort } = layout;
  const results: MetricResult[] = [];
  const tests: PendingTest[] = [];
  metrics.forEach((metric, m) => {
    for (const cohort of cohorts) {
      const aggregate = cohort.metrics[m]!;
      const isControl = controlCohort !== undefined && cohort === controlCohort;
      const row: MetricResult = {
        metric: metric.name,
        cohort: layout.labelOf(cohort.key),
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
      // Counts are judged by the sample-ratio line, not by a test.
      if (metric.kind === 'count') {
        row.difference = controlAggregate.weight > 0 ? aggregate.weight / controlAggregate.weight - 1 : null;
        continue;
      }
      const comparison = compareAggregates(metric, controlAggregate, aggregate, settings);
      row.difference = finite(comparison.effect);
      row.ci = finiteCi(comparison.ci);
      row.pValue = comparison.pValue;
      tests.push({
        result: row,
        effect: comparison.effect,
        pValue: comparison.pValue,
        units: Math.min(unitsOf(aggregate), unitsOf(controlAggregate)),
        direction: metric.direction,
      });
    }
  });
  return { results, tests };
}

/** Benjamini–Hochberg over every test of the report, then each test's verdict from its q-value. */
function judge(tests: PendingTest[], settings: Required<CompareSettings>): void {
  const qValues =
    tests.length > 0
      ? adjustPValues(
          tests.map((t) => t.pValue),
          'bh',
        )
      : [];
  tests.forEach((test, k) => {
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
