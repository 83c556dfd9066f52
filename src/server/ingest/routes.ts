/**
 * The Honeycomb ingest endpoints, scope `ingest` (docs/api.md): `POST /1/events/{dataset}` (one
 * event, metadata in headers; an empty 200 as Honeycomb answers, with `X-Flagscope-Warning` when
 * the event's values were not all UTF-8) and `POST /1/batch/{dataset}`
 * (a JSON array; 200 with one status per item).
 */
import type { IncomingMessage } from 'node:http';
import { readBody, sendEmpty, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import { IngestService, type IngestServiceDependencies } from './ingest-service.js';

/** What the ingest endpoints need from the server. */
export type IngestRouteDependencies = IngestServiceDependencies;

/** Adds the single-event and batch routes to the server's router. */
export function registerIngestRoutes(router: Router, deps: IngestRouteDependencies): void {
  const ingest = new IngestService(deps);
  const maxBodyBytes = deps.limits.maxBodyBytes;
  router.add('POST', '/1/events/:dataset', 'ingest', async ({ req, res, params }) => {
    const body = await readBody(req, maxBodyBytes);
    const metadata = { time: header(req, 'x-honeycomb-event-time'), samplerate: header(req, 'x-honeycomb-samplerate') };
    const warning = await ingest.ingestEventBody(params.dataset as string, body, metadata);
    // Honeycomb answers an empty 200; a warning (values that were not UTF-8) rides in a header.
    sendEmpty(res, 200, warning === undefined ? undefined : { 'x-flagscope-warning': warning });
  });
  router.add('POST', '/1/batch/:dataset', 'ingest', async ({ req, res, params }) => {
    const body = await readBody(req, maxBodyBytes, ingest.batchBodyBuffer);
    try {
      sendJson(res, 200, await ingest.ingestBatch(params.dataset as string, body));
    } finally {
      ingest.releaseBatchBody(body);
    }
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
