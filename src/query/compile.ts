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
 *   pw/pc/pr weighted percentiles: (keys, value, sum(w)) → running weight → the
 *            values at floor(h) and ceil(h), h = (W − 1)·q, interpolated
 *   hb/hh/hr HEATMAP: query-wide min/max, then weighted counts per bucket index
 *
 * Without `granularity` the statement returns one row per group:
 * `[g0.., calculation columns..]`. With it, it returns the result rows and the
 * series rows in one result set: `[kind (0 result, 1 series), rank, bucket, g0.., calculation columns..]`.
 */
import { FlagscopeError } from '../errors.js';
import type { ColumnType, DatasetSchema } from './schema.js';
import { duckdbDialect, type SqlDialect, type SqlParam } from './dialect.js';
import { calculationName } from './format.js';
import {
  PERCENTILE_QUANTILE,
  type Calculation,
  type Filter,
  type FilterValue,
  type HeatmapValue,
  type Order,
  type PercentileOp,
  type ResultRow,
  type SeriesRow,
} from './spec.js';
import type { NormalizedQuery } from './validate.js';

/** Number of equal-width buckets of a HEATMAP between the query-wide min and max. */
export const HEATMAP_BUCKETS = 30;
/** Value bins of the histogram that narrows weighted percentiles down to the rows worth sorting. */
export const PERCENTILE_BINS = 1024;

export type { SqlParam } from './dialect.js';

export interface DecodedRows {
  results: ResultRow[];
  series?: SeriesRow[];
}

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

type CalcPlan =
  | { kind: 'scalar'; name: string; numeric: boolean; baseExpr: string }
  | { kind: 'listed-quantile'; name: string; listAlias: string; index: number }
  | { kind: 'weighted-quantile'; name: string; valueAlias: string; q: number; slot: number }
  | { kind: 'heatmap'; name: string; valueAlias: string };

class ParamList {
  readonly values: SqlParam[] = [];
  constructor(private readonly dialect: SqlDialect) {}

  /** A placeholder cast to `sqlType`, so the bound value's JS type never decides the SQL type. */
  bind(value: SqlParam, sqlType: string): string {
    // Drivers bind whole JS numbers as 64-bit integers; beyond 2^53 pass the text and let the CAST read it.
    this.values.push(typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) ? String(value) : value);
    return `CAST(${this.dialect.placeholder(this.values.length)} AS ${sqlType})`;
  }
}

function internal(message: string): FlagscopeError {
  return new FlagscopeError('internal', message, 'this is a bug in flagscope: please report it');
}

function columnTypes(schema: DatasetSchema): Map<string, ColumnType> {
  return new Map(schema.columns.map((c) => [c.name, c.type]));
}

/** The SQL predicate of one filter; null semantics as documented in docs/query.md. */
function compileFilter(filter: Filter, type: ColumnType, params: ParamList, dialect: SqlDialect): string {
  const col = dialect.quoteIdent(filter.column);
  const bindValue = (value: FilterValue): string => {
    // A fraction, or an integer beyond 2^53 (possibly beyond BIGINT), compares as a double.
    if (type === 'integer' && typeof value === 'number' && !Number.isSafeInteger(value))
      return params.bind(value, dialect.sqlType('float'));
    return params.bind(value, dialect.sqlType(type));
  };
  const single = (): FilterValue => {
    if (filter.value === undefined || Array.isArray(filter.value)) throw internal(`filter ${filter.op} without a single value`);
    return filter.value;
  };
  switch (filter.op) {
    case 'exists':
      return `${col} IS NOT NULL`;
    case 'does-not-exist':
      return `${col} IS NULL`;
    case '=': {
      const value = single();
      return value === null ? `${col} IS NULL` : `${col} = ${bindValue(value)}`;
    }
    case '!=': {
      const value = single();
      return value === null ? `${col} IS NOT NULL` : `${col} IS DISTINCT FROM ${bindValue(value)}`;
    }
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const value = single();
      if (value === null) throw internal(`filter ${filter.op} with null`);
      return `${col} ${filter.op} ${bindValue(value)}`;
    }
    case 'starts-with':
      return dialect.startsWith(col, params.bind(String(single()), dialect.sqlType('string')));
    case 'does-not-start-with':
      return `(${col} IS NULL OR NOT ${dialect.startsWith(col, params.bind(String(single()), dialect.sqlType('string')))})`;
    case 'contains':
      return dialect.contains(col, params.bind(String(single()), dialect.sqlType('string')));
    case 'does-not-contain':
      return `(${col} IS NULL OR NOT ${dialect.contains(col, params.bind(String(single()), dialect.sqlType('string')))})`;
    case 'in':
    case 'not-in': {
      const values = Array.isArray(filter.value) ? filter.value : [filter.value ?? null];
      const present = values.filter((v): v is Exclude<FilterValue, null> => v !== null);
      const withNull = present.length < values.length;
      const list = present.length > 0 ? `${col} IN (${present.map(bindValue).join(', ')})` : undefined;
      if (filter.op === 'in') {
        if (list === undefined) return `${col} IS NULL`;
        return withNull ? `(${list} OR ${col} IS NULL)` : list;
      }
      if (list === undefined) return `${col} IS NOT NULL`;
      return withNull ? `(${col} IS NOT NULL AND NOT ${list})` : `(${col} IS NULL OR NOT ${list})`;
    }
  }
}

