/**
 * `GET /healthz` and `HEAD /healthz` (docs/api.md): no key, the server's status and version, how
 * many analyses run and wait, and the beacon window's counters (open executions, those closed
 * early because memory was full).
 */
import type { AnalysisLoad } from '../admission.js';
import type { BeaconStats } from '../beacons/beacon-service.js';
import { sendJson } from '../http-io.js';
import type { RouteRequest, Router } from '../router.js';

/** Adds the health routes to `router`. */
export function registerHealthRoutes(
  router: Router,
  deps: { version: string; analyses: { load(): AnalysisLoad }; beacons: { stats(): BeaconStats } },
): void {
  const health = ({ res }: RouteRequest): void =>
    sendJson(res, 200, { status: 'ok', version: deps.version, analyses: deps.analyses.load(), beacons: deps.beacons.stats() });
  router.add('GET', '/healthz', null, health);
  router.add('HEAD', '/healthz', null, health);
}
