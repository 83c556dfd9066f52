/** `GET /healthz` and `HEAD /healthz` (docs/api.md): no key, the server's status and version, and how many analyses run and wait. */
import type { AnalysisLoad } from '../admission.js';
import { sendJson } from '../http-io.js';
import type { RouteRequest, Router } from '../router.js';

/** Adds the health routes to `router`. */
export function registerHealthRoutes(router: Router, deps: { version: string; analyses: { load(): AnalysisLoad } }): void {
  const health = ({ res }: RouteRequest): void =>
    sendJson(res, 200, { status: 'ok', version: deps.version, analyses: deps.analyses.load() });
  router.add('GET', '/healthz', null, health);
  router.add('HEAD', '/healthz', null, health);
}
