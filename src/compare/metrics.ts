/**
 * Metrics of a cohort comparison: parsing (`COUNT`, `SUM(col)`, `AVG(col)`,
 * `P50(col)`…`P999(col)`, `RATE(filter)`, `INCOMPLETE`, each optionally
 * suffixed `:higher` or `:lower`), defaults, and their mapping onto query
 * calculations for schema validation. Pure.
 */
import { invalidInput } from '../errors.js';
import { calculationName } from '../query/format.js';
import { INCOMPLETE_COLUMN, incompleteFilter } from '../query/incomplete.js';
import { parseCalculation } from '../query/shorthand.js';
import { PERCENTILE_QUANTILE, type Calculation, type Filter, type PercentileOp } from '../query/spec.js';
import type { MetricDirection } from '../stats/verdict.js';
import type { DatasetSchema } from '../query/schema.js';

export { INCOMPLETE_COLUMN };

export type MetricKind = 'count' | 'sum' | 'avg' | 'percentile' | 'rate' | 'incomplete';

/** One metric of a comparison. */
export interface MetricDefinition {
  /** Display name, e.g. `P95(duration_ms)`, `RATE(error = true)`, `INCOMPLETE`. */
  name: string;
  kind: MetricKind;
  /** SUM, AVG and percentiles: the numeric column. */
  column?: string;
  /** Percentiles: the quantile in (0, 1). */
  quantile?: number;
  /** RATE: the events counted in the numerator. */
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  direction: MetricDirection;
  /**
   * The scale of the difference from control: rates (RATE, INCOMPLETE) in
   * absolute terms (percentage points), everything else relative to control.
   */
  scale: 'absolute' | 'relative';
}

const METRIC_HINT =
  "e.g. --metric COUNT, --metric 'AVG(duration_ms)', --metric 'P95(duration_ms)', --metric 'RATE(status_code >= 500)', --metric INCOMPLETE, optionally suffixed :higher or :lower";

function defaultDirection(kind: MetricKind): MetricDirection {
  return kind === 'count' || kind === 'sum' ? 'higher-is-better' : 'lower-is-better';
}

function fromCalculation(calc: Calculation, direction: MetricDirection | undefined, text: string): MetricDefinition {
  const name = calculationName(calc);
  switch (calc.op) {
    case 'COUNT':
      return { name, kind: 'count', direction: direction ?? 'higher-is-better', scale: 'relative' };
    case 'SUM':
    case 'AVG': {
      const kind = calc.op === 'SUM' ? 'sum' : 'avg';
      return { name, kind, column: calc.column!, direction: direction ?? defaultDirection(kind), scale: 'relative' };
    }
    case 'RATE':
      return {
        name,
        kind: 'rate',
        filters: calc.filters ?? [],
        filter_combination: calc.filter_combination ?? 'AND',
        direction: direction ?? 'lower-is-better',
        scale: 'absolute',
      };
    default: {
      const quantile = PERCENTILE_QUANTILE[calc.op as PercentileOp];
      if (quantile === undefined) {
        throw invalidInput(`${calc.op} cannot be compared between cohorts: ${JSON.stringify(text)}`, METRIC_HINT);
      }
      return { name, kind: 'percentile', column: calc.column!, quantile, direction: direction ?? 'lower-is-better', scale: 'relative' };
    }
  }
}

/**
 * Parses one `--metric` text. A trailing `:higher` or `:lower` says which way
 * is better (defaults: COUNT and SUM higher, everything else lower).
 *
 * @example parseMetric('P95(duration_ms)') // { kind: 'percentile', column: 'duration_ms', quantile: 0.95, … }
 */
export function parseMetric(text: string): MetricDefinition {
  let body = text.trim();
  let direction: MetricDirection | undefined;
  const suffix = /:(higher|lower)$/i.exec(body);
  if (suffix) {
    direction = suffix[1]!.toLowerCase() === 'higher' ? 'higher-is-better' : 'lower-is-better';
    body = body.slice(0, suffix.index).trim();
  }
  if (/^incomplete$/i.test(body)) {
    return { name: 'INCOMPLETE', kind: 'incomplete', direction: direction ?? 'lower-is-better', scale: 'absolute' };
  }
  if (body === '') throw invalidInput('empty metric', METRIC_HINT);
  const calc = parseCalculation(body);
  return fromCalculation(calc, direction, text);
}

/**
 * A metric given over the API: shorthand text, or a calculation object
 * (`{ "op": "P95", "column": "duration_ms" }`, `{ "op": "INCOMPLETE" }`) with
 * an optional `"direction"`.
 */
