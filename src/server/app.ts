/**
 * The request handler of the flagscope server: routes, authorisation, and the
 * ingest endpoints (docs/api.md); the query, analysis, key and flag rooms add
 * their own. Stores, clock and logger are injected, so the same handler runs over
 * any store implementation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError, invalidInput, notFound } from '../errors.js';
import type { ControlStore } from '../store/types.js';
import type { PreparedIngest } from '../store/duckdb/prepared.js';
import type { EventStore, IncomingEvent, IngestOutcome } from '../store/types.js';
import { eventProblem } from '../store/value-rules.js';
import type { ScanResult } from '../store/duckdb/batch-scanner.js';
import type { IngestPool, ScanReply } from '../store/duckdb/ingest-pool.js';
import { parseJsonBody, readBody, responseBodyBytes, sendEmpty, sendError, sendJson, sendJsonText } from './http-io.js';
import { arrayItemByteLengths, batchItems, mergeOutcomes, singleEvent, type ParsedItem } from './ingest/decode.js';
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
  /** Worker threads that scan batch bodies into column buffers; without it batches are parsed on the main thread. */
  ingestPool?: IngestPool;
  /** Batch bodies smaller than this are parsed on the main thread (a worker round trip would cost more). */
  ingestWorkerMinBytes?: number;
}

/** Default of {@link AppDependencies.ingestWorkerMinBytes}. */
export const DEFAULT_INGEST_WORKER_MIN_BYTES = 16 * 1024;

/** Optional capability of an event store: how full its ingest queue is. */
interface PressureGauge {
  pressure(): { queuedEvents: number; max: number };
}

