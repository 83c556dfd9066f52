/**
 * Types of the Honeycomb Query Specification as flagscope accepts it, and of
 * the query result it returns. These are the wire contract of
 * `POST /api/v1/query/{dataset}` (docs/api.md) and of `flagscope query --json`.
 */

export const PERCENTILE_OPS = ['P001', 'P01', 'P05', 'P10', 'P20', 'P25', 'P50', 'P75', 'P80', 'P90', 'P95', 'P99', 'P999'] as const;
export type PercentileOp = (typeof PERCENTILE_OPS)[number];

/** Percentile op → quantile in [0, 1]. */
export const PERCENTILE_QUANTILE: Record<PercentileOp, number> = {
  P001: 0.001,
  P01: 0.01,
  P05: 0.05,
  P10: 0.1,
  P20: 0.2,
  P25: 0.25,
  P50: 0.5,
  P75: 0.75,
  P80: 0.8,
  P90: 0.9,
  P95: 0.95,
  P99: 0.99,
  P999: 0.999,
};

/** Calculation ops; `RATE` and `INCOMPLETE` (the weighted share of `meta.incomplete = true`) are flagscope extensions. */
export const CALC_OPS = [
  'COUNT',
  'SUM',
  'AVG',
  'MIN',
  'MAX',
  'COUNT_DISTINCT',
  'HEATMAP',
  'RATE',
  'INCOMPLETE',
  ...PERCENTILE_OPS,
] as const;
export type CalcOp = (typeof CALC_OPS)[number];

export const FILTER_OPS = [
  '=',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  'starts-with',
  'does-not-start-with',
  'contains',
  'does-not-contain',
  'exists',
  'does-not-exist',
  'in',
  'not-in',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export type FilterValue = string | number | boolean | null;

export interface Filter {
  column: string;
  op: FilterOp;
  /** Absent for exists/does-not-exist; an array for in/not-in. */
  value?: FilterValue | FilterValue[];
}

export interface Calculation {
  op: CalcOp;
  /** Required for every op but COUNT, RATE and INCOMPLETE. */
  column?: string;
  /** RATE only: the events counted in the numerator (flagscope extension). */
  filters?: Filter[];
  /** RATE only: how `filters` combine. Default AND. */
  filter_combination?: 'AND' | 'OR';
}

export interface Order {
  /** A breakdown column, or the column of a calculation. */
  column?: string;
  /** The calculation op when ordering by a calculation (COUNT needs no column). */
  op?: CalcOp;
  order?: 'ascending' | 'descending';
  /** RATE only: the filters of the RATE calculation ordered by (flagscope extension). */
  filters?: Filter[];
  /** RATE only: how `filters` combine. Default AND. */
  filter_combination?: 'AND' | 'OR';
}

export interface Having {
  calculate_op: CalcOp;
  column?: string;
  op: '=' | '!=' | '>' | '>=' | '<' | '<=';
  value: number;
  /** RATE only: the filters of the RATE calculation tested (flagscope extension). */
  filters?: Filter[];
  /** RATE only: how `filters` combine. Default AND. */
  filter_combination?: 'AND' | 'OR';
}

export interface QuerySpec {
  calculations?: Calculation[];
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  breakdowns?: string[];
  orders?: Order[];
  havings?: Having[];
  limit?: number;
  /** Seconds; relative to end_time if given, else to now. Default 7200. */
  time_range?: number;
  /** Unix seconds. */
  start_time?: number;
  /** Unix seconds. */
  end_time?: number;
  /** Seconds per time bucket; when present the result has a `series`. */
  granularity?: number;
}

/** One histogram of a HEATMAP calculation. `buckets[i]` counts weighted events in [lower + i*width, lower + (i+1)*width). */
export interface HeatmapValue {
  lower: number;
  width: number;
  buckets: number[];
}

/** One row: breakdown values by column name, and calculation values by calculation name (e.g. `P99(duration_ms)`). */
export interface ResultRow {
  data: Record<string, string | number | boolean | null | HeatmapValue>;
}

export interface SeriesRow extends ResultRow {
  /** ISO-8601 start of the time bucket. */
  time: string;
}

export interface QueryResult {
  /** The spec as validated and normalised (defaults filled in, absolute times). */
  query: QuerySpec & { start_time: number; end_time: number };
  data: {
    /** One row per breakdown group over the whole time range, ordered and limited. */
    results: ResultRow[];
    /** Present when `granularity` is given: one row per time bucket and group. */
    series?: SeriesRow[];
  };
  meta: {
    dataset: string;
    /** Calculation names in spec order, as they appear in `data`. */
    calculations: string[];
    breakdowns: string[];
    /** Milliseconds spent in the store. */
    duration_ms: number;
  };
}
