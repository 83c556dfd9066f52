/**
 * The buttons endpoints (docs/api.md): `GET /api/v1/services` (kill switches by service) and
 * `POST /api/v1/flags/{key}/press|release` (scope `killswitch`).
 */
import { scopesAllow } from '../../api/keys.js';
import type { ApiKeyRecord } from '../../store/types.js';
import { readJsonObject, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import type { FlagService } from '../flags/flag-service.js';
import { pressOrRelease, servicesView } from './buttons-service.js';
import type { CanaryService } from '../canaries/canary-service.js';
import { canaryButtonView } from '../canaries/canary-view.js';
import { isTerminal } from '../../canary/index.js';

/** What the buttons endpoints need from the server. */
export interface ButtonRouteDependencies {
  flags: FlagService;
  limits: { maxBodyBytes: number };
  /** The canary controller's service: its canaries in flight are shown as abort buttons. */
  canaries?: () => CanaryService | undefined;
}

/** Adds the services view and the press and release routes to `router`. */
export function registerButtonRoutes(router: Router, deps: ButtonRouteDependencies): void {
  const { flags } = deps;
  for (const verb of ['press', 'release'] as const) {
    router.add('POST', `/api/v1/flags/:key/${verb}`, 'killswitch', async ({ req, res, params, key }) => {
      const body = await readJsonObject(req, deps.limits.maxBodyBytes, `${verb} request`);
      const answer = await pressOrRelease(flags, verb, params.key as string, key?.name ?? 'anonymous', body['reason'], canReadFlags(key));
      sendJson(res, 200, answer);
    });
  }
  // The on-call's list of buttons: a `killswitch` key sees the switches it may press, nothing more.
  router.add('GET', '/api/v1/services', ['flags:read', 'killswitch'], async ({ res, key }) => {
    const canaries = deps.canaries?.();
    const inFlight = canaries === undefined ? [] : (await canaries.list()).filter((c) => !isTerminal(c.state.status)).map(canaryButtonView);
    sendJson(res, 200, { configVersion: flags.snapshot().configVersion, services: servicesView(flags, canReadFlags(key), inFlight) });
  });
}

function canReadFlags(key: ApiKeyRecord | undefined): boolean {
  return key !== undefined && scopesAllow(key.scopes, 'flags:read');
}
