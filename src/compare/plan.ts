/**
 * The one SQL statement behind a comparison: per cohort (a combination of
 * variant columns) the sufficient statistics of every metric and, for
 * percentile metrics, a logarithmic histogram per cohort. Nothing but these
 * aggregates leaves the database. Pure: builds text and decodes rows.
 *
 * Shape (aliases are generated, never user text; user values are `$n`):
 *
 *   src   one scan: time range, population filters and `column IS NOT NULL`
 *         for every cohort column in WHERE; cohort keys k0.. as VARCHAR, the
 *         sample rate w, metric values x0.. (rates as 0/1), histogram buckets b0..
 *   part 0  GROUP BY keys: count(*), Σw, Σw², and per moment metric the
 *           non-null count, Σw, Σw², Σw·x, Σw·x²
 *   part j  GROUP BY keys, b_j: count(*), Σw, Σw² per bucket
 *   part −1 with a unit column u: per (keys, u) X = Σw·x and Y = Σw, then
 *           GROUP BY keys: units, ΣX, ΣX², ΣY, ΣY², ΣXY per moment metric
 */
import { compileFilterPredicate, type SqlParam } from '../query/compile.js';
import { duckdbDialect, type SqlDialect } from '../query/dialect.js';
import type { Filter } from '../query/spec.js';
import { DEFAULT_RELATIVE_ACCURACY, logBucketGamma } from '../stats/percentile.js';
import type { DatasetSchema } from '../query/schema.js';
import type { MetricDefinition } from './metrics.js';

/** Bucket index standing for values ≤ 0 (the zero bucket of the log histogram). */
export const ZERO_BUCKET = -2147483648;

/**
 * Moments of one metric over the randomised units (e.g. users) of a cohort:
 * per unit X = Σw·x and Y = Σw over its events (Y counts only events with a
 * value for AVG), so the metric is the ratio ΣX/ΣY and its variance follows
 * from the delta method with units, not events, as the independent draws.
 */
export interface UnitMoments {
  units: number;
  sumX: number;
  sumXSquares: number;
  sumY: number;
  sumYSquares: number;
  sumXY: number;
}

/** Sample-rate-weighted moments of one metric in one cohort. */
export interface MomentAggregate {
  /** Stored rows with a value (all rows for rates and SUM). */
  rows: number;
  weight: number;
  weightSquares: number;
  sum: number;
  sumSquares: number;
  /** The same metric per unit, when the plan has a unit column. */
  perUnit?: UnitMoments;
}

/** A cohort's log-bucket histogram of one column (weights are sample rates). */
export interface HistogramAggregate {
  rows: number;
  weight: number;
  weightSquares: number;
  /** Weight of values ≤ 0. */
  zeroWeight: number;
  buckets: { index: number; count: number }[];
}

/** Everything the database returns about one cohort. */
export interface CohortAggregate {
  /** Variant per cohort column (in the plan's column order). */
  key: string[];
  rows: number;
  weight: number;
  weightSquares: number;
  /** Distinct units (e.g. users) of the cohort, when the plan counts a unit column. */
  units?: number;
  /** By metric index: moments (COUNT, SUM, AVG, RATE, INCOMPLETE) or a histogram (percentiles). */
  metrics: (MomentAggregate | HistogramAggregate)[];
}

export interface ComparePlanInput {
  /** The dataset's table, already quoted (as the store's `tableOf` gives it). */
  table: string;
  schema: DatasetSchema;
  /** Cohort columns, e.g. `["flag.checkout_v2", "flag.new_cart"]`. */
  cohortColumns: string[];
  /** Validated metrics (filters coerced by `validateQuery`). */
  metrics: MetricDefinition[];
  /** Validated population filters. */
  filters: Filter[];
  filterCombination: 'AND' | 'OR';
  /** Unix seconds, inclusive start and exclusive end. */
  startTime: number;
  endTime: number;
  /** Relative accuracy of percentile buckets; default 1%. */
  relativeAccuracy?: number;
  /** Column identifying the randomised unit (e.g. `user.id`): distinct units are counted per cohort for the sample-ratio test. */
  unitColumn?: string;
}

export interface CompareStatement {
  sql: string;
  params: SqlParam[];
  /** Columns of each row the statement returns. */
  width: number;
  /** Turns the statement's rows into cohort aggregates (cohorts sorted by key). */
  decode(rows: readonly (readonly unknown[])[]): CohortAggregate[];
}

function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return Number(value);
}

/** Where a metric's aggregate comes from: moments of a scan column, a histogram part, or the cohort's own count. */
type MetricSlot = { kind: 'moments'; alias: string; nonNull: boolean } | { kind: 'histogram'; part: number } | { kind: 'none' };
type MomentSlot = Extract<MetricSlot, { kind: 'moments' }>;

