/**
 * What the query layer knows of a dataset: its columns and their logical types. Stores report
 * schemas in these terms; validation and compilation read them.
 */

/** The logical type of a column (Honeycomb's names). */
export type ColumnType = 'string' | 'integer' | 'float' | 'boolean';

export interface ColumnInfo {
  name: string;
  type: ColumnType;
  /** Unix milliseconds when the column was first seen. */
  created_at?: number;
  /** Values that did not fit the column's type, kept in `meta.mistyped` instead (absent: none). */
  mistyped?: number;
}

export interface DatasetInfo {
  name: string;
  /** Weighted-free row count (stored events). */
  rows: number;
  columns: number;
  /** ISO-8601 of the newest event, if any. */
  last_event_time?: string | null;
}

export interface DatasetSchema {
  dataset: string;
  columns: ColumnInfo[];
  /** True when some stored event has a sample rate other than 1 (weighted percentiles needed). */
  hasSampling: boolean;
}
