/**
 * Queries: `POST /api/v1/query/{dataset}` with a Honeycomb query
 * specification (docs/query.md).
 */
import type { QueryResult, QuerySpec } from '../api/query.js';
import { type HttpClient, unexpectedShape } from './http.js';

/** Runs `spec` over `dataset`; a query changes nothing, so it is retried like a read. */
export async function runQuery(http: HttpClient, dataset: string, spec: QuerySpec): Promise<QueryResult> {
  const path = `/api/v1/query/${encodeURIComponent(dataset)}`;
  const body = await http.requestJson<QueryResult | undefined>('POST', path, spec, { idempotent: true, sendDeadline: true });
  if (typeof body !== 'object' || body === null || !Array.isArray(body.data?.results)) throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return body;
}
