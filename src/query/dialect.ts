/**
 * The SQL fragments that differ between database engines. The compiler builds
 * every statement from these, so a ClickHouse dialect can be added beside
 * `duckdbDialect` without touching the compiler's logic.
 */
import type { ColumnType } from './schema.js';

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
   * is there exactly when that transaction's rows are (src/query/events.ts).
   */
  rowRecord(excluded: readonly string[]): string;
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
};
