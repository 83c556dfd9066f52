/**
 * The query compiler: a validated query becomes one parameterised SQL
 * statement plus a decoder for the rows it returns. Pure: no I/O, no clock.
 *
 * Shape of the statement (aliases are generated, never user text):
 *
 *   src      one scan: time range and filters in WHERE; breakdowns as g0.., the
 *            time bucket as b, the sample rate as w, calculation columns as v0..,
 *            RATE predicates as r0..
 *   base     GROUP BY the keys: COUNT/SUM/AVG/MIN/MAX/COUNT_DISTINCT/RATE and,
 *            without sampling, quantile_cont
 *   pb..pr   weighted percentiles: a histogram of the weights over value bins
 *            narrows each group down to the rows around floor(h) and ceil(h),
 *            h = (W − 1)·q, whose values are interpolated (compile/weighted-percentiles.ts)
 *   hb/hh/hr HEATMAP: query-wide min/max, then weighted counts per bucket index
 *   agg      the keys and every calculation's output columns (compile/aggregate.ts)
 *
 * Without `granularity` the statement returns one row per group:
 * `[g0.., calculation columns..]`. With it, it returns the result rows and the
 * series rows in one result set: `[kind (0 result, 1 series), rank, bucket, g0.., calculation columns..]`.
 */
import { duckdbDialect, type SqlDialect, type SqlParam } from './dialect.js';
import { aggregate, outputColumns } from './compile/aggregate.js';
import { type CalculationPlans, planCalculations, ScanSelect } from './compile/calculations.js';
import { type DecodedRows, rowDecoder } from './compile/decode.js';
import { columnTypes, compileFilters } from './compile/filters.js';
import { ParamList } from './compile/params.js';
import { havingClause, orderByClause } from './compile/results.js';
import type { ColumnType, DatasetSchema } from './schema.js';
import type { Filter } from './spec.js';
import type { NormalizedQuery } from './validate.js';

export type { DecodedRows } from './compile/decode.js';
export type { SqlParam } from './dialect.js';

export interface CompiledQuery {
  /** One statement; user values appear only as `$n` placeholders. */
  sql: string;
  /** The values of `$1`, `$2`, … in order. */
  params: SqlParam[];
  /** Calculation names in spec order, as keys of `data` (for `meta.calculations`). */
  calculations: string[];
  /** Breakdown columns, as keys of `data` (for `meta.breakdowns`). */
  breakdowns: string[];
  /**
   * Turns the statement's rows (arrays of column values, as `reader.getRows()`
   * gives them: bigint, number, string, boolean or null) into `QueryResult.data`.
   */
  decode(rows: readonly (readonly unknown[])[]): DecodedRows;
}

interface CompileTarget {
  /** The dataset's physical table name (quoted by the compiler). */
  table: string;
}

/**
 * Compiles a validated query into one DuckDB statement and a row decoder.
 *
 * @param q the output of `validateQuery` (never a raw spec)
 * @param schema the same schema the query was validated against; `hasSampling` picks the percentile path
 * @param target the physical table of the dataset
 * @param dialect the SQL dialect (DuckDB by default)
 */
export function compileQuery(
  q: NormalizedQuery,
  schema: DatasetSchema,
  target: CompileTarget,
  dialect: SqlDialect = duckdbDialect,
): CompiledQuery {
  const types = columnTypes(schema);
  const params = new ParamList(dialect);
  const groupAliases = q.breakdowns.map((_, i) => `g${i}`);
  // Parameters are bound in statement order: the time bucket, RATE predicates, the WHERE clause, havings, the limit.
  const scan = new ScanSelect(dialect);
  q.breakdowns.forEach((b, i) => scan.add(`${dialect.quoteIdent(b)} AS ${groupAliases[i]}`));
  if (q.granularity !== undefined) {
    const width = params.bind(BigInt(q.granularity) * 1_000_000n, dialect.sqlType('bigint'));
    scan.add(`${dialect.floorDivide(dialect.epochMicros(dialect.quoteIdent('_time')), width)} AS b`);
  }
  scan.add(`${dialect.quoteIdent('_samplerate')} AS w`);
  const calculations = planCalculations(q.calculations, { scan, types, params, dialect, weighted: schema.hasSampling });
  const where = whereClause(q, types, params, dialect);
  const ctes = [`src AS ${dialect.inlineCte}(SELECT ${scan.columns.join(', ')} FROM ${dialect.quoteIdent(target.table)} WHERE ${where})`];
  const results: ResultsQuery = {
    groupAliases,
    calculations,
    orderBy: orderByClause(q, calculations.plans, groupAliases),
    having: havingClause(q, calculations.plans, params, dialect),
    outputs: [...groupAliases, ...calculations.plans.flatMap(outputColumns)],
  };
  const sql =
    q.granularity === undefined
      ? groupedStatement(results, ctes, q.limit, params, dialect)
      : seriesStatement(results, ctes, q.limit, params, dialect);
  const breakdownTypes = q.breakdowns.map((b) => types.get(b) ?? 'string');
  return {
    sql,
    params: params.values,
    calculations: calculations.plans.map((p) => p.name),
    breakdowns: [...q.breakdowns],
    decode: rowDecoder(q.breakdowns, breakdownTypes, calculations.plans, q.granularity),
  };
}

