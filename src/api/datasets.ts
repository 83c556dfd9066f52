/**
 * What `GET /api/v1/datasets` and `GET /api/v1/datasets/{dataset}/columns`
 * answer. Shared by the server and the API client.
 */
import type { ColumnInfo, ColumnType, DatasetInfo } from '../query/schema.js';

export type { ColumnInfo, DatasetInfo };

/** `GET /api/v1/datasets`. */
export interface DatasetsResponse {
  datasets: DatasetInfo[];
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
