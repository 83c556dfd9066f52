/**
 * The key endpoints (docs/api.md): list, create and revoke API keys, for `admin` keys only.
 * Thin: parse, call the key service, answer.
 */
import type { IncomingMessage } from 'node:http';
import { sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import type { KeyService } from './key-service.js';

export interface KeyRouteDependencies {
  keys: KeyService;
  /** Reads a request's JSON body under the server's content-type and size policy. */
  readJson: (req: IncomingMessage, what: string) => Promise<unknown>;
  /** Reads and drops a body the route does not use. */
  discardBody: (req: IncomingMessage) => Promise<void>;
}

/** Adds `GET`/`POST /api/v1/keys` and `DELETE /api/v1/keys/:id` to `router`. */
export function registerKeyRoutes(router: Router, deps: KeyRouteDependencies): void {
  router.add('GET', '/api/v1/keys', 'admin', async ({ res }) => {
    sendJson(res, 200, { keys: await deps.keys.list() });
  });
  router.add('POST', '/api/v1/keys', 'admin', async ({ req, res, key }) => {
    const request = await deps.readJson(req, 'key request');
    sendJson(res, 201, await deps.keys.create(request, key?.name ?? null));
  });
  router.add('DELETE', '/api/v1/keys/:id', 'admin', async ({ req, res, params, key }) => {
    await deps.discardBody(req);
    sendJson(res, 200, await deps.keys.revoke(params.id as string, key));
  });
}
