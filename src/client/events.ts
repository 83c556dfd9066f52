/**
 * Raw events: `POST /api/v1/events/{dataset}` (docs/api.md, "Raw events"): a list, newest first,
 * or the events stored after a cursor, waiting for them.
 */
import type { EventsRequest, EventsResponse } from '../api/events.js';
import { type HttpClient, unexpectedShape } from './http.js';

/**
 * Reads raw events of `dataset`; reading changes nothing, so it is retried like a read. A request
 * that waits (`wait_ms`) is stopped by `signal`.
 */
export async function readEvents(http: HttpClient, dataset: string, request: EventsRequest, signal?: AbortSignal): Promise<EventsResponse> {
  const path = `/api/v1/events/${encodeURIComponent(dataset)}`;
  const options = signal === undefined ? { idempotent: true, sendDeadline: true } : { idempotent: true, sendDeadline: true, signal };
  const body = await http.requestJson<EventsResponse | undefined>('POST', path, request, options);
  if (typeof body !== 'object' || body === null || !Array.isArray(body.events) || typeof body.cursor !== 'string')
    throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return body;
}
