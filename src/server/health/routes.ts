/** `GET /healthz` and `HEAD /healthz` (docs/api.md): no key, the server's status and version. */
import { sendJsonText } from '../http-io.js';
import type { RouteRequest, Router } from '../router.js';

/** Adds the health routes to `router`; the answer is serialised once. */
export function registerHealthRoutes(router: Router, deps: { version: string }): void {
  const healthText = JSON.stringify({ status: 'ok', version: deps.version });
  const health = ({ res }: RouteRequest): void => sendJsonText(res, 200, healthText);
  router.add('GET', '/healthz', null, health);
  router.add('HEAD', '/healthz', null, health);
}