function compileFilters(
  filters: Filter[],
  combination: 'AND' | 'OR',
  types: Map<string, ColumnType>,
  params: ParamList,
  dialect: SqlDialect,
): string | undefined {
  if (filters.length === 0) return undefined;
  const parts = filters.map((f) => {
    const type = types.get(f.column);
    if (type === undefined) throw internal(`filter on a column missing from the schema`);
    return `(${compileFilter(f, type, params, dialect)})`;
  });
  return parts.length === 1 ? parts[0] : `(${parts.join(` ${combination} `)})`;
}

const HAVING_SQL_OP: Record<string, string> = { '=': '=', '!=': '<>', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };

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
  const weighted = schema.hasSampling;
  const ident = (name: string): string => dialect.quoteIdent(name);

  // --- src: the one scan -------------------------------------------------
  const groupAliases = q.breakdowns.map((_, i) => `g${i}`);
  const srcSelect: string[] = q.breakdowns.map((b, i) => `${ident(b)} AS ${groupAliases[i]}`);
  const granularity = q.granularity;
  if (granularity !== undefined) {
    srcSelect.push(
      `${dialect.floorDivide(dialect.epochMicros(ident('_time')), params.bind(BigInt(granularity) * 1_000_000n, dialect.sqlType('bigint')))} AS b`,
    );
  }
  srcSelect.push(`${ident('_samplerate')} AS w`);

  const valueAliasByColumn = new Map<string, string>();
  const valueAlias = (column: string): string => {
    let alias = valueAliasByColumn.get(column);
    if (alias === undefined) {
      alias = `v${valueAliasByColumn.size}`;
      valueAliasByColumn.set(column, alias);
      srcSelect.push(`${ident(column)} AS ${alias}`);
    }
    return alias;
  };

  // --- calculation plans ---------------------------------------------------
  const plans: CalcPlan[] = [];
  const baseAggs: string[] = [];
  const listedQuantiles = new Map<string, { alias: string; qs: number[] }>();
  const weightedQuantiles = new Map<string, number[]>();
  const heatmapColumns = new Set<string>();
  let rateCount = 0;

  for (const calc of q.calculations) {
    const name = calculationName(calc);
    const scalar = (expr: string, numeric = true): void => {
      plans.push({ kind: 'scalar', name, numeric, baseExpr: expr });
    };
    switch (calc.op) {
      case 'COUNT':
        scalar(weighted ? 'coalesce(CAST(sum(w) AS DOUBLE), 0)' : 'CAST(count(*) AS DOUBLE)');
        break;
      case 'RATE': {
        const predicate = compileFilters(calc.filters ?? [], calc.filter_combination ?? 'AND', types, params, dialect);
        if (predicate === undefined) throw internal('RATE without filters');
        const alias = `r${rateCount++}`;
        srcSelect.push(`coalesce(${predicate}, false) AS ${alias}`);
        scalar(
          weighted ? `CAST(sum(CASE WHEN ${alias} THEN w ELSE 0 END) AS DOUBLE) / CAST(sum(w) AS DOUBLE)` : `avg(CAST(${alias} AS DOUBLE))`,
        );
        break;
      }
      case 'SUM': {
        const v = valueAlias(requireColumn(calc));
        scalar(weighted ? `sum(CAST(${v} AS DOUBLE) * w)` : `CAST(sum(${v}) AS DOUBLE)`);
        break;
      }
      case 'AVG': {
        const v = valueAlias(requireColumn(calc));
        scalar(
          weighted ? `sum(CAST(${v} AS DOUBLE) * w) / CAST(sum(w) FILTER (WHERE ${v} IS NOT NULL) AS DOUBLE)` : `avg(CAST(${v} AS DOUBLE))`,
        );
        break;
      }
      case 'MIN':
      case 'MAX': {
        const column = requireColumn(calc);
        const v = valueAlias(column);
        const numeric = types.get(column) !== 'string';
        const agg = `${calc.op === 'MIN' ? 'min' : 'max'}(${v})`;
        scalar(numeric ? `CAST(${agg} AS DOUBLE)` : agg, numeric);
        break;
      }
      case 'COUNT_DISTINCT': {
        const v = valueAlias(requireColumn(calc));
        scalar(`CAST(count(DISTINCT ${v}) AS DOUBLE)`);
        break;
      }
      case 'HEATMAP': {
        const v = valueAlias(requireColumn(calc));
        heatmapColumns.add(v);
        plans.push({ kind: 'heatmap', name, valueAlias: v });
        break;
      }
      default: {
        const quantile = PERCENTILE_QUANTILE[calc.op as PercentileOp];
        if (quantile === undefined) throw internal(`no SQL for calculation ${calc.op}`);
        const v = valueAlias(requireColumn(calc));
        if (weighted) {
          const qs = weightedQuantiles.get(v) ?? [];
          if (!weightedQuantiles.has(v)) weightedQuantiles.set(v, qs);
          qs.push(quantile);
          plans.push({ kind: 'weighted-quantile', name, valueAlias: v, q: quantile, slot: qs.length - 1 });
        } else {
          let listed = listedQuantiles.get(v);
          if (listed === undefined) {
            listed = { alias: `q${listedQuantiles.size}`, qs: [] };
            listedQuantiles.set(v, listed);
          }
          listed.qs.push(quantile);
          plans.push({ kind: 'listed-quantile', name, listAlias: listed.alias, index: listed.qs.length - 1 });
        }
      }
    }
  }
  for (const [v, listed] of listedQuantiles) {
    baseAggs.push(
      listed.qs.length === 1
        ? `${dialect.quantile(`${v}`, listed.qs[0] ?? 0.5)} AS ${listed.alias}`
        : `${dialect.quantiles(`${v}`, listed.qs)} AS ${listed.alias}`,
    );
  }
  plans.forEach((plan, i) => {
    if (plan.kind === 'scalar') baseAggs.push(`${plan.baseExpr} AS a${i}`);
  });

  const where: string[] = [
    `${ident('_time')} >= ${dialect.timestampFromMicros(params.bind(BigInt(q.start_time) * 1_000_000n, dialect.sqlType('bigint')))}`,
    `${ident('_time')} < ${dialect.timestampFromMicros(params.bind(BigInt(q.end_time) * 1_000_000n, dialect.sqlType('bigint')))}`,
  ];
  const filterSql = compileFilters(q.filters, q.filter_combination, types, params, dialect);
  if (filterSql !== undefined) where.push(filterSql);

  const ctes: string[] = [];
  ctes.push(`src AS ${dialect.inlineCte}(SELECT ${srcSelect.join(', ')} FROM ${ident(target.table)} WHERE ${where.join(' AND ')})`);

  const rangeAggs = [...new Set([...heatmapColumns, ...weightedQuantiles.keys()])].flatMap((v) => [
    `CAST(min(${v}) AS DOUBLE) AS mn_${v}`,
    `CAST(max(${v}) AS DOUBLE) AS mx_${v}`,
  ]);

  /** Output columns of one calculation plan, in decode order. */
  const outputColumns = (plan: CalcPlan, i: number): string[] => (plan.kind === 'heatmap' ? [`c${i}_lo`, `c${i}_w`, `c${i}_h`] : [`c${i}`]);
  const calcColumns = plans.flatMap(outputColumns);

  /**
   * Builds the CTEs of the aggregation over `source` grouped by `keys`; returns the CTE name holding keys + calculation columns.
   * `candidateSource` is where the weighted percentiles' second scan reads: a superset of `source` whose extra rows
   * match no target (the join is on every key), given when reading it lets DuckDB push the value range into the table scan.
   */
  const aggregate = (source: string, keys: string[], suffix: string, candidateSource = source): string => {
    const keyList = keys.join(', ');
    const groupBy = keys.length > 0 ? ` GROUP BY ${keyList}` : '';
    const joinOn = (left: string, right: string): string =>
      keys.length === 0 ? 'TRUE' : keys.map((k) => dialect.nullSafeEquals(`${left}.${k}`, `${right}.${k}`)).join(' AND ');
    const baseName = `base_${suffix}`;
    ctes.push(`${baseName} AS (SELECT ${[...keys, ...baseAggs, ...rangeAggs, 'count(*) AS n_rows'].join(', ')} FROM ${source}${groupBy})`);
    // Query-wide value ranges, from the per-group minima and maxima of the results' groups
    // (every selected event is in one of them), so they cost no extra scan.
    if (suffix === 'r') {
      for (const v of heatmapColumns) {
        ctes.push(
          `hb_${v} AS (SELECT lo, CASE WHEN hi > lo THEN (hi - lo) / ${HEATMAP_BUCKETS} ELSE 1 END AS width FROM (SELECT min(mn_${v}) AS lo, max(mx_${v}) AS hi FROM ${baseName}))`,
        );
      }
      for (const v of weightedQuantiles.keys()) {
        ctes.push(
          `pg_${v} AS (SELECT lo, CASE WHEN hi > lo THEN (hi - lo) / ${PERCENTILE_BINS} ELSE 1 END AS width FROM (SELECT min(mn_${v}) AS lo, max(mx_${v}) AS hi FROM ${baseName}))`,
        );
      }
    }
    const joins: string[] = [];
    const selects: string[] = keys.map((k) => `${baseName}.${k}`);

    for (const [v, qs] of weightedQuantiles) {
      // Exact weighted percentiles without sorting every row: a histogram of the
      // weights over PERCENTILE_BINS equal-width value bins finds, per group, the
      // bins holding the positions floor(h) and ceil(h); only the rows of those
      // bins are sorted, their running weight starting at the weight below them.
      const bins = `pb_${suffix}_${v}`;
      const histogram = `ph_${suffix}_${v}`;
      const targets = `pt_${suffix}_${v}`;
      const candidates = `pk_${suffix}_${v}`;
      const running = `pc_${suffix}_${v}`;
      const pr = `pr_${suffix}_${v}`;
      const range = `pg_${v}`;
      const partition = keys.length > 0 ? `PARTITION BY ${keyList} ` : '';
      const binOf = (value: string): string =>
        `least(CAST(floor((${value} - ${range}.lo) / ${range}.width) AS BIGINT), ${PERCENTILE_BINS - 1})`;
      ctes.push(
        `${bins} AS (SELECT ${[...keys, 'CAST(w AS DOUBLE) AS wt', `${binOf(v)} AS bin`].join(', ')} FROM ${source} CROSS JOIN ${range} WHERE ${v} IS NOT NULL)`,
      );
      ctes.push(
        `${histogram} AS (SELECT ${[...keys, 'bin', 'wt', `sum(wt) OVER (${partition}ORDER BY bin ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum`, `sum(wt) OVER (${partition.trimEnd()}) AS tot`].join(', ')}` +
          ` FROM (SELECT ${[...keys, 'bin', 'sum(wt) AS wt'].join(', ')} FROM ${bins} GROUP BY ${[...keys, 'bin'].join(', ')}))`,
      );
      const perSlot = qs.map((quantile, slot) => {
        const h = `((tot - 1) * ${dialect.doubleLiteral(quantile)})`;
        const hAll = `((max(tot) - 1) * ${dialect.doubleLiteral(quantile)})`;
        return `SELECT ${[
          ...keys,
          `${slot} AS slot`,
          'max(tot) AS tot',
          `floor(${hAll}) AS klo`,
          `ceil(${hAll}) AS khi`,
          `min(bin) FILTER (WHERE cum > floor(${h})) AS blo`,
          `min(bin) FILTER (WHERE cum > ceil(${h})) AS bhi`,
          `min(cum - wt) FILTER (WHERE cum > floor(${h})) AS below`,
        ].join(', ')} FROM ${histogram}${groupBy}`;
      });
      // Value bounds of the target bins, one bin wider on each side against rounding,
      // let the second scan drop most rows in the join itself: a range condition per
      // group, not scalar subqueries, which cost the scan a fifth of the query's time.
      ctes.push(
        `${targets} AS (SELECT t.*, ${range}.lo + (t.blo - 1) * ${range}.width AS vlo, ${range}.lo + (t.bhi + 2) * ${range}.width AS vhi` +
          ` FROM (${perSlot.join(' UNION ALL ')}) AS t CROSS JOIN ${range})`,
      );
      const scan = candidateSource;
      const targetOn = [
        `${scan}.${v} BETWEEN ${targets}.vlo AND ${targets}.vhi`,
        ...keys.map((k) => dialect.nullSafeEquals(`${scan}.${k}`, `${targets}.${k}`)),
        `${binOf(`${scan}.${v}`)} BETWEEN ${targets}.blo AND ${targets}.bhi`,
      ].join(' AND ');
      const candidateColumns = [
        ...keys.map((k) => `${scan}.${k}`),
        `${targets}.slot`,
        `CAST(${scan}.${v} AS DOUBLE) AS v`,
        `CAST(${scan}.w AS DOUBLE) AS wt`,
        `${targets}.below`,
        `${targets}.klo`,
        `${targets}.khi`,
        `${targets}.tot`,
      ].join(', ');
      const perSlotCandidates = qs.map(
        (_, slot) =>
          `SELECT ${candidateColumns} FROM ${scan} CROSS JOIN ${range} JOIN ${targets} ON ${targetOn} AND ${targets}.slot = ${slot}`,
      );
      ctes.push(`${candidates} AS (${perSlotCandidates.join(' UNION ALL ')})`);
      // (group, value) pairs with their summed weight, then the running weight in value order.
      const pairKeys = [...keys, 'slot', 'v', 'below', 'klo', 'khi', 'tot'];
      ctes.push(
        `${running} AS (SELECT ${[...keys, 'slot', 'v', 'klo', 'khi', 'tot', `below + sum(wt) OVER (PARTITION BY ${[...keys, 'slot'].join(', ')} ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum`].join(', ')}` +
          ` FROM (SELECT ${[...pairKeys, 'sum(wt) AS wt'].join(', ')} FROM ${candidates} GROUP BY ${pairKeys.join(', ')}))`,
      );
      const bounds = qs.flatMap((_, slot) => [
        `min(v) FILTER (WHERE slot = ${slot} AND cum > klo) AS lo${slot}`,
        `min(v) FILTER (WHERE slot = ${slot} AND cum > khi) AS hi${slot}`,
      ]);
      ctes.push(`${pr} AS (SELECT ${[...keys, 'max(tot) AS tot', ...bounds].join(', ')} FROM ${running}${groupBy})`);
      joins.push(`LEFT JOIN ${pr} ON ${joinOn(baseName, pr)}`);
    }
    for (const v of heatmapColumns) {
      const hb = `hb_${v}`;
      const hh = `hh_${suffix}_${v}`;
      const hr = `hr_${suffix}_${v}`;
      const index = `least(CAST(floor((${v} - ${hb}.lo) / ${hb}.width) AS BIGINT), ${HEATMAP_BUCKETS - 1})`;
      ctes.push(
        `${hh} AS (SELECT ${[...keys.map((k) => `${source}.${k}`), `${index} AS idx`, 'sum(w) AS n'].join(', ')} FROM ${source} CROSS JOIN ${hb} WHERE ${v} IS NOT NULL GROUP BY ${[...keys.map((k) => `${source}.${k}`), 'idx'].join(', ')})`,
      );
      ctes.push(
        `${hr} AS (SELECT ${[...keys, `${dialect.stringAgg(`CAST(idx AS VARCHAR) || ':' || CAST(n AS VARCHAR)`, ',')} AS h`].join(', ')} FROM ${hh}${groupBy})`,
      );
      joins.push(`CROSS JOIN ${hb}`);
      joins.push(`LEFT JOIN ${hr} ON ${joinOn(baseName, hr)}`);
    }

    plans.forEach((plan, i) => {
      switch (plan.kind) {
        case 'scalar':
          selects.push(`${baseName}.a${i} AS c${i}`);
          break;
        case 'listed-quantile': {
          const listed = [...listedQuantiles.values()].find((l) => l.alias === plan.listAlias);
          const expr =
            listed && listed.qs.length > 1
              ? dialect.listItem(`${baseName}.${plan.listAlias}`, plan.index)
              : `${baseName}.${plan.listAlias}`;
          selects.push(`CAST(${expr} AS DOUBLE) AS c${i}`);
          break;
        }
        case 'weighted-quantile': {
          const pr = `pr_${suffix}_${plan.valueAlias}`;
          const h = `((${pr}.tot - 1) * ${dialect.doubleLiteral(plan.q)})`;
          selects.push(`${pr}.lo${plan.slot} + (${h} - floor(${h})) * (${pr}.hi${plan.slot} - ${pr}.lo${plan.slot}) AS c${i}`);
          break;
        }
        case 'heatmap': {
          const hb = `hb_${plan.valueAlias}`;
          const hr = `hr_${suffix}_${plan.valueAlias}`;
          selects.push(`${hb}.lo AS c${i}_lo`, `${hb}.width AS c${i}_w`, `${hr}.h AS c${i}_h`);
          break;
        }
      }
    });
    const aggName = `agg_${suffix}`;
    ctes.push(`${aggName} AS (SELECT ${selects.join(', ')} FROM ${baseName} ${joins.join(' ')})`);
    return aggName;
  };

  // --- results: havings, orders, limit -------------------------------------
  const planIndexByName = new Map(plans.map((p, i) => [p.name, i]));
  const orderTerms: string[] = [];
  const orderedGroups = new Set<string>();
  for (const order of q.orders) {
    const direction = order.order === 'ascending' ? 'ASC' : 'DESC';
    if (order.op === undefined) {
      const index = q.breakdowns.indexOf(order.column ?? '');
      if (index < 0) throw internal('order by a column that is not a breakdown');
      orderTerms.push(`g${index} ${direction} NULLS LAST`);
      orderedGroups.add(`g${index}`);
    } else {
      const index = planIndexByName.get(calculationName(orderCalculation(order)));
      if (index === undefined) throw internal('order by a calculation missing from the query');
      orderTerms.push(`c${index} ${direction} NULLS LAST`);
    }
  }
  for (const g of groupAliases) if (!orderedGroups.has(g)) orderTerms.push(`${g} ASC NULLS LAST`);
  const orderBy = orderTerms.length > 0 ? orderTerms.join(', ') : '1';

  const havingTerms = q.havings.map((h) => {
    const calc: Calculation = { op: h.calculate_op };
    if (h.column !== undefined) calc.column = h.column;
    if (h.filters !== undefined) {
      calc.filters = h.filters;
      calc.filter_combination = h.filter_combination ?? 'AND';
    }
    const index = planIndexByName.get(calculationName(calc));
    if (index === undefined) throw internal('having on a calculation missing from the query');
    return `c${index} ${HAVING_SQL_OP[h.op] ?? '='} ${params.bind(h.value, dialect.sqlType('float'))}`;
  });
  const havingSql = havingTerms.length > 0 ? ` WHERE ${havingTerms.join(' AND ')}` : '';

  const resultsAgg = aggregate('src', groupAliases, 'r');
  const outputs = [...groupAliases, ...calcColumns];
  let sql: string;
  if (granularity === undefined) {
    const limit = params.bind(q.limit, dialect.sqlType('bigint'));
    sql = `WITH ${ctes.join(',\n')}\nSELECT ${outputs.join(', ')} FROM ${resultsAgg}${havingSql} ORDER BY ${orderBy} LIMIT ${limit}`;
  } else {
    const limit = params.bind(q.limit, dialect.sqlType('bigint'));
    ctes.push(
      `top AS (SELECT * FROM (SELECT *, row_number() OVER (ORDER BY ${orderBy}) AS rk FROM ${resultsAgg}${havingSql}) WHERE rk <= ${limit})`,
    );
    let seriesSource = 'src';
    if (groupAliases.length > 0) {
      ctes.push(
        `src_top AS (SELECT src.* FROM src ${dialect.semiJoin} top ON ${groupAliases.map((g) => dialect.nullSafeEquals(`src.${g}`, `top.${g}`)).join(' AND ')})`,
      );
      seriesSource = 'src_top';
    }
    // The series' weighted-percentile candidates read `src` itself: their join to the targets is on every group key,
    // so rows outside the top groups match nothing, and a plain scan takes the targets' value range as a scan filter.
    const seriesAgg = aggregate(seriesSource, [...groupAliases, 'b'], 's', 'src');
    const joinTop =
      groupAliases.length > 0
        ? `JOIN top ON ${groupAliases.map((g) => dialect.nullSafeEquals(`${seriesAgg}.${g}`, `top.${g}`)).join(' AND ')}`
        : 'CROSS JOIN top';
    sql =
      `WITH ${ctes.join(',\n')}\n` +
      `SELECT 0 AS kind, rk, CAST(NULL AS BIGINT) AS b${outputs.map((c) => `, ${c}`).join('')} FROM top\n` +
      `UNION ALL\n` +
      `SELECT 1 AS kind, top.rk, ${seriesAgg}.b${outputs.map((c) => `, ${seriesAgg}.${c}`).join('')} FROM ${seriesAgg} ${joinTop}\n` +
      `ORDER BY kind, b, rk`;
  }

  const calculations = plans.map((p) => p.name);
  const breakdownTypes = q.breakdowns.map((b) => types.get(b) ?? 'string');

  const decodeRow = (row: readonly unknown[], offset: number): ResultRow['data'] => {
    const data: ResultRow['data'] = {};
    q.breakdowns.forEach((b, i) => {
      data[b] = decodeBreakdown(row[offset + i], breakdownTypes[i] ?? 'string');
    });
    let column = offset + q.breakdowns.length;
    for (const plan of plans) {
      if (plan.kind === 'heatmap') {
        data[plan.name] = decodeHeatmap(row[column], row[column + 1], row[column + 2]);
        column += 3;
      } else {
        const raw = row[column];
        data[plan.name] =
          plan.kind === 'scalar' && !plan.numeric ? (raw === null || raw === undefined ? null : String(raw)) : toNumber(raw);
        column += 1;
      }
    }
    return data;
  };

  const decode = (rows: readonly (readonly unknown[])[]): DecodedRows => {
    if (granularity === undefined) return { results: rows.map((row) => ({ data: decodeRow(row, 0) })) };
    const results: ResultRow[] = [];
    const series: SeriesRow[] = [];
    for (const row of rows) {
      if (toNumber(row[0]) === 0) {
        results.push({ data: decodeRow(row, 3) });
      } else {
        const bucket = toNumber(row[2]) ?? 0;
        series.push({ time: new Date(bucket * granularity * 1000).toISOString(), data: decodeRow(row, 3) });
      }
    }
    return { results, series };
  };

  return { sql, params: params.values, calculations, breakdowns: [...q.breakdowns], decode };
}

function requireColumn(calc: Calculation): string {
  if (calc.column === undefined) throw internal(`${calc.op} without a column`);
  return calc.column;
}

function orderCalculation(order: Order): Calculation {
  const calc: Calculation = { op: order.op ?? 'COUNT' };
  if (order.column !== undefined) calc.column = order.column;
  if (order.filters !== undefined) {
    calc.filters = order.filters;
    calc.filter_combination = order.filter_combination ?? 'AND';
  }
  return calc;
}

function toNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number(String(value));
}

function decodeBreakdown(value: unknown, type: ColumnType): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'integer':
    case 'float':
      return toNumber(value);
    case 'boolean':
      return typeof value === 'boolean' ? value : String(value) === 'true';
    case 'string':
      return String(value);
  }
}

function decodeHeatmap(lower: unknown, width: unknown, encoded: unknown): HeatmapValue | null {
  if (encoded === null || encoded === undefined) return null;
  const buckets = new Array<number>(HEATMAP_BUCKETS).fill(0);
  for (const part of String(encoded).split(',')) {
    const [index, count] = part.split(':');
    const i = Number(index);
    if (i >= 0 && i < HEATMAP_BUCKETS) buckets[i] = (buckets[i] ?? 0) + Number(count);
  }
  return { lower: toNumber(lower) ?? 0, width: toNumber(width) ?? 1, buckets };
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
