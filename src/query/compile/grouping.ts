/** How the rows of one aggregation are grouped, and the SQL fragments every CTE of it shares. */
import type { SqlDialect } from '../dialect.js';

/** The rows to aggregate and how they are grouped. */
export interface GroupedSource {
  /** CTE the rows come from. */
  source: string;
  /** Group key columns (breakdown aliases, and `b` for a time series). */
  keys: string[];
  /** Suffix of every CTE name of this aggregation: `r` for the results, `s` for the series. */
  suffix: string;
  /**
   * Where the weighted percentiles' second scan reads: a superset of `source` whose extra rows match no target
   * (the join is on every key), given when reading it lets DuckDB push the value range into the table scan.
   */
  candidateSource: string;
}

/** Helpers shared by the CTEs of one aggregation. */
export interface GroupingSql {
  keyList: string;
  /** ` GROUP BY keys`, or empty without keys. */
  groupBy: string;
  /** Null-safe equality of every key between two relations (TRUE without keys). */
  joinOn(left: string, right: string): string;
}

/** The grouping fragments of `keys`. */
export function groupingSql(keys: string[], dialect: SqlDialect): GroupingSql {
  const keyList = keys.join(', ');
  return {
    keyList,
    groupBy: keys.length > 0 ? ` GROUP BY ${keyList}` : '',
    joinOn: (left, right) =>
      keys.length === 0 ? 'TRUE' : keys.map((k) => dialect.nullSafeEquals(`${left}.${k}`, `${right}.${k}`)).join(' AND '),
  };
}
