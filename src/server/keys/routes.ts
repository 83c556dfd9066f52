/**
 * The key endpoints (docs/api.md): list, create and revoke API keys, for `admin` keys only; and
 * `whoami`, which any valid key may call about itself. Thin: parse, call the key service, answer.
 */
import { API_KEY_SCOPES, type WhoAmIResponse } from '../../api/keys.js';
import { discardBody, readJsonBody, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import type { ApiKeyRecord } from '../../store/types.js';
import { type KeyService, publicKey } from './key-service.js';

export interface KeyRouteDependencies {
  keys: KeyService;
  /** The request body limit of the body policy (src/server/http-io.ts). */
  limits: { maxBodyBytes: number };
}

/** Adds `GET`/`POST /api/v1/keys`, `DELETE /api/v1/keys/:id` and `GET /api/v1/whoami` to `router`. */
export function registerKeyRoutes(router: Router, deps: KeyRouteDependencies): void {
  router.add('GET', '/api/v1/keys', 'admin', async ({ res }) => {
    sendJson(res, 200, { keys: await deps.keys.list() });
  });
  router.add('POST', '/api/v1/keys', 'admin', async ({ req, res, key }) => {
    const { value: request } = await readJsonBody(req, deps.limits.maxBodyBytes, 'key request');
    sendJson(res, 201, await deps.keys.create(request, key?.name ?? null));
  });
  router.add('DELETE', '/api/v1/keys/:id', 'admin', async ({ req, res, params, key }) => {
    await discardBody(req);
    sendJson(res, 200, await deps.keys.revoke(params.id as string, key));
  });
  // Every valid key has at least one scope, so "any scope" admits any valid key.
  router.add('GET', '/api/v1/whoami', API_KEY_SCOPES, ({ res, key }) => {
    const { revoked_at: _revoked, ...info } = publicKey(key as ApiKeyRecord);
    const answer: WhoAmIResponse = { key: info };
    sendJson(res, 200, answer);
  });
}
