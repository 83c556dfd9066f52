/**
 * What `GET /api/v1/datasets` and `GET /api/v1/datasets/{dataset}/columns`
 * answer. Shared by the server and the API client.
 */
import type { ColumnInfo, DatasetInfo } from '../query/schema.js';

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
