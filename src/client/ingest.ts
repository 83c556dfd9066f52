/**
 * Event ingest: Honeycomb's `POST /1/batch/{dataset}` (docs/api.md).
 */
import { randomUUID } from 'node:crypto';
import type { BatchItem, BatchItemStatus } from '../api/ingest.js';
import { type HttpClient, unexpectedShape } from './http.js';

/**
 * Sends one batch; resolves to one status per item, in order. It goes with an `Idempotency-Key`
 * of its own, so it is repeated after a 5xx or a dropped connection (and after a 409 while its
 * first attempt still runs) without being stored twice: the server answers a repeat from the
 * first attempt (docs/api.md, "Idempotency-Key"; within one server process).
 */
export async function sendBatch(http: HttpClient, dataset: string, items: BatchItem[]): Promise<BatchItemStatus[]> {
  const path = `/1/batch/${encodeURIComponent(dataset)}`;
  const body = await http.requestJson<BatchItemStatus[] | undefined>('POST', path, items, {
    headers: { 'idempotency-key': randomUUID() },
    idempotent: true,
    retryAnswer: (status, text) => status === 409 && text.includes('"idempotency":"in_flight"'),
  });
  if (!Array.isArray(body) || body.length !== items.length) throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return body;
}