export function metricFromInput(input: unknown, path: string): MetricDefinition {
  if (typeof input === 'string') return parseMetric(input);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidInput(`${path} must be a metric text like "P95(duration_ms)" or a calculation object`, METRIC_HINT);
  }
  const record = input as Record<string, unknown>;
  const direction = record.direction;
  if (direction !== undefined && direction !== 'lower-is-better' && direction !== 'higher-is-better') {
    throw invalidInput(`${path}.direction must be "lower-is-better" or "higher-is-better"`);
  }
  if (record.op === 'INCOMPLETE') {
    return {
      name: 'INCOMPLETE',
      kind: 'incomplete',
      direction: (direction as MetricDirection | undefined) ?? 'lower-is-better',
      scale: 'absolute',
    };
  }
  const calc: Calculation = { op: record.op as Calculation['op'] };
  if (typeof record.column === 'string') calc.column = record.column;
  if (Array.isArray(record.filters)) calc.filters = record.filters as Filter[];
  if (record.filter_combination === 'AND' || record.filter_combination === 'OR') calc.filter_combination = record.filter_combination;
  if (typeof calc.op !== 'string') throw invalidInput(`${path}.op must be a calculation op`, METRIC_HINT);
  return fromCalculation(calc, direction as MetricDirection | undefined, String(calc.op));
}

/**
 * The default metrics of a dataset: the error rate `RATE(error = true)` where
 * an `error` column exists, `P95(duration_ms)` where `duration_ms` exists,
 * and COUNT when neither does.
 */
export function defaultMetrics(schema: DatasetSchema): MetricDefinition[] {
  return defaultMetricsWithNotes(schema).metrics;
}

/**
 * {@link defaultMetrics}, with a note for each default left out and why (a
 * `duration_ms` column that is not numeric cannot give a percentile), so a
 * report never drops a metric without saying so.
 */
export function defaultMetricsWithNotes(schema: DatasetSchema): { metrics: MetricDefinition[]; notes: string[] } {
  const byName = new Map(schema.columns.map((c) => [c.name, c.type]));
  const metrics: MetricDefinition[] = [];
  const notes: string[] = [];
  if (byName.has('error')) {
    const value = byName.get('error') === 'boolean' ? true : byName.get('error') === 'string' ? 'true' : 1;
    metrics.push(parseMetricFromCalc({ op: 'RATE', filters: [{ column: 'error', op: '=', value }] }));
  }
  const duration = byName.get('duration_ms');
  if (duration === 'integer' || duration === 'float') metrics.push(parseMetric('P95(duration_ms)'));
  else if (duration !== undefined) {
    notes.push(
      `P95(duration_ms) not computed: duration_ms is a ${duration} column and a percentile needs numbers; pass --metric with a numeric column, e.g. --metric 'P95(latency_ms)'`,
    );
  }
  if (metrics.length === 0) metrics.push(parseMetric('COUNT'));
  return { metrics, notes };
}

function parseMetricFromCalc(calc: Calculation): MetricDefinition {
  return fromCalculation(calc, undefined, calculationName(calc));
}

/**
 * The calculation a metric is validated as, so `validateQuery` checks its
 * columns and coerces its filter values (and INCOMPLETE's column).
 */
export function metricCalculation(metric: MetricDefinition): Calculation {
  switch (metric.kind) {
    case 'count':
      return { op: 'COUNT' };
    case 'sum':
      return { op: 'SUM', column: metric.column! };
    case 'avg':
      return { op: 'AVG', column: metric.column! };
    case 'rate':
      return { op: 'RATE', filters: metric.filters!, filter_combination: metric.filter_combination ?? 'AND' };
    case 'incomplete':
      return { op: 'INCOMPLETE' };
    case 'percentile': {
      const op = (Object.keys(PERCENTILE_QUANTILE) as PercentileOp[]).find((k) => PERCENTILE_QUANTILE[k] === metric.quantile);
      return { op: op ?? 'P50', column: metric.column! };
    }
  }
}

/**
 * Replaces a metric's filters with their validated (type-coerced) form; INCOMPLETE gets the
 * filter `meta.incomplete = true` in the type of the dataset's column.
 */
export function withValidatedCalculation(metric: MetricDefinition, calc: Calculation, schema: DatasetSchema): MetricDefinition {
  if (metric.kind === 'rate') return { ...metric, filters: calc.filters ?? [], filter_combination: calc.filter_combination ?? 'AND' };
  if (metric.kind === 'incomplete') {
    const type = schema.columns.find((c) => c.name === INCOMPLETE_COLUMN)?.type ?? 'boolean';
    return { ...metric, filters: [incompleteFilter(type)], filter_combination: 'AND' };
  }
  return metric;
}
