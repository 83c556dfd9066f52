/** Request limits of the server (documented in docs/api.md, "Limits"). */
import { availableParallelism } from 'node:os';
import { DEFAULT_MAX_OPEN_BEACON_BYTES, DEFAULT_MAX_OPEN_EXECUTIONS } from '../ingest/beacons/sessionizer.js';
import { defaultMaxConcurrentAnalyses, threadPoolSize } from './admission.js';

export interface ServerLimits {
  /** Largest event (its `data` as JSON text), in bytes. A larger single event is a 400; in a batch, a per-item 400. */
  maxEventBytes: number;
  /** Largest request body after decompression, in bytes. Larger requests get 413 and are not stored. */
  maxBodyBytes: number;
  /** Columns per dataset (enforced by the event store: the event that would pass it gets a per-item 400). */
  maxColumnsPerDataset: number;
  /** Events accepted but not yet committed; past it ingest requests get 429 with `Retry-After`. */
  maxQueuedEvents: number;
  /** Seconds sent in `Retry-After` when the store's ingest queue is full (429). */
  retryAfterSeconds: number;
  /** Milliseconds `close()` waits for in-flight requests before cutting connections. */
  shutdownGraceMs: number;
  /**
   * Bytes of ingest request bodies held at once (being read, parsed or waiting for their commit).
   * Decided before a body is read, from its Content-Length (or a running count for a chunked or
   * compressed one): a body that does not fit gets 429 with `Retry-After`. One request alone always fits.
   */
  maxInflightBodyBytes: number;
  /** Seconds an ingest answer is given back to a request repeating its `Idempotency-Key`. */
  idempotencyWindowSeconds: number;
  /** Ingest answers kept for `Idempotency-Key` at most; past it the oldest are forgotten. */
  maxIdempotencyKeys: number;
  /** Bytes of ingest answers kept for `Idempotency-Key` at most; past it the oldest are forgotten. */
  maxIdempotencyBytes: number;
  /**
   * Analyses (queries, compare, explain) running at once, each on its own reader connection.
   * Default: half the CPUs, at least 1, leaving at least 4 threads of libuv's pool to writes
   * (src/server/admission.ts).
   */
  maxConcurrentAnalyses: number;
  /** Analyses waiting for a slot, first in first out; past it a new one gets 429 with `Retry-After`. Default 4 × the concurrency. */
  maxQueuedAnalyses: number;
  /** The longest an analysis may take, waiting included; past it 504 `timeout`. A client's `X-Flagscope-Timeout` may only shorten it. */
  maxAnalysisMs: number;
  /** Seconds sent in `Retry-After` when the analysis queue is full (429). */
  analysisRetryAfterSeconds: number;
  /**
   * The longest the canary controller's measurement of one tick may take, waiting for an analysis
   * slot included (it waits first in line, never refused); past it its statements are interrupted,
   * no canary is decided that tick, and the next tick measures again. At most `maxAnalysisMs`.
   */
  maxCanaryMeasureMs: number;
  /** Most events one answer of `POST /api/v1/events/{dataset}` carries (its `limit`); more is a 400. */
  maxEventsPerRequest: number;
  /** Longest `wait_ms` of a raw-event request after a cursor (a long poll); more is a 400. */
  maxEventsWaitMs: number;
  /** Milliseconds between two looks of a waiting raw-event request when no ingest of this server wakes it (events stored by another replica). */
  eventsPollMs: number;
  /** Raw-event requests waiting at once (followers, `events tail`); past it a new one gets 429 with `Retry-After`. */
  maxEventWaiters: number;
  /**
   * Beacon executions open at once (in their window); past it the least recently seen are closed
   * at once, stored incomplete, and counted (`GET /healthz`, `beacons.closed_for_memory`).
   */
  maxOpenExecutions: number;
  /** Bytes of beacon text open executions hold at once; past it, as past {@link maxOpenExecutions}. */
  maxOpenBeaconBytes: number;
}

const ANALYSES = defaultMaxConcurrentAnalyses(availableParallelism(), threadPoolSize(process.env));

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxEventBytes: 1_000_000,
  maxBodyBytes: 5_000_000,
  maxColumnsPerDataset: 2_000,
  maxQueuedEvents: 200_000,
  retryAfterSeconds: 1,
  shutdownGraceMs: 10_000,
  maxInflightBodyBytes: 64 * 1024 * 1024,
  idempotencyWindowSeconds: 24 * 60 * 60,
  maxIdempotencyKeys: 10_000,
  maxIdempotencyBytes: 64 * 1024 * 1024,
  maxConcurrentAnalyses: ANALYSES,
  maxQueuedAnalyses: 4 * ANALYSES,
  maxAnalysisMs: 60_000,
  analysisRetryAfterSeconds: 2,
  maxCanaryMeasureMs: 30_000,
  maxEventsPerRequest: 1_000,
  maxEventsWaitMs: 30_000,
  eventsPollMs: 1_000,
  maxEventWaiters: 256,
  maxOpenExecutions: DEFAULT_MAX_OPEN_EXECUTIONS,
  maxOpenBeaconBytes: DEFAULT_MAX_OPEN_BEACON_BYTES,
};

/**
 * Limits every request body meets whatever the options (docs/api.md, "Limits" and "Request
 * bodies"): nesting depth, the event-time window, the query time window. Defined by the code
 * that enforces them (src/ingest, src/query); gathered here to be found with the others.
 */
export { MAX_JSON_DEPTH } from '../ingest/json-text.js';
export { MAX_EVENT_TIME_AHEAD_MS } from '../ingest/honeycomb.js';
export { MAX_UNIX_SECONDS as MAX_QUERY_UNIX_SECONDS } from '../query/validate.js';
export {
  MAX_STEPS as MAX_CANARY_STEPS,
  MAX_GUARDS as MAX_CANARY_GUARDS,
  MIN_INTERVAL_MS as MIN_CANARY_INTERVAL_MS,
  MAX_INTERVAL_MS as MAX_CANARY_INTERVAL_MS,
} from '../canary/plan.js';
export { MIN_RETENTION_MS, MAX_RETENTION_MS } from '../api/retention.js';
export { MAX_BEACON_BODY_BYTES, MAX_ALLOWED_ORIGINS } from '../api/beacons.js';
export { MAX_BEACONS_PER_EXECUTION, DEFAULT_BEACON_WINDOW_MS } from '../ingest/beacons/sessionizer.js';
