/**
 * The SQL fragments that differ between database engines. The compiler builds
 * every statement from these, so a ClickHouse dialect can be added beside
 * `duckdbDialect` without touching the compiler's logic.
 */
import type { ColumnInfo, ColumnType } from './schema.js';

/** A value bound to a positional parameter (`$1` is `params[0]`). */
export type SqlParam = string | number | boolean | null | bigint;

export interface SqlDialect {
  readonly name: string;
  /** An identifier, quoted so that any UTF-8 text is safe. */
  quoteIdent(name: string): string;
  /** The placeholder of the `index`-th (1-based) bound parameter. */
  placeholder(index: number): string;
  /** The SQL type name of a logical column type, for casting bound parameters. */
  sqlType(type: ColumnType | 'bigint'): string;
  /** A `TIMESTAMP` from an expression giving unix microseconds. */
  timestampFromMicros(expr: string): string;
  /** Unix microseconds of a `TIMESTAMP` expression, as a 64-bit integer. */
  epochMicros(expr: string): string;
  /** True when `haystack` starts with `prefix`, both taken literally (no pattern characters). */
  startsWith(haystack: string, prefix: string): string;
  /** True when `haystack` contains `needle` literally. */
  contains(haystack: string, needle: string): string;
  /** Exact interpolated quantile, like DuckDB's `quantile_cont`. */
  quantile(expr: string, q: number): string;
  /** Several quantiles in one pass, as a list indexed by `listItem`. */
  quantiles(expr: string, qs: number[]): string;
  /** The `index`-th (0-based) element of a list. */
  listItem(expr: string, index: number): string;
  /** Concatenation of strings within a group, separated by `separator` (a constant). */
  stringAgg(expr: string, separator: string): string;
  /** Equality that treats two nulls as equal. */
  nullSafeEquals(left: string, right: string): string;
  /** A numeric literal as a double. */
  doubleLiteral(value: number): string;
  /** Integer division of a non-negative 64-bit integer by a positive one (event times are after 1970). */
  floorDivide(dividend: string, divisor: string): string;
  /** The keyword of a semi join (rows of the left side with a match on the right, once). */
  readonly semiJoin: string;
  /** Written between `name AS` and `(` of a CTE that the engine should inline (re-scan) rather than materialise. */
  readonly inlineCte: string;
  /** Written between `name AS` and `(` of a CTE that the engine should compute once and share among its references. */
  readonly materializedCte: string;
  /**
   * An expression of a row's place in its table's order of storage, unique and growing with
   * every commit (DuckDB's `rowid`): the cursor of raw events followed live (src/query/events.ts).
   */
  readonly storageOrder: string;
  /**
   * Every column of the row but `excluded`, as one record value (field names are the column names),
   * the columns being those of the statement's own snapshot: a column another transaction added
   * is there exactly when that transaction's rows are (src/query/events.ts). `columns` are the
   * dataset's columns as its schema lists them, for an engine that must name them (ClickHouse).
   */
  rowRecord(excluded: readonly string[], columns: readonly ColumnInfo[]): string;
  /**
   * Several weighted quantiles of `expr` (`weight`: a positive integer per row) as one aggregate
   * giving a list, when the engine has one; without it the compiler builds them from plain SQL
   * (compile/weighted-percentiles.ts).
   */
  weightedQuantiles?(expr: string, weight: string, qs: number[]): string;
  /** An approximate count of distinct values (explain's profile). */
  approxCountDistinct(expr: string): string;
  /** Approximate quantiles of `expr` as a list (explain's profile). */
  approxQuantiles(expr: string, qs: number[]): string;
  /** A block sample of about `percent` % of a table, written after its name, or undefined when the engine reads it whole. */
  tableSample(percent: number): string | undefined;
  /** A well-mixed 64-bit hash of the row's storage position (explain's sample of the rest). */
  readonly rowHash: string;
}

function doubleLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  return `CAST(${JSON.stringify(value)} AS DOUBLE)`;
}

export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  quoteIdent: (name) => `"${name.replace(/"/g, '""')}"`,
  placeholder: (index) => `$${index}`,
  sqlType: (type) => {
    switch (type) {
      case 'string':
        return 'VARCHAR';
      case 'integer':
        return 'BIGINT';
      case 'bigint':
        return 'BIGINT';
      case 'float':
        return 'DOUBLE';
      case 'boolean':
        return 'BOOLEAN';
    }
  },
  timestampFromMicros: (expr) => `make_timestamp(${expr})`,
  epochMicros: (expr) => `epoch_us(${expr})`,
  startsWith: (haystack, prefix) => `starts_with(${haystack}, ${prefix})`,
  contains: (haystack, needle) => `contains(${haystack}, ${needle})`,
  quantile: (expr, q) => `quantile_cont(${expr}, ${doubleLiteral(q)})`,
  quantiles: (expr, qs) => `quantile_cont(${expr}, [${qs.map(doubleLiteral).join(', ')}])`,
  listItem: (expr, index) => `${expr}[${index + 1}]`,
  stringAgg: (expr, separator) => `string_agg(${expr}, '${separator.replace(/'/g, "''")}')`,
  nullSafeEquals: (left, right) => `${left} IS NOT DISTINCT FROM ${right}`,
  doubleLiteral,
  floorDivide: (dividend, divisor) => `(${dividend} // ${divisor})`,
  semiJoin: 'SEMI JOIN',
  inlineCte: 'NOT MATERIALIZED ',
  materializedCte: 'MATERIALIZED ',
  storageOrder: 'rowid',
  rowRecord: (excluded) =>
    `struct_pack(*COLUMNS(*${excluded.length === 0 ? '' : ` EXCLUDE (${excluded.map((name) => `"${name.replace(/"/g, '""')}"`).join(', ')})`}))`,
  approxCountDistinct: (expr) => `approx_count_distinct(${expr})`,
  approxQuantiles: (expr, qs) => `approx_quantile(${expr}, [${qs.map((q) => q.toFixed(6)).join(', ')}])`,
  tableSample: (percent) => `TABLESAMPLE ${percent}% (system, 7)`,
  rowHash: 'hash(rowid)',
};

