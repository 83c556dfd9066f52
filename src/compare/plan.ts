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
  /** Turns the statement's rows into cohort aggregates (cohorts sorted by key). */
  decode(rows: readonly (readonly unknown[])[]): CohortAggregate[];
}

function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return Number(value);
}

/** Builds the comparison statement. */
export function buildCompareStatement(input: ComparePlanInput, dialect: SqlDialect = duckdbDialect): CompareStatement {
  const ident = (name: string): string => dialect.quoteIdent(name);
  const params: SqlParam[] = [];
  const bind = (value: SqlParam, type: string): string => {
    params.push(value);
    return `CAST(${dialect.placeholder(params.length)} AS ${type})`;
  };
  const keys = input.cohortColumns.map((_, i) => `k${i}`);
  const srcSelect = input.cohortColumns.map((column, i) => `CAST(${ident(column)} AS VARCHAR) AS ${keys[i]}`);
  srcSelect.push(`CAST(${ident('_samplerate')} AS DOUBLE) AS w`);
  if (input.unitColumn !== undefined) srcSelect.push(`${ident(input.unitColumn)} AS u`);
  const where = [
    `${ident('_time')} >= ${dialect.timestampFromMicros(bind(BigInt(input.startTime) * 1_000_000n, dialect.sqlType('bigint')))}`,
    `${ident('_time')} < ${dialect.timestampFromMicros(bind(BigInt(input.endTime) * 1_000_000n, dialect.sqlType('bigint')))}`,
    ...input.cohortColumns.map((column) => `${ident(column)} IS NOT NULL`),
  ];
  const population = compileFilterPredicate(input.filters, input.filterCombination, input.schema, params, dialect);
  if (population !== undefined) where.push(population);

  const lnGamma = Math.log(logBucketGamma(input.relativeAccuracy ?? DEFAULT_RELATIVE_ACCURACY));
  type Slot = { kind: 'moments'; alias: string; nonNull: boolean } | { kind: 'histogram'; part: number } | { kind: 'none' };
  const slots: Slot[] = [];
  const histogramColumns: string[] = [];
  input.metrics.forEach((metric, i) => {
    const x = `x${i}`;
    switch (metric.kind) {
      case 'count':
        slots.push({ kind: 'none' });
        return;
      case 'avg':
        srcSelect.push(`CAST(${ident(metric.column!)} AS DOUBLE) AS ${x}`);
        slots.push({ kind: 'moments', alias: x, nonNull: true });
        return;
      case 'sum':
        srcSelect.push(`coalesce(CAST(${ident(metric.column!)} AS DOUBLE), 0) AS ${x}`);
        slots.push({ kind: 'moments', alias: x, nonNull: false });
        return;
      case 'rate':
      case 'incomplete': {
        const predicate = compileFilterPredicate(metric.filters ?? [], metric.filter_combination ?? 'AND', input.schema, params, dialect);
        srcSelect.push(`CASE WHEN coalesce(${predicate ?? 'false'}, false) THEN 1.0 ELSE 0.0 END AS ${x}`);
        slots.push({ kind: 'moments', alias: x, nonNull: false });
        return;
      }
      case 'percentile': {
        let part = histogramColumns.indexOf(metric.column!);
        if (part < 0) {
          part = histogramColumns.push(metric.column!) - 1;
          const v = `CAST(${ident(metric.column!)} AS DOUBLE)`;
          srcSelect.push(
            `CASE WHEN ${v} > 0 THEN CAST(floor(ln(${v}) / ${dialect.doubleLiteral(lnGamma)}) AS INTEGER) WHEN ${v} IS NOT NULL THEN ${ZERO_BUCKET} END AS b${part}`,
          );
        }
        slots.push({ kind: 'histogram', part: part + 1 });
        return;
      }
    }
  });

  const momentAliases = slots.flatMap((s) => (s.kind === 'moments' ? [s] : []));
  const momentColumns = momentAliases.flatMap(({ alias, nonNull }) => {
    const filter = nonNull ? ` FILTER (WHERE ${alias} IS NOT NULL)` : '';
    return [
      `CAST(count(${alias}) AS DOUBLE)`,
      `coalesce(sum(w)${filter}, 0)`,
      `coalesce(sum(w * w)${filter}, 0)`,
      `coalesce(sum(w * ${alias}), 0)`,
      `coalesce(sum(w * ${alias} * ${alias}), 0)`,
    ];
  });
  const nullMoments = momentColumns.map(() => 'CAST(NULL AS DOUBLE)');
  const keyList = keys.join(', ');
  const parts: string[] = [];
  parts.push(
    `SELECT 0 AS part, ${keyList}, CAST(NULL AS INTEGER) AS bucket, CAST(count(*) AS DOUBLE) AS n, sum(w) AS sw, sum(w * w) AS sww${momentColumns.map((c) => `, ${c}`).join('')} FROM src GROUP BY ${keyList}`,
  );
  histogramColumns.forEach((_, j) => {
    parts.push(
      `SELECT ${j + 1} AS part, ${keyList}, b${j} AS bucket, CAST(count(*) AS DOUBLE), sum(w), sum(w * w)${nullMoments.map((c) => `, ${c}`).join('')} FROM src WHERE b${j} IS NOT NULL GROUP BY ${keyList}, b${j}`,
    );
  });
  if (input.unitColumn !== undefined) {
    // Per unit first (X = Σw·x, Y = Σw), then per cohort the moments of X and Y across units.
    const perUnit = momentAliases.flatMap(({ alias, nonNull }, m) => [
      `coalesce(sum(w * ${alias}), 0) AS ux${m}`,
      `coalesce(sum(w)${nonNull ? ` FILTER (WHERE ${alias} IS NOT NULL)` : ''}, 0) AS uy${m}`,
    ]);
    const acrossUnits = momentAliases.flatMap((_, m) => [
      `sum(ux${m})`,
      `sum(ux${m} * ux${m})`,
      `sum(uy${m})`,
      `sum(uy${m} * uy${m})`,
      `sum(ux${m} * uy${m})`,
    ]);
    parts.push(
      `SELECT -1 AS part, ${keyList}, CAST(NULL AS INTEGER) AS bucket, CAST(count(*) AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE)${acrossUnits.map((c) => `, ${c}`).join('')}` +
        ` FROM (SELECT ${keyList}, u${perUnit.map((c) => `, ${c}`).join('')} FROM src WHERE u IS NOT NULL GROUP BY ${keyList}, u) GROUP BY ${keyList}`,
    );
  }
  const sql = `WITH src AS ${dialect.inlineCte}(SELECT ${srcSelect.join(', ')} FROM ${input.table} WHERE ${where.join(' AND ')})\n${parts.join('\nUNION ALL\n')}`;

  const decode = (rows: readonly (readonly unknown[])[]): CohortAggregate[] => {
    const cohorts = new Map<string, CohortAggregate>();
    const histograms = new Map<string, HistogramAggregate[]>();
    const keyWidth = keys.length;
    const cohortOf = (key: string[]): { cohort: CohortAggregate; parts: HistogramAggregate[] } => {
      const id = JSON.stringify(key);
      let cohort = cohorts.get(id);
      let hs = histograms.get(id);
      if (cohort === undefined || hs === undefined) {
        cohort = { key, rows: 0, weight: 0, weightSquares: 0, metrics: [] };
        hs = histogramColumns.map(() => ({ rows: 0, weight: 0, weightSquares: 0, zeroWeight: 0, buckets: [] }));
        cohorts.set(id, cohort);
        histograms.set(id, hs);
      }
      return { cohort, parts: hs };
    };
    const moments = new Map<string, MomentAggregate[]>();
    const unitMoments = new Map<string, UnitMoments[]>();
    for (const row of rows) {
      const part = num(row[0]);
      const key = row.slice(1, 1 + keyWidth).map((v) => String(v));
      const bucket = row[1 + keyWidth];
      const [n, sw, sww] = [num(row[2 + keyWidth]), num(row[3 + keyWidth]), num(row[4 + keyWidth])];
      const { cohort, parts: hs } = cohortOf(key);
      if (part === 0) {
        cohort.rows = n;
        cohort.weight = sw;
        cohort.weightSquares = sww;
        const values: MomentAggregate[] = momentAliases.map((_, m) => {
          const base = 5 + keyWidth + m * 5;
          return {
            rows: num(row[base]),
            weight: num(row[base + 1]),
            weightSquares: num(row[base + 2]),
            sum: num(row[base + 3]),
            sumSquares: num(row[base + 4]),
          };
        });
        moments.set(JSON.stringify(key), values);
      } else if (part === -1) {
        cohort.units = n;
        unitMoments.set(
          JSON.stringify(key),
          momentAliases.map((_, m) => {
            const base = 5 + keyWidth + m * 5;
            return {
              units: n,
              sumX: num(row[base]),
              sumXSquares: num(row[base + 1]),
              sumY: num(row[base + 2]),
              sumYSquares: num(row[base + 3]),
              sumXY: num(row[base + 4]),
            };
          }),
        );
      } else {
        const h = hs[part - 1]!;
        h.rows += n;
        h.weight += sw;
        h.weightSquares += sww;
        const index = num(bucket);
        if (index === ZERO_BUCKET) h.zeroWeight += sw;
        else h.buckets.push({ index, count: sw });
      }
    }
    const out: CohortAggregate[] = [];
    for (const [id, cohort] of cohorts) {
      const ms: MomentAggregate[] =
        moments.get(id) ?? momentAliases.map(() => ({ rows: 0, weight: 0, weightSquares: 0, sum: 0, sumSquares: 0 }));
      const us = unitMoments.get(id);
      if (input.unitColumn !== undefined) {
        ms.forEach((moment, k) => {
          moment.perUnit = us?.[k] ?? { units: 0, sumX: 0, sumXSquares: 0, sumY: 0, sumYSquares: 0, sumXY: 0 };
        });
        cohort.units ??= 0;
      }
      const hs = histograms.get(id)!;
      let m = 0;
      cohort.metrics = slots.map((slot) => {
        if (slot.kind === 'moments') return ms[m++]!;
        if (slot.kind === 'histogram') return hs[slot.part - 1]!;
        return {
          rows: cohort.rows,
          weight: cohort.weight,
          weightSquares: cohort.weightSquares,
          sum: cohort.weight,
          sumSquares: cohort.weight,
        };
      });
      out.push(cohort);
    }
    out.sort((a, b) => (JSON.stringify(a.key) < JSON.stringify(b.key) ? -1 : 1));
    return out;
  };

  return { sql, params, decode };
}

/** True when an aggregate is a histogram (percentile metrics). */
export function isHistogram(aggregate: MomentAggregate | HistogramAggregate): aggregate is HistogramAggregate {
  return 'buckets' in aggregate;
}