/** The scan columns the metrics read and where each metric's aggregate comes from. */
interface MetricColumns {
  select: string[];
  slots: MetricSlot[];
  /** Columns with a log-bucket histogram (part `j + 1` of the statement), once each however many percentiles read them. */
  histogramColumns: string[];
}

/** Builds the comparison statement. */
export function buildCompareStatement(input: ComparePlanInput, dialect: SqlDialect = duckdbDialect): CompareStatement {
  const ident = (name: string): string => dialect.quoteIdent(name);
  const params: SqlParam[] = [];
  const keys = input.cohortColumns.map((_, i) => `k${i}`);
  const srcSelect = input.cohortColumns.map((column, i) => `CAST(${ident(column)} AS VARCHAR) AS ${keys[i]}`);
  srcSelect.push(`CAST(${ident('_samplerate')} AS DOUBLE) AS w`);
  if (input.unitColumn !== undefined) srcSelect.push(`${ident(input.unitColumn)} AS u`);
  // Parameters in statement order: the time range and population filters, then RATE predicates.
  const where = scanWhere(input, params, dialect);
  const metrics = metricColumns(input, params, dialect);
  srcSelect.push(...metrics.select);
  const momentSlots = metrics.slots.filter((s): s is MomentSlot => s.kind === 'moments');
  const parts = [
    cohortMomentsPart(keys, momentSlots),
    ...metrics.histogramColumns.map((_, j) => histogramPart(keys, j, momentSlots.length)),
    ...(input.unitColumn === undefined ? [] : [unitMomentsPart(keys, momentSlots)]),
  ];
  const sql = `WITH src AS ${dialect.inlineCte}(SELECT ${srcSelect.join(', ')} FROM ${input.table} WHERE ${where})\n${parts.join('\nUNION ALL\n')}`;
  const shape: StatementShape = {
    keyWidth: keys.length,
    momentCount: momentSlots.length,
    histogramCount: metrics.histogramColumns.length,
    slots: metrics.slots,
    perUnit: input.unitColumn !== undefined,
  };
  return { sql, params, width: 5 + keys.length + momentSlots.length * 5, decode: (rows) => decodeCohorts(rows, shape) };
}

/** The scan's WHERE: the time range, a variant in every cohort column, the population filters. */
function scanWhere(input: ComparePlanInput, params: SqlParam[], dialect: SqlDialect): string {
  const time = dialect.quoteIdent('_time');
  const micros = (seconds: number): string => {
    params.push(BigInt(seconds) * 1_000_000n);
    return dialect.timestampFromMicros(`CAST(${dialect.placeholder(params.length)} AS ${dialect.sqlType('bigint')})`);
  };
  const where = [
    `${time} >= ${micros(input.startTime)}`,
    `${time} < ${micros(input.endTime)}`,
    ...input.cohortColumns.map((column) => `${dialect.quoteIdent(column)} IS NOT NULL`),
  ];
  const population = compileFilterPredicate(input.filters, input.filterCombination, input.schema, params, dialect);
  if (population !== undefined) where.push(population);
  return where.join(' AND ');
}

/** A metric's scan expression: a value per event (moments), a log-bucket index (percentiles), or nothing (COUNT). */
export type MetricExpression =
  | { kind: 'moments'; expr: string; nonNull: boolean }
  | { kind: 'histogram'; column: string; expr: string }
  | { kind: 'none' };

/**
 * The scan expression of one metric (its parameters appended to `params`): rates as 0/1, AVG's
 * value (null when absent), SUM's (0 when absent), a percentile's log-bucket index of its column.
 */
export function metricExpression(
  metric: MetricDefinition,
  schema: DatasetSchema,
  params: SqlParam[],
  dialect: SqlDialect,
  relativeAccuracy: number = DEFAULT_RELATIVE_ACCURACY,
): MetricExpression {
  const ident = (name: string): string => dialect.quoteIdent(name);
  switch (metric.kind) {
    case 'count':
      return { kind: 'none' };
    case 'avg':
      return { kind: 'moments', expr: `CAST(${ident(metric.column!)} AS DOUBLE)`, nonNull: true };
    case 'sum':
      return { kind: 'moments', expr: `coalesce(CAST(${ident(metric.column!)} AS DOUBLE), 0)`, nonNull: false };
    case 'rate':
    case 'incomplete': {
      const predicate = compileFilterPredicate(metric.filters ?? [], metric.filter_combination ?? 'AND', schema, params, dialect);
      return { kind: 'moments', expr: `CASE WHEN coalesce(${predicate ?? 'false'}, false) THEN 1.0 ELSE 0.0 END`, nonNull: false };
    }
    case 'percentile': {
      const lnGamma = Math.log(logBucketGamma(relativeAccuracy));
      const v = `CAST(${ident(metric.column!)} AS DOUBLE)`;
      return {
        kind: 'histogram',
        column: metric.column!,
        expr: `CASE WHEN ${v} > 0 THEN CAST(floor(ln(${v}) / ${dialect.doubleLiteral(lnGamma)}) AS INTEGER) WHEN ${v} IS NOT NULL THEN ${ZERO_BUCKET} END`,
      };
    }
  }
}

