/**
 * The raw-event endpoint (docs/api.md, "Raw events"), scope `query`:
 * `POST /api/v1/events/{dataset}` lists stored events, newest first, or (with `after`) the
 * events stored after a cursor, waiting up to `wait_ms` for them.
 */
import { parseTimeoutHeader, TIMEOUT_HEADER } from '../admission.js';
import { clientGone, readJsonObject, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import type { EventsService } from './events-service.js';

export interface EventRouteDependencies {
  rawEvents: EventsService;
  /** The request body limit of the body policy (src/server/http-io.ts). */
  limits: { maxBodyBytes: number };
}

/** Adds the raw-event route to the server's router. */
export function registerEventRoutes(router: Router, deps: EventRouteDependencies): void {
  router.add('POST', '/api/v1/events/:dataset', 'query', async ({ req, res, params }) => {
    const timeoutMs = parseTimeoutHeader(req.headers[TIMEOUT_HEADER]);
    const body = await readJsonObject(req, deps.limits.maxBodyBytes, 'raw-event request', {
      emptyIsObject: true,
      hint: 'see docs/api.md, "Raw events": e.g. {"filters": [{"column": "status_code", "op": ">=", "value": 500}], "limit": 20}',
    });
    sendJson(res, 200, await deps.rawEvents.read(params.dataset as string, body, { clientGone: clientGone(res), timeoutMs }));
  });
}