/** The parts of the statement that select, filter and order the result groups. */
interface ResultsQuery {
  groupAliases: string[];
  calculations: CalculationPlans;
  orderBy: string;
  /** ` WHERE …` of the havings, or empty. */
  having: string;
  /** Output columns after the statement's leading ones: breakdowns, then every calculation's. */
  outputs: string[];
}

/** The scan's WHERE clause: the time range, then the query's filters. */
function whereClause(q: NormalizedQuery, types: Map<string, ColumnType>, params: ParamList, dialect: SqlDialect): string {
  const time = dialect.quoteIdent('_time');
  const micros = (seconds: number): string =>
    dialect.timestampFromMicros(params.bind(BigInt(seconds) * 1_000_000n, dialect.sqlType('bigint')));
  const where = [`${time} >= ${micros(q.start_time)}`, `${time} < ${micros(q.end_time)}`];
  const filterSql = compileFilters(q.filters, q.filter_combination, types, params, dialect);
  if (filterSql !== undefined) where.push(filterSql);
  return where.join(' AND ');
}

/** Without granularity: one row per result group, `[g0.., calculation columns..]`. */
function groupedStatement(results: ResultsQuery, ctes: string[], limit: number, params: ParamList, dialect: SqlDialect): string {
  const resultsAgg = aggregate(
    { source: 'src', keys: results.groupAliases, suffix: 'r', candidateSource: 'src' },
    results.calculations,
    ctes,
    dialect,
  );
  const limitParam = params.bind(limit, dialect.sqlType('bigint'));
  return `WITH ${ctes.join(',\n')}\nSELECT ${results.outputs.join(', ')} FROM ${resultsAgg}${results.having} ORDER BY ${results.orderBy} LIMIT ${limitParam}`;
}

/**
 * With granularity: the top groups (`top`, ranked `rk`) as result rows, and the same aggregation per time bucket
 * of those groups as series rows, `[kind (0 result, 1 series), rank, bucket, g0.., calculation columns..]`.
 */
function seriesStatement(results: ResultsQuery, ctes: string[], limit: number, params: ParamList, dialect: SqlDialect): string {
  const { groupAliases, outputs } = results;
  const resultsAgg = aggregate(
    { source: 'src', keys: groupAliases, suffix: 'r', candidateSource: 'src' },
    results.calculations,
    ctes,
    dialect,
  );
  const limitParam = params.bind(limit, dialect.sqlType('bigint'));
  ctes.push(
    `top AS (SELECT * FROM (SELECT *, row_number() OVER (ORDER BY ${results.orderBy}) AS rk FROM ${resultsAgg}${results.having}) WHERE rk <= ${limitParam})`,
  );
  const sameGroup = (left: string, right: string): string =>
    groupAliases.map((g) => dialect.nullSafeEquals(`${left}.${g}`, `${right}.${g}`)).join(' AND ');
  let seriesSource = 'src';
  if (groupAliases.length > 0) {
    ctes.push(`src_top AS (SELECT src.* FROM src ${dialect.semiJoin} top ON ${sameGroup('src', 'top')})`);
    seriesSource = 'src_top';
  }
  // The series' weighted-percentile candidates read `src` itself: their join to the targets is on every group key,
  // so rows outside the top groups match nothing, and a plain scan takes the targets' value range as a scan filter.
  const seriesAgg = aggregate(
    { source: seriesSource, keys: [...groupAliases, 'b'], suffix: 's', candidateSource: 'src' },
    results.calculations,
    ctes,
    dialect,
  );
  const joinTop = groupAliases.length > 0 ? `JOIN top ON ${sameGroup(seriesAgg, 'top')}` : 'CROSS JOIN top';
  return (
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT 0 AS kind, rk, CAST(NULL AS BIGINT) AS b${outputs.map((c) => `, ${c}`).join('')} FROM top\n` +
    `UNION ALL\n` +
    `SELECT 1 AS kind, top.rk, ${seriesAgg}.b${outputs.map((c) => `, ${seriesAgg}.${c}`).join('')} FROM ${seriesAgg} ${joinTop}\n` +
    `ORDER BY kind, b, rk`
  );
}

/**
 * Compiles validated filters (as `validateQuery` returns them) into one SQL
 * predicate for statements built outside `compileQuery` (cohort comparisons,
 * explanations). Values are appended to `params` and appear only as `$n`
 * placeholders; undefined when there are no filters.
 */
export function compileFilterPredicate(
  filters: Filter[],
  combination: 'AND' | 'OR',
  schema: DatasetSchema,
  params: SqlParam[],
  dialect: SqlDialect = duckdbDialect,
): string | undefined {
  const list = new ParamList(dialect);
  list.values.push(...params);
  const sql = compileFilters(filters, combination, columnTypes(schema), list, dialect);
  params.splice(0, params.length, ...list.values);
  return sql;
}