/** Per metric, the scan column it reads (`x{i}`, or `b{j}` the log-bucket index of a percentile's column). */
function metricColumns(input: ComparePlanInput, params: SqlParam[], dialect: SqlDialect): MetricColumns {
  const planned: MetricColumns = { select: [], slots: [], histogramColumns: [] };
  input.metrics.forEach((metric, i) => {
    // A percentile's column is bucketed once however many percentiles read it (and adds no parameter).
    if (metric.kind === 'percentile' && planned.histogramColumns.includes(metric.column!)) {
      planned.slots.push({ kind: 'histogram', part: planned.histogramColumns.indexOf(metric.column!) + 1 });
      return;
    }
    const expression = metricExpression(metric, input.schema, params, dialect, input.relativeAccuracy);
    switch (expression.kind) {
      case 'none':
        planned.slots.push({ kind: 'none' });
        return;
      case 'moments':
        planned.select.push(`${expression.expr} AS x${i}`);
        planned.slots.push({ kind: 'moments', alias: `x${i}`, nonNull: expression.nonNull });
        return;
      case 'histogram': {
        const part = planned.histogramColumns.push(expression.column) - 1;
        planned.select.push(`${expression.expr} AS b${part}`);
        planned.slots.push({ kind: 'histogram', part: part + 1 });
        return;
      }
    }
  });
  return planned;
}

/** Part 0: per cohort, its counts and, per moment metric, count, Σw, Σw², Σw·x, Σw·x². */
function cohortMomentsPart(keys: string[], momentSlots: MomentSlot[]): string {
  const keyList = keys.join(', ');
  const momentColumns = momentSlots.flatMap(({ alias, nonNull }) => {
    const filter = nonNull ? ` FILTER (WHERE ${alias} IS NOT NULL)` : '';
    return [
      `CAST(count(${alias}) AS DOUBLE)`,
      `coalesce(sum(w)${filter}, 0)`,
      `coalesce(sum(w * w)${filter}, 0)`,
      `coalesce(sum(w * ${alias}), 0)`,
      `coalesce(sum(w * ${alias} * ${alias}), 0)`,
    ];
  });
  return `SELECT 0 AS part, ${keyList}, CAST(NULL AS INTEGER) AS bucket, CAST(count(*) AS DOUBLE) AS n, sum(w) AS sw, sum(w * w) AS sww${momentColumns.map((c) => `, ${c}`).join('')} FROM src GROUP BY ${keyList}`;
}

/** Part `j + 1`: per cohort and log bucket of histogram column `j`, the bucket's counts (moment columns null). */
function histogramPart(keys: string[], j: number, momentCount: number): string {
  const keyList = keys.join(', ');
  const nullMoments = ', CAST(NULL AS DOUBLE)'.repeat(momentCount * 5);
  return `SELECT ${j + 1} AS part, ${keyList}, b${j} AS bucket, CAST(count(*) AS DOUBLE), sum(w), sum(w * w)${nullMoments} FROM src WHERE b${j} IS NOT NULL GROUP BY ${keyList}, b${j}`;
}

/** Part -1: per unit first (X = Σw·x, Y = Σw), then per cohort the distinct units and the moments of X and Y across them. */
function unitMomentsPart(keys: string[], momentSlots: MomentSlot[]): string {
  const keyList = keys.join(', ');
  const perUnit = momentSlots.flatMap(({ alias, nonNull }, m) => [
    `coalesce(sum(w * ${alias}), 0) AS ux${m}`,
    `coalesce(sum(w)${nonNull ? ` FILTER (WHERE ${alias} IS NOT NULL)` : ''}, 0) AS uy${m}`,
  ]);
  const acrossUnits = momentSlots.flatMap((_, m) => [
    `sum(ux${m})`,
    `sum(ux${m} * ux${m})`,
    `sum(uy${m})`,
    `sum(uy${m} * uy${m})`,
    `sum(ux${m} * uy${m})`,
  ]);
  return (
    `SELECT -1 AS part, ${keyList}, CAST(NULL AS INTEGER) AS bucket, CAST(count(*) AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE)${acrossUnits.map((c) => `, ${c}`).join('')}` +
    ` FROM (SELECT ${keyList}, u${perUnit.map((c) => `, ${c}`).join('')} FROM src WHERE u IS NOT NULL GROUP BY ${keyList}, u) GROUP BY ${keyList}`
  );
}

