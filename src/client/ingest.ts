/**
 * Event ingest: Honeycomb's `POST /1/batch/{dataset}` (docs/api.md).
 */
import type { BatchItem, BatchItemStatus } from '../api/ingest.js';
import { type HttpClient, unexpectedShape } from './http.js';

/**
 * Sends one batch; resolves to one status per item, in order. Never repeated
 * after a 5xx or a dropped connection, since some of its events may be stored.
 */
export async function sendBatch(http: HttpClient, dataset: string, items: BatchItem[]): Promise<BatchItemStatus[]> {
  const path = `/1/batch/${encodeURIComponent(dataset)}`;
  const body = await http.requestJson<BatchItemStatus[] | undefined>('POST', path, items, { idempotent: false });
  if (!Array.isArray(body) || body.length !== items.length) throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return body;
}
