/**
 * The request handler of the flagscope server: the route table assembled from each
 * room's `register…Routes` (docs/api.md), authorisation, and error answers. Stores, clock and logger are injected, so the same handler runs over
 * any store implementation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError, notFound } from '../errors.js';
import type { ControlStore } from '../store/types.js';
import type { EventStore } from '../store/types.js';
import { discardBody, responseBodyBytes, sendError, sendJson } from './http-io.js';
import { IngestService } from './ingest/ingest-service.js';
import { registerIngestRoutes } from './ingest/routes.js';
import { registerOtlpRoutes } from './otlp/routes.js';
import type { KeyRing } from './keys/key-ring.js';
import type { KeyService } from './keys/key-service.js';
import { registerKeyRoutes } from './keys/routes.js';
import type { ServerLimits } from './limits.js';
import { systemTimers, type TimerScheduler } from '../scheduler.js';
import { registerAnalysisRoutes } from './analysis/routes.js';
import { AnalysisGate } from './admission.js';
import { registerQueryRoutes } from './query/routes.js';
import { DatasetService } from './datasets/dataset-service.js';
import { registerDatasetRoutes } from './datasets/routes.js';
import { Router, type RouteRequest } from './router.js';
import type { FlagService } from './flags/flag-service.js';
import { registerFlagRoutes } from './flags/routes.js';
import { registerButtonRoutes } from './buttons/routes.js';
import { registerHealthRoutes } from './health/routes.js';
import { registerOfrepRoutes } from './ofrep/routes.js';
import type { CanaryService } from './canaries/canary-service.js';
import { registerCanaryRoutes } from './canaries/routes.js';
import { EventArrivals } from './events/arrivals.js';
import { EventsService } from './events/events-service.js';
import { registerEventRoutes } from './events/routes.js';
import { BeaconService } from './beacons/beacon-service.js';
import { registerBeaconRoutes } from './beacons/routes.js';

/**
 * What the handler needs from outside: what every room shares (limits, clock, scheduler, log),
 * then what each noun brings. A new noun (canary, beacons) adds its service here and its
 * `register…Routes(router, deps)` to {@link buildRouter}.
 */
export interface AppDependencies {
  events: EventStore;
  control: ControlStore;
  /** The valid keys every request is checked against (the key service's ring when there is one). */
  keys: KeyRing;
  /** Creating, listing and revoking keys (src/server/keys/); their routes exist only when given. */
  keyService?: KeyService;
  limits: ServerLimits;
  now: () => number;
  /** Timers (the stream heartbeat). Default: Node's timers over `now`, not keeping the process alive. */
  scheduler?: TimerScheduler;
  version: string;
  /** Receives one line per request when verbose, and internal errors always. */
  log: (line: string) => void;
  verbose: boolean;
  /** Flags, kill switches and OFREP (src/server/flags/); their routes exist only when given. */
  flags?: FlagService;
  /** Admission control of queries, compare and explain. Default: a gate over `limits` and `scheduler`. */
  analyses?: AnalysisGate;
  /** The canary controller's service, once its job has started (src/server/canaries/); the routes answer 429 before. */
  canaries?: () => CanaryService | undefined;
  /** Milliseconds between two ticks of the controller (for `nextDecisionAt`). */
  canaryTickMs?: number;
  /** Wakes waiting raw-event requests on commits, and ends their waits when the server closes. Default: one of the router's own. */
  arrivals?: EventArrivals;
  /** Datasets as a whole: size, delete, retention (src/server/datasets/). Default: one over `events` with no default retention. */
  datasets?: DatasetService;
  /**
   * Browser beacons (src/server/beacons/). Default: one in memory only, without the flush job
   * (its windows close only when memory is full): `startServer` gives the real one.
   */
  beacons?: BeaconService;
}

/** Builds the route table of the server. */
export function buildRouter(deps: AppDependencies): Router {
  const router = new Router();
  const analyses = deps.analyses ?? new AnalysisGate(deps.limits, deps.scheduler ?? systemTimers({ now: deps.now, keepAlive: false }));
  const timers = deps.scheduler ?? systemTimers({ now: deps.now, keepAlive: false });
  const beacons =
    deps.beacons ??
    new BeaconService({ events: deps.events, scheduler: timers, log: deps.log, retryAfterSeconds: deps.limits.retryAfterSeconds });
  registerHealthRoutes(router, { ...deps, analyses, beacons });
  const arrivals = deps.arrivals ?? new EventArrivals(timers);
  // One ingest service for Honeycomb and OTLP ingest: one queue admission and one body budget.
  const ingest = new IngestService({ ...deps, arrivals });
  registerIngestRoutes(router, { ...deps, arrivals, ingest });
  registerOtlpRoutes(router, { ...deps, ingest });
  registerBeaconRoutes(router, { ...deps, beacons });
  registerQueryRoutes(router, { ...deps, analyses });
  registerEventRoutes(router, { ...deps, rawEvents: new EventsService({ ...deps, analyses, arrivals }) });
  registerDatasetRoutes(router, {
    ...deps,
    datasets: deps.datasets ?? new DatasetService({ events: deps.events, defaultRetentionMs: null, now: deps.now, log: deps.log }),
  });
  if (deps.keyService !== undefined) registerKeyRoutes(router, { ...deps, keys: deps.keyService });
  registerAnalysisRoutes(router, { ...deps, analyses });
  if (deps.flags !== undefined) {
    const flagRooms = { ...deps, flags: deps.flags, scheduler: deps.scheduler ?? systemTimers({ now: deps.now, keepAlive: false }) };
    registerFlagRoutes(router, flagRooms);
    registerButtonRoutes(router, flagRooms);
    registerOfrepRoutes(router, flagRooms);
    registerCanaryRoutes(router, flagRooms);
  }
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
  // `usage` is the CLI's word for bad input (parsers shared with it throw it); the API's is `invalid_input`.
  if (e instanceof FlagscopeError && e.code === 'usage')
    error = new FlagscopeError('invalid_input', e.message, e.hint, { cause: e, details: e.details });
  else if (e instanceof FlagscopeError) error = e;
  else {
    deps.log(`internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
    error = new FlagscopeError(
      'internal',
      'internal server error',
      'retry; if it persists, run `flagscope serve --verbose` and report the log',
    );
  }
  const headers: Record<string, string> = {};
  if (error.httpStatus === 429) headers['retry-after'] = String(retryAfterOf(error) ?? deps.limits.retryAfterSeconds);
  // The body may not have been read (e.g. 401 before reading); read it so the client gets the answer.
  discardBody(req)
    .then(() => sendError(res, error, headers))
    .catch(() => res.destroy());
}

/** The seconds a 429 names itself (`details.retryAfterSeconds`, e.g. the analysis queue's), if any. */
function retryAfterOf(error: FlagscopeError): number | undefined {
  const seconds = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' ? seconds : undefined;
}
