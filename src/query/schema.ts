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
  /** ISO-8601 of the oldest event, if any (`GET /api/v1/datasets`). */
  first_event_time?: string | null;
  /**
   * Bytes of the database blocks the dataset's checkpointed events occupy: DuckDB's own block
   * accounting, an estimate (docs/storage.md, "Size on disk"). Events still only in the
   * write-ahead log are not counted yet.
   */
  size_bytes?: number;
  /** The dataset's own retention in milliseconds; 0 keeps its events forever; null follows the server's default. */
  retention_ms?: number | null;
  /** The retention that applies (the dataset's own, else the server's default), in milliseconds; null: kept forever. */
  effective_retention_ms?: number | null;
}

/** The event store's file as a whole (`GET /api/v1/datasets`, `storage`). */
export interface StorageInfo {
  /** Bytes of the database file. */
  file_bytes: number;
  /** Bytes of the write-ahead log (events committed since the last checkpoint). */
  wal_bytes: number;
  /** Bytes of blocks in the file that hold nothing and are reused by later writes. */
  free_bytes: number;
}

export interface DatasetSchema {
  dataset: string;
  columns: ColumnInfo[];
  /** True when some stored event has a sample rate other than 1 (weighted percentiles needed). */
  hasSampling: boolean;
}
