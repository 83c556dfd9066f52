/**
 * Datasets and their columns: `GET /api/v1/datasets` and
 * `GET /api/v1/datasets/{dataset}/columns`; deleting one and setting its retention (docs/api.md).
 */
import type {
  ColumnInfo,
  ColumnsResponse,
  ColumnTypeChange,
  DatasetInfo,
  DatasetsResponse,
  DeleteDatasetResponse,
} from '../api/datasets.js';
import type { BeaconSettings, BeaconSettingsChange } from '../api/beacons.js';
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

/** `GET /api/v1/datasets` as the server answers it: the datasets, the file's storage and the default retention. */
export async function describeDatasets(http: HttpClient): Promise<DatasetsResponse> {
  const body = await http.requestJson<Partial<DatasetsResponse> | undefined>('GET', '/api/v1/datasets');
  if (!Array.isArray(body?.datasets)) throw unexpectedShape('GET /api/v1/datasets', http.baseUrl);
  return body as DatasetsResponse;
}

/**
 * `DELETE /api/v1/datasets/{dataset}` (scope `admin`): deletes the dataset and its events. A
 * dataset that measures a canary in flight is refused (409) unless `force`, which rolls the
 * canary back to 0%.
 */
export async function deleteDataset(http: HttpClient, dataset: string, options: { force?: boolean } = {}): Promise<DeleteDatasetResponse> {
  const path = `/api/v1/datasets/${encodeURIComponent(dataset)}${options.force === true ? '?force=true' : ''}`;
  const body = await http.requestJson<Partial<DeleteDatasetResponse> | undefined>('DELETE', path);
  if (typeof body?.deleted_events !== 'number') throw unexpectedShape(`DELETE ${path}`, http.baseUrl);
  return { ...body, rolled_back_canaries: body.rolled_back_canaries ?? [] } as DeleteDatasetResponse;
}

/** `PUT /api/v1/datasets/{dataset}/retention` (scope `admin`): `30d`, `forever` or `default`. */
export async function setDatasetRetention(http: HttpClient, dataset: string, retention: string): Promise<DatasetInfo> {
  const path = `/api/v1/datasets/${encodeURIComponent(dataset)}/retention`;
  const body = await http.requestJson<Partial<DatasetInfo> | undefined>('PUT', path, { retention });
  if (typeof body?.name !== 'string') throw unexpectedShape(`PUT ${path}`, http.baseUrl);
  return body as DatasetInfo;
}

/** `GET /api/v1/datasets/{dataset}/beacons`: the dataset's beacon settings. */
export async function getBeaconSettings(http: HttpClient, dataset: string): Promise<BeaconSettings> {
  const path = `/api/v1/datasets/${encodeURIComponent(dataset)}/beacons`;
  const body = await http.requestJson<Partial<BeaconSettings> | undefined>('GET', path);
  if (!Array.isArray(body?.allowed_origins)) throw unexpectedShape(`GET ${path}`, http.baseUrl);
  return body as BeaconSettings;
}

/** `PUT /api/v1/datasets/{dataset}/beacons` (scope `admin`): changes the settings given, keeps the others. */
export async function setBeaconSettings(http: HttpClient, dataset: string, change: BeaconSettingsChange): Promise<BeaconSettings> {
  const path = `/api/v1/datasets/${encodeURIComponent(dataset)}/beacons`;
  const body = await http.requestJson<Partial<BeaconSettings> | undefined>('PUT', path, change);
  if (!Array.isArray(body?.allowed_origins)) throw unexpectedShape(`PUT ${path}`, http.baseUrl);
  return body as BeaconSettings;
}
