/**
 * The flagscope API client: the HTTP client of `http.ts` (one undici agent,
 * the same timeouts and retries for every call) with the most used endpoints
 * as methods. Every other endpoint is a function of its noun module
 * (`flags.ts`, `buttons.ts`, `keys.ts`, `ofrep.ts`) that takes this client.
 */
import type { CompareReport, ExplainReport } from '../api/analysis.js';
import type { ColumnInfo, ColumnTypeChange, DatasetInfo } from '../api/datasets.js';
import type { BatchItem, BatchItemStatus } from '../api/ingest.js';
import type { QueryResult, QuerySpec } from '../api/query.js';
import { compareCohorts, explainSelection } from './analysis.js';
import { listColumns, listDatasets, setColumnType } from './datasets.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from './http.js';
import { sendBatch } from './ingest.js';
import { runQuery } from './query.js';

export type { ApiResponse, RequestOptions } from './http.js';
export { httpError, transportError } from './http.js';
export type { BatchItem, BatchItemStatus };

export type ApiClientOptions = HttpClientOptions;

export interface ApiClient extends HttpClient {
  /** `GET /healthz`. */
  health(): Promise<Record<string, unknown>>;
  /** `GET /api/v1/datasets`. */
  listDatasets(): Promise<DatasetInfo[]>;
  /** `GET /api/v1/datasets/{dataset}/columns`. */
  listColumns(dataset: string): Promise<ColumnInfo[]>;
  /** `POST /api/v1/datasets/{dataset}/columns/{column}/type` (scope `admin`). */
  setColumnType(dataset: string, column: string, type: string): Promise<ColumnTypeChange>;
  /** `POST /api/v1/query/{dataset}` with a Honeycomb query spec. */
  query(dataset: string, spec: QuerySpec): Promise<QueryResult>;
  /** `POST /1/batch/{dataset}`; resolves to one status per item, in order. */
  sendBatch(dataset: string, items: BatchItem[]): Promise<BatchItemStatus[]>;
  /** `POST /api/v1/compare/{dataset}`: flag cohorts compared on metrics (docs/api.md). */
  compare(dataset: string, request: Record<string, unknown>): Promise<CompareReport>;
  /** `POST /api/v1/explain/{dataset}`: what sets a selection of events apart (docs/api.md). */
  explain(dataset: string, request: Record<string, unknown>): Promise<ExplainReport>;
}

/** Creates an API client for one base URL and key. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const http = createHttpClient(options);
  return {
    baseUrl: http.baseUrl,
    requestJson: http.requestJson,
    request: http.request,
    close: http.close,
    health: () => http.requestJson<Record<string, unknown>>('GET', '/healthz'),
    listDatasets: () => listDatasets(http),
    listColumns: (dataset) => listColumns(http, dataset),
    setColumnType: (dataset, column, type) => setColumnType(http, dataset, column, type),
    query: (dataset, spec) => runQuery(http, dataset, spec),
    sendBatch: (dataset, items) => sendBatch(http, dataset, items),
    compare: (dataset, request) => compareCohorts(http, dataset, request),
    explain: (dataset, request) => explainSelection(http, dataset, request),
  };
}