const ACCEPTED_CONTENT_TYPES = new Set(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/x-ndjson']);

/** Builds the route table of the server. */
export function buildRouter(deps: AppDependencies): Router {
  const router = new Router();
  const healthText = JSON.stringify({ status: 'ok', version: deps.version });
  const health = ({ res }: RouteRequest): void => sendJsonText(res, 200, healthText);
  router.add('GET', '/healthz', null, health);
  router.add('HEAD', '/healthz', null, health);
  router.add('POST', '/1/events/:dataset', 'ingest', (r) => ingestSingle(deps, r));
  router.add('POST', '/1/batch/:dataset', 'ingest', (r) => ingestBatch(deps, r));
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

function checkContentType(req: IncomingMessage): void {
  const header = req.headers['content-type'];
  if (header === undefined) return;
  const type = (header.split(';')[0] ?? '').trim().toLowerCase();
  if (type === '' || ACCEPTED_CONTENT_TYPES.has(type) || type.endsWith('+json')) return;
  throw invalidInput(`content type "${type}" is not accepted`, 'send JSON with `Content-Type: application/json`');
}

async function readJson(deps: AppDependencies, req: IncomingMessage, what: string): Promise<{ value: unknown; body: Buffer }> {
  checkContentType(req);
  const body = await readBody(req, deps.limits.maxBodyBytes);
  return { value: parseJsonBody(body.toString('utf8'), what), body };
}

function checkBackpressure(deps: AppDependencies, incoming: number): void {
  const gauge = deps.events as Partial<PressureGauge>;
  if (typeof gauge.pressure !== 'function') return;
  const { queuedEvents, max } = gauge.pressure();
  if (queuedEvents > 0 && queuedEvents + incoming > max) {
    throw new FlagscopeError(
      'overloaded',
      `ingest queue is full (${queuedEvents} of ${max} events waiting to be committed)`,
      `retry after ${deps.limits.retryAfterSeconds}s`,
    );
  }
}

async function ingestSingle(deps: AppDependencies, { req, res, params }: RouteRequest): Promise<void> {
  const dataset = params.dataset as string;
  const { value, body } = await readJson(deps, req, 'event body');
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const event = singleEvent(
    value,
    { time: header('x-honeycomb-event-time'), samplerate: header('x-honeycomb-samplerate') },
    body.length,
    deps.limits.maxEventBytes,
    deps.now(),
  );
  checkBackpressure(deps, 1);
  const [outcome] = await deps.events.ingest(dataset, [event]);
  if (outcome === undefined || outcome.status !== 202) {
    throw invalidInput(outcome?.error ?? 'event was not stored', 'fix the event and send it again');
  }
  // Honeycomb answers a stored single event with an empty 200.
  sendEmpty(res, 200);
}

async function ingestBatch(deps: AppDependencies, { req, res, params }: RouteRequest): Promise<void> {
  const dataset = params.dataset as string;
  checkContentType(req);
  const pool = deps.ingestPool;
  const minBytes = deps.ingestWorkerMinBytes ?? DEFAULT_INGEST_WORKER_MIN_BYTES;
  const allocate =
    pool === undefined
      ? undefined
      : (bytes: number) => (bytes >= minBytes && bytes <= deps.limits.maxBodyBytes ? pool.takeBody(bytes) : Buffer.allocUnsafe(bytes));
  const body = await readBody(req, deps.limits.maxBodyBytes, allocate);
  try {
    await ingestBatchBody(deps, res, dataset, body);
  } finally {
    // A body in shared memory goes back to the pool (the worker only read it in place).
    pool?.releaseBody(body);
  }
}

async function ingestBatchBody(deps: AppDependencies, res: ServerResponse, dataset: string, original: Buffer): Promise<void> {
  let body = original;
  const pool = deps.ingestPool;
  const scan = pool === undefined ? undefined : await scanInWorker(deps, pool, dataset, body);
  if (pool !== undefined && scan !== undefined) {
    const { reply, now } = scan;
    body = Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength);
    if (reply.result.kind === 'prepared') {
      let outcomes: IngestOutcome[];
      try {
        outcomes = await storePrepared(deps, dataset, reply.result, body, now);
      } finally {
        pool.recycle(reply);
      }
      sendJson(res, 200, outcomes);
      return;
    }
  }
  const items = parseBatch(deps, body, deps.now());
  const events = [];
  for (const item of items) if (item.ok) events.push(item.event);
  checkBackpressure(deps, events.length);
  const stored: IngestOutcome[] = events.length > 0 ? await deps.events.ingest(dataset, events) : [];
  sendJson(res, 200, mergeOutcomes(items, stored));
}

/** The object path's reading of a batch body: `JSON.parse`, then each item on its own (`batchItems`). */
function parseBatch(deps: AppDependencies, body: Buffer, now: number): ParsedItem[] {
  const value = parseJsonBody(body.toString('utf8'), 'batch body');
  const itemBytes = Array.isArray(value) && body.length > deps.limits.maxEventBytes ? arrayItemByteLengths(body) : undefined;
  return batchItems(value, itemBytes, deps.limits.maxEventBytes, now);
}

/**
 * Scans a large batch body in an ingest worker against the dataset's columns, or returns
 * undefined to leave it to the object path: a small body, an unknown dataset, or a worker that
 * failed while the body is still at hand (in shared memory; a transferred one is gone with the
 * worker, and that request fails with `server_error`).
 */
async function scanInWorker(
  deps: AppDependencies,
  pool: IngestPool,
  dataset: string,
  body: Buffer,
): Promise<{ reply: ScanReply; now: number } | undefined> {
  const store = deps.events as Partial<PreparedIngest>;
  if (body.length < (deps.ingestWorkerMinBytes ?? DEFAULT_INGEST_WORKER_MIN_BYTES) || store.snapshot === undefined) return undefined;
  const snapshot = store.snapshot(dataset);
  if (snapshot === undefined) return undefined;
  const now = deps.now();
  try {
    return { reply: await pool.scan(dataset, snapshot, body, now, deps.limits.maxEventBytes), now };
  } catch (error) {
    if (!(body.buffer instanceof SharedArrayBuffer)) throw error;
    deps.log(`ingest worker failed (${error instanceof Error ? error.message : String(error)}); parsing the batch on the main thread`);
    return undefined;
  }
}

/** Stores a batch the ingest workers scanned, and answers for every item in order. */
async function storePrepared(
  deps: AppDependencies,
  dataset: string,
  scan: Extract<ScanResult, { kind: 'prepared' }>,
  body: Buffer,
  now: number,
): Promise<IngestOutcome[]> {
  checkBackpressure(deps, scan.events);
  const store = deps.events as EventStore & PreparedIngest;
  // The object path's events for the same body, for when the dataset's columns changed meanwhile.
  const materialize = (): IncomingEvent[] => {
    const events: IncomingEvent[] = [];
    for (const item of parseBatch(deps, body, now)) {
      if (item.ok && eventProblem(item.event) === undefined) events.push(item.event);
    }
    if (events.length !== scan.events) throw new Error(`the batch holds ${events.length} events, its scan ${scan.events}`);
    return events;
  };
  const stored =
    scan.events > 0
      ? await store.ingestPrepared(dataset, {
          version: scan.version,
          chunks: scan.chunks,
          events: scan.events,
          lastEventMs: scan.lastEventMs,
          hasSampling: scan.hasSampling,
          materialize,
        })
      : [];
  const outcomes: IngestOutcome[] = new Array(scan.items);
  let next = 0;
  let rejected = 0;
  for (let index = 0; index < scan.items; index++) {
    const refusal = scan.rejected[rejected];
    if (refusal !== undefined && refusal[0] === index) {
      outcomes[index] = { status: 400, error: refusal[1] };
      rejected++;
    } else {
      outcomes[index] = stored[next++] ?? { status: 400, error: 'event was not stored' };
    }
  }
  return outcomes;
}