/** What the decoder needs to know of the statement. */
interface StatementShape {
  keyWidth: number;
  momentCount: number;
  histogramCount: number;
  slots: MetricSlot[];
  /** The statement has the per-unit part (-1). */
  perUnit: boolean;
}

/** What the rows say about one cohort, gathered across the statement's parts. */
interface CohortParts {
  cohort: CohortAggregate;
  histograms: HistogramAggregate[];
  moments?: MomentAggregate[];
  unitMoments?: UnitMoments[];
}

/** The statement's rows as cohort aggregates, cohorts sorted by key. */
function decodeCohorts(rows: readonly (readonly unknown[])[], shape: StatementShape): CohortAggregate[] {
  const byKey = new Map<string, CohortParts>();
  for (const row of rows) {
    const key = row.slice(1, 1 + shape.keyWidth).map((v) => String(v));
    const id = JSON.stringify(key);
    let parts = byKey.get(id);
    if (parts === undefined) {
      parts = {
        cohort: { key, rows: 0, weight: 0, weightSquares: 0, metrics: [] },
        histograms: Array.from({ length: shape.histogramCount }, () => ({
          rows: 0,
          weight: 0,
          weightSquares: 0,
          zeroWeight: 0,
          buckets: [],
        })),
      };
      byKey.set(id, parts);
    }
    readRow(row, parts, shape);
  }
  const out = [...byKey.values()].map((parts) => assembleCohort(parts, shape));
  out.sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
  return out;
}

/** Adds one row of the statement (of any part) to its cohort's parts. */
function readRow(row: readonly unknown[], parts: CohortParts, shape: StatementShape): void {
  const { keyWidth } = shape;
  const part = num(row[0]);
  const [n, sw, sww] = [num(row[2 + keyWidth]), num(row[3 + keyWidth]), num(row[4 + keyWidth])];
  const column = (m: number, k: number): number => num(row[5 + keyWidth + m * 5 + k]);
  const perMoment = <T>(read: (m: number) => T): T[] => Array.from({ length: shape.momentCount }, (_, m) => read(m));
  const { cohort } = parts;
  if (part === 0) {
    cohort.rows = n;
    cohort.weight = sw;
    cohort.weightSquares = sww;
    parts.moments = perMoment((m) => ({
      rows: column(m, 0),
      weight: column(m, 1),
      weightSquares: column(m, 2),
      sum: column(m, 3),
      sumSquares: column(m, 4),
    }));
  } else if (part === -1) {
    cohort.units = n;
    parts.unitMoments = perMoment((m) => ({
      units: n,
      sumX: column(m, 0),
      sumXSquares: column(m, 1),
      sumY: column(m, 2),
      sumYSquares: column(m, 3),
      sumXY: column(m, 4),
    }));
  } else {
    const h = parts.histograms[part - 1]!;
    h.rows += n;
    h.weight += sw;
    h.weightSquares += sww;
    const index = num(row[1 + keyWidth]);
    if (index === ZERO_BUCKET) h.zeroWeight += sw;
    else h.buckets.push({ index, count: sw });
  }
}

/** The cohort with one aggregate per metric, in metric order. */
function assembleCohort(parts: CohortParts, shape: StatementShape): CohortAggregate {
  const { cohort } = parts;
  const moments: MomentAggregate[] =
    parts.moments ?? Array.from({ length: shape.momentCount }, () => ({ rows: 0, weight: 0, weightSquares: 0, sum: 0, sumSquares: 0 }));
  if (shape.perUnit) {
    moments.forEach((moment, k) => {
      moment.perUnit = parts.unitMoments?.[k] ?? { units: 0, sumX: 0, sumXSquares: 0, sumY: 0, sumYSquares: 0, sumXY: 0 };
    });
    cohort.units ??= 0;
  }
  let m = 0;
  cohort.metrics = shape.slots.map((slot) => {
    if (slot.kind === 'moments') return moments[m++]!;
    if (slot.kind === 'histogram') return parts.histograms[slot.part - 1]!;
    return { rows: cohort.rows, weight: cohort.weight, weightSquares: cohort.weightSquares, sum: cohort.weight, sumSquares: cohort.weight };
  });
  return cohort;
}

/** True when an aggregate is a histogram (percentile metrics). */
export function isHistogram(aggregate: MomentAggregate | HistogramAggregate): aggregate is HistogramAggregate {
  return 'buckets' in aggregate;
}
