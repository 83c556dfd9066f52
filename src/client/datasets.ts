/**
 * Datasets and their columns: `GET /api/v1/datasets` and
 * `GET /api/v1/datasets/{dataset}/columns` (docs/api.md).
 */
import type { ColumnInfo, ColumnsResponse, ColumnTypeChange, DatasetInfo, DatasetsResponse } from '../api/datasets.js';
import { type HttpClient, unexpectedShape } from './http.js';

/** `GET /api/v1/datasets`: every dataset with its size and time span. */
export async function listDatasets(http: HttpClient): Promise<DatasetInfo[]> {
  const body = await http.requestJson<Partial<DatasetsResponse> | undefined>('GET', '/api/v1/datasets');
  if (!Array.isArray(body?.datasets)) throw unexpectedShape('GET /api/v1/datasets', http.baseUrl);
  return body.datasets;
}

/** `GET /api/v1/datasets/{dataset}/columns`: the dataset's columns and their types. */
export async function listColumns(http: HttpClient, dataset: string): Promise<ColumnInfo[]> {
  const path = `/api/v1/datasets/${encodeURIComponent(dataset)}/columns`;
  const body = await http.requestJson<Partial<ColumnsResponse> | undefined>('GET', path);
  if (!Array.isArray(body?.columns)) throw unexpectedShape(`GET ${path}`, http.baseUrl);
  return body.columns;
}

/** `POST /api/v1/datasets/{dataset}/columns/{column}/type` (scope `admin`): changes a column's type, converting its values. */
export async function setColumnType(http: HttpClient, dataset: string, column: string, type: string): Promise<ColumnTypeChange> {
  const path = `/api/v1/datasets/${encodeURIComponent(dataset)}/columns/${encodeURIComponent(column)}/type`;
  const body = await http.requestJson<Partial<ColumnTypeChange> | undefined>('POST', path, { type });
  if (typeof body?.to !== 'string') throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return body as ColumnTypeChange;
}