/** A ClickHouse identifier in backquotes, backslash and backquote escaped. */
function clickhouseIdent(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/**
 * ClickHouse SQL (the ClickHouse event store, src/store/clickhouse/). Parameters are ClickHouse
 * query parameters `{pN:String}`: every compiled statement casts its placeholders to the type it
 * means, so one parameter type serves all and the store hands the values over as text. The store's
 * sessions set `join_use_nulls`, `cast_keep_nullable` and `group_by_use_nulls` so that joins,
 * casts and grouping sets treat NULL as DuckDB does (src/store/clickhouse/executor.ts).
 *
 * Percentiles are exact and interpolated as DuckDB's: unweighted ones with `quantilesExactInclusive`
 * (DuckDB's `quantile_cont`), weighted ones by the same positions and interpolation as the DuckDB
 * statement ({@link weightedQuantile}); they agree to floating-point rounding (docs/storage.md).
 */
export const clickhouseDialect: SqlDialect = {
  name: 'clickhouse',
  quoteIdent: clickhouseIdent,
  placeholder: (index) => `{p${index}:String}`,
  sqlType: (type) => {
    switch (type) {
      case 'string':
        return 'String';
      case 'integer':
      case 'bigint':
        return 'Int64';
      case 'float':
        return 'Float64';
      case 'boolean':
        return 'Bool';
    }
  },
  timestampFromMicros: (expr) => `fromUnixTimestamp64Micro(${expr}, 'UTC')`,
  epochMicros: (expr) => `toUnixTimestamp64Micro(${expr})`,
  startsWith: (haystack, prefix) => `startsWith(${haystack}, ${prefix})`,
  contains: (haystack, needle) => `(position(${haystack}, ${needle}) > 0)`,
  quantile: (expr, q) => `quantileExactInclusive(${quantileLevel(q)})(${expr})`,
  quantiles: (expr, qs) => `quantilesExactInclusive(${qs.map(quantileLevel).join(', ')})(${expr})`,
  listItem: (expr, index) => `arrayElement(${expr}, ${index + 1})`,
  // NULL over no rows, as DuckDB's string_agg (ClickHouse gives ''); a group with rows never concatenates to ''.
  stringAgg: (expr, separator) =>
    `nullIf(arrayStringConcat(groupArray(${expr}), '${separator.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'), '')`,
  nullSafeEquals: (left, right) => `(${left} IS NOT DISTINCT FROM ${right})`,
  doubleLiteral,
  floorDivide: (dividend, divisor) => `intDiv(${dividend}, ${divisor})`,
  semiJoin: 'LEFT SEMI JOIN',
  inlineCte: '',
  materializedCte: '',
  storageOrder: '_pos',
  // A named tuple of the schema's columns (ClickHouse's `tuple(*)` would carry no names): every
  // column the store has added is in its table, so the schema's list is the row's.
  rowRecord: (excluded, columns) => {
    const kept = [{ name: '_samplerate', type: 'integer' as const }, ...columns].filter((c) => !excluded.includes(c.name));
    const names = kept.map((c) => `${clickhouseIdent(c.name)} Nullable(${clickhouseDialect.sqlType(c.type)})`).join(', ');
    return `CAST(tuple(${kept.map((c) => clickhouseIdent(c.name)).join(', ')}), '${`Tuple(${names})`.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}')`;
  },
  weightedQuantiles: (expr, weight, qs) => `[${qs.map((q) => weightedQuantile(expr, weight, q)).join(', ')}]`,
  approxCountDistinct: (expr) => `uniq(${expr})`,
  approxQuantiles: (expr, qs) => `quantiles(${qs.map((q) => q.toFixed(6)).join(', ')})(${expr})`,
  tableSample: () => undefined,
  rowHash: 'cityHash64(_pos)',
};

/**
 * The weighted quantile DuckDB's statement computes (compile/weighted-percentiles.ts), in one
 * ClickHouse aggregate: the group's non-null values sorted with their weights, h = (W − 1)·q over
 * the total weight W, and the values at the weighted positions floor(h) and ceil(h) interpolated.
 * Exact, so the two engines agree to rounding; it holds the group's values in memory (groupArray),
 * which ClickHouse's own `quantilesExactWeighted` also does, without the interpolation.
 */
function weightedQuantile(expr: string, weight: string, q: number): string {
  const sorted = `arraySort(x -> x.1, groupArrayIf((toFloat64(assumeNotNull(${expr})), toFloat64(${weight})), ${expr} IS NOT NULL))`;
  const running = `arrayCumSum(arrayMap(x -> x.2, ${sorted}))`;
  const total = `arraySum(arrayMap(x -> x.2, ${sorted}))`;
  const h = `((${total} - 1) * ${quantileLevel(q)})`;
  const at = (position: string): string => `arrayElement(${sorted}, arrayFirstIndex(c -> c > ${position}, ${running})).1`;
  return `if(${total} = 0, NULL, ${at(`floor(${h})`)} + (${h} - floor(${h})) * (${at(`ceil(${h})`)} - ${at(`floor(${h})`)}))`;
}

/** A quantile level as ClickHouse's parametric aggregates take it: a plain decimal constant in [0, 1]. */
function quantileLevel(q: number): string {
  if (!Number.isFinite(q) || q < 0 || q > 1) throw new Error(`not a quantile level: ${q}`);
  return JSON.stringify(q);
}
