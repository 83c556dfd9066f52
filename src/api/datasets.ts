/**
 * What `GET /api/v1/datasets` and `GET /api/v1/datasets/{dataset}/columns`
 * answer. Shared by the server and the API client.
 */
import type { ColumnInfo, ColumnType, DatasetInfo, StorageInfo } from '../query/schema.js';

export type { ColumnInfo, DatasetInfo, StorageInfo };

/** `GET /api/v1/datasets`. */
export interface DatasetsResponse {
  datasets: DatasetInfo[];
  /** The event store's file as a whole (servers before retention omit it). */
  storage?: StorageInfo;
  /** The server's default retention in milliseconds; null keeps events forever. */
  default_retention_ms?: number | null;
}

/** `DELETE /api/v1/datasets/{dataset}`. */
export interface DeleteDatasetResponse {
  dataset: string;
  deleted_events: number;
  /** Flags whose canaries in flight measured the dataset and were rolled back to 0% (a forced delete). */
  rolled_back_canaries: string[];
}

/** `GET /api/v1/datasets/{dataset}/columns`. */
export interface ColumnsResponse {
  dataset: string;
  columns: ColumnInfo[];
}

/** `POST /api/v1/datasets/{dataset}/columns/{column}/type`: what changed. */
export interface ColumnTypeChange {
  dataset: string;
  column: string;
  from: ColumnType;
  to: ColumnType;
  /** Values that did not convert, now kept in `meta.mistyped`. */
  kept: number;
  /** Values kept in `meta.mistyped` for the column that now convert, back in the column. */
  restored: number;
}
