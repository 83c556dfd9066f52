/**
 * The Honeycomb ingest endpoints, scope `ingest` (docs/api.md): `POST /1/events/{dataset}` (one
 * event, metadata in headers; an empty 200 as Honeycomb answers) and `POST /1/batch/{dataset}`
 * (a JSON array; 200 with one status per item).
 */
import type { IncomingMessage } from 'node:http';
import { readBody, readJsonBody, sendEmpty, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import { WARNING_HEADER } from '../../api/ingest.js';
import { IngestService, type IngestServiceDependencies } from './ingest-service.js';

/** What the ingest endpoints need from the server. */
export type IngestRouteDependencies = IngestServiceDependencies;

/** Adds the single-event and batch routes to the server's router. */
export function registerIngestRoutes(router: Router, deps: IngestRouteDependencies): void {
  const ingest = new IngestService(deps);
  const maxBodyBytes = deps.limits.maxBodyBytes;
  router.add('POST', '/1/events/:dataset', 'ingest', async ({ req, res, params }) => {
    const { value, body } = await readJsonBody(req, maxBodyBytes, 'event body');
    const metadata = { time: header(req, 'x-honeycomb-event-time'), samplerate: header(req, 'x-honeycomb-samplerate') };
    const { warning } = await ingest.ingestEvent(params.dataset as string, value, metadata, body.length);
    if (warning === undefined) sendEmpty(res, 200);
    else sendJson(res, 200, { status: 202, warning }, { [WARNING_HEADER]: headerText(warning) });
  });
  router.add('POST', '/1/batch/:dataset', 'ingest', async ({ req, res, params }) => {
    const body = await readBody(req, maxBodyBytes, ingest.batchBodyBuffer);
    try {
      const statuses = await ingest.ingestBatch(params.dataset as string, body);
      const warned = statuses.filter((status) => status.warning !== undefined).length;
      const headers =
        warned === 0
          ? undefined
          : {
              [WARNING_HEADER]: `${warned} of ${statuses.length} items stored with values that did not fit their columns: see each item's "warning"`,
            };
      sendJson(res, 200, statuses, headers);
    } finally {
      ingest.releaseBatchBody(body);
    }
  });
}

/** A warning as a header value: printable ASCII (anything else as `?`; the body has the whole text), at most 1,000 characters. */
function headerText(warning: string): string {
  return warning.replace(/[^\x20-\x7e]/g, '?').slice(0, 1000);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
