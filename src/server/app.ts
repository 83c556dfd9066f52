/**
 * The request handler of the flagscope server: routes, authorisation, and the
 * rooms' routes (docs/api.md): ingest, query, analysis, keys and flags add
 * their own. Stores, clock and logger are injected, so the same handler runs over
 * any store implementation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError, invalidInput, notFound } from '../errors.js';
import type { ControlStore } from '../store/types.js';
import type { EventStore } from '../store/types.js';
import { isJsonObject } from '../ingest/honeycomb.js';
import { checkContentType, parseJsonBody, readBody, responseBodyBytes, sendError, sendJson, sendJsonText } from './http-io.js';
import { registerIngestRoutes } from './ingest/routes.js';
import type { KeyRing } from './keys/key-ring.js';
import type { KeyService } from './keys/key-service.js';
import { registerKeyRoutes } from './keys/routes.js';
import type { ServerLimits } from './limits.js';
import { registerAnalysisRoutes } from './analysis/routes.js';
import { registerQueryRoutes } from './query/routes.js';
import { Router, type RouteRequest } from './router.js';
import type { FlagService } from './flags/flag-service.js';
import { registerFlagRoutes } from './flags/routes.js';

/** What the handler needs from outside. */
export interface AppDependencies {
  events: EventStore;
  control: ControlStore;
  /** The valid keys every request is checked against (the key service's ring when there is one). */
  keys: KeyRing;
  /** Creating, listing and revoking keys (src/server/keys/); their routes exist only when given. */
  keyService?: KeyService;
  limits: ServerLimits;
  now: () => number;
  version: string;
  /** Receives one line per request when verbose, and internal errors always. */
  log: (line: string) => void;
  verbose: boolean;
  /** Flags, kill switches and OFREP (src/server/flags/); their routes exist only when given. */
  flags?: FlagService;
}

/** Builds the route table of the server. */
export function buildRouter(deps: AppDependencies): Router {
  const router = new Router();
  const healthText = JSON.stringify({ status: 'ok', version: deps.version });
  const health = ({ res }: RouteRequest): void => sendJsonText(res, 200, healthText);
  router.add('GET', '/healthz', null, health);
  router.add('HEAD', '/healthz', null, health);
  registerIngestRoutes(router, deps);
  registerQueryRoutes(router, {
    events: deps.events,
    now: deps.now,
    readJson: async (req, what) => (await readJson(deps, req, what)).value,
  });
  if (deps.keyService !== undefined) {
    registerKeyRoutes(router, {
      keys: deps.keyService,
      readJson: async (req, what) => (await readJson(deps, req, what)).value,
      discardBody,
    });
  }
  registerAnalysisRoutes(router, deps);
  if (deps.flags !== undefined) registerFlagRoutes(router, { flags: deps.flags, maxBodyBytes: deps.limits.maxBodyBytes, now: deps.now });
  return router;
}

/**
 * Wraps a router into a `node:http` request listener that never throws and logs at verbose.
 * The dispatch is synchronous; only a handler that returns a promise gets a rejection handler.
 */
export function createRequestListener(deps: AppDependencies, router: Router): (req: IncomingMessage, res: ServerResponse) => void {
  const fail = (req: IncomingMessage, res: ServerResponse, e: unknown): void => respondWithError(deps, req, res, e);
  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    let pending: Promise<void> | void;
    try {
      pending = handleRequest(deps, router, fail, req, res);
    } catch (e) {
      respondWithError(deps, req, res, e);
      return;
    }
    if (pending !== undefined && typeof pending.then === 'function')
      pending.then(undefined, (e: unknown) => respondWithError(deps, req, res, e));
  };
  if (!deps.verbose) return dispatch;
  return (req, res) => {
    const started = performance.now();
    res.once('finish', () => {
      const bytes = responseBodyBytes(res);
      const ms = (performance.now() - started).toFixed(1);
      deps.log(`${req.method} ${req.url} ${res.statusCode} ${bytes}B ${ms}ms`);
    });
    dispatch(req, res);
  };
}

function handleRequest(
  deps: AppDependencies,
  router: Router,
  fail: RouteRequest['fail'],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> | void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const method = req.method ?? 'GET';
  const match = router.match(method, path);
  if (match.kind === 'not-found') {
    throw notFound(`no endpoint ${method} ${path}`, 'see docs/api.md for the endpoints');
  }
  if (match.kind === 'wrong-method') {
    const allow = match.allow.join(', ');
    const error = new FlagscopeError('invalid_input', `method ${method} is not allowed on ${path}`, `use ${allow}`);
    return discardBody(req).then(() => sendJson(res, 405, { error: error.toJSON() }, { allow }));
  }
  const { route, params } = match;
  const key = route.scope === null ? undefined : deps.keys.authorize(req.headers, route.scope);
  return route.handler({ req, res, params, query: q === -1 ? '' : url.slice(q + 1), key, fail });
}

function respondWithError(deps: AppDependencies, req: IncomingMessage, res: ServerResponse, e: unknown): void {
  let error: FlagscopeError;
  if (e instanceof FlagscopeError) error = e;
  else {
    deps.log(`internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
    error = new FlagscopeError(
      'internal',
      'internal server error',
      'retry; if it persists, run `flagscope serve --verbose` and report the log',
    );
  }
  const headers: Record<string, string> = {};
  if (error.httpStatus === 429) headers['retry-after'] = String(deps.limits.retryAfterSeconds);
  // The body may not have been read (e.g. 401 before reading); read it so the client gets the answer.
  discardBody(req)
    .then(() => sendError(res, error, headers))
    .catch(() => res.destroy());
}

function discardBody(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.complete) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > 64 * 1024 * 1024) req.socket.destroy();
    });
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.resume();
  });
}

async function readJson(deps: AppDependencies, req: IncomingMessage, what: string): Promise<{ value: unknown; body: Buffer }> {
  checkContentType(req);
  const body = await readBody(req, deps.limits.maxBodyBytes);
  return { value: parseJsonBody(body.toString('utf8'), what), body };
}
