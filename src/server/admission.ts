/**
 * Admission control of analyses (queries, compare, explain): at most `maxConcurrent` run at once,
 * at most `maxQueued` wait in a first-in first-out queue, and past that the answer is 429
 * `overloaded` with `Retry-After`. Each analysis has a deadline, the server's maximum or the
 * client's own (`X-Flagscope-Timeout`) when shorter; when it passes, or when the client goes away,
 * the analysis's signal aborts: a queued one leaves the queue, a running one is interrupted in the
 * engine (`EventStore.execute` takes the signal). No HTTP here: the routes hand in the client's
 * signal and the header's text.
 *
 * Why a cap at all: analysis statements run on threads of libuv's pool (DuckDB's node API), the
 * same pool every write's commit needs. With at most `maxConcurrent` analyses on as many reader
 * connections, the rest of the pool stays free for presses, flag writes and ingest commits
 * (docs/architecture.md, "Lanes").
 */
import { parseDurationMs } from '../api/duration.js';
import { FlagscopeError, invalidInput } from '../errors.js';
import type { TimerHandle, TimerScheduler } from '../scheduler.js';

/** The request header in which a client gives its own deadline: milliseconds, or a duration (`30s`, `1m`, `500ms`). */
export const TIMEOUT_HEADER = 'x-flagscope-timeout';

/** Threads of libuv's pool kept free of analyses for writes (presses, flag and key writes, ingest commits). */
export const WRITE_THREADS = 4;

/**
 * The default number of analyses at once on a machine with `cpus` CPUs whose libuv pool has
 * `poolThreads` threads: half the CPUs (an analysis uses several of DuckDB's threads), at least
 * one, and never so many that fewer than {@link WRITE_THREADS} threads of the pool stay free for
 * writes while it leaves at least one analysis.
 */
export function defaultMaxConcurrentAnalyses(cpus: number, poolThreads: number): number {
  return Math.max(1, Math.min(Math.floor(cpus / 2), poolThreads - WRITE_THREADS));
}

/** The size of libuv's thread pool as the environment sets it (`UV_THREADPOOL_SIZE`, default 4, at most 1024). */
export function threadPoolSize(env: Record<string, string | undefined>): number {
  const size = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(size) && size > 0 ? Math.min(size, 1024) : 4;
}

/** The bounds of the gate (`ServerLimits` fields of the same meaning). */
export interface AdmissionLimits {
  maxConcurrentAnalyses: number;
  maxQueuedAnalyses: number;
  /** The longest an analysis may take, queue time included, whatever the client asks. */
  maxAnalysisMs: number;
  /** Seconds sent in `Retry-After` with the 429. */
  analysisRetryAfterSeconds: number;
}

/** How one analysis asks to be admitted. */
export interface AdmissionRequest {
  /** Aborts when the client has gone (the connection closed before the answer). */
  clientGone?: AbortSignal | undefined;
  /** The client's own deadline in milliseconds (from {@link parseTimeoutHeader}); capped by `maxAnalysisMs`. */
  timeoutMs?: number | undefined;
  /**
   * The canary controller's measurement: never refused as `overloaded`, and first in the queue, so
   * analyses from clients cannot keep it (and the rollbacks it decides) waiting for more than one
   * slot to free. One controller tick runs at a time, so this adds at most one to the queue.
   */
  reserved?: boolean;
}

/** How many analyses run and wait (`GET /healthz`). */
export interface AnalysisLoad {
  running: number;
  queued: number;
}

/** An analysis checked and compiled, ready to run once admitted (the services' `prepare…`). */
export interface PreparedAnalysis<T> {
  /** Executes it; an aborted `signal` stops its statements in the engine (the call then rejects with the reason). */
  run(signal?: AbortSignal): Promise<T>;
}

interface Entry {
  start(): void;
  abort(reason: unknown): void;
}

/** The admission gate of one server (one per `startServer`). */
export class AnalysisGate {
  private running = 0;
  private readonly queue: Entry[] = [];

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly scheduler: Pick<TimerScheduler, 'setTimeout'>,
  ) {}

  /** Analyses running (their statements not yet stopped) and waiting. */
  load(): AnalysisLoad {
    return { running: this.running, queued: this.queue.length };
  }

  /**
   * Runs `task` once a slot is free, with a signal that aborts at the deadline or when the
   * client goes. Rejects with `overloaded` (429) when the queue is full, `timeout` (504) when the
   * deadline passes first (at once: the slot stays taken until the task has stopped). The task
   * must stop soon after its signal aborts.
   */
  run<T>(task: (signal: AbortSignal) => Promise<T>, request: AdmissionRequest = {}): Promise<T> {
    const { clientGone } = request;
    if (clientGone?.aborted === true) return Promise.reject(clientGone.reason);
    if (
      request.reserved !== true &&
      this.running >= this.limits.maxConcurrentAnalyses &&
      this.queue.length >= this.limits.maxQueuedAnalyses
    ) {
      return Promise.reject(this.overloaded());
    }
    const deadlineMs = Math.min(request.timeoutMs ?? this.limits.maxAnalysisMs, this.limits.maxAnalysisMs);
    return new Promise<T>((resolve, reject) => {
      const controller = new AbortController();
      let started = false;
      let settled = false;
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        outcome();
      };
      const abort = (reason: unknown): void => {
        if (controller.signal.aborted) return;
        controller.abort(reason);
        if (!started) {
          const at = this.queue.indexOf(entry);
          if (at !== -1) this.queue.splice(at, 1);
          deadline.clear();
          clientGone?.removeEventListener('abort', onGone);
        }
        finish(() => reject(reason));
      };
      const onGone = (): void => abort(clientGone?.reason);
      const deadline: TimerHandle = this.scheduler.setTimeout(
        () => abort(deadlineError(deadlineMs, this.limits.maxAnalysisMs)),
        deadlineMs,
      );
      clientGone?.addEventListener('abort', onGone, { once: true });
      const entry: Entry = {
        abort,
        start: () => {
          started = true;
          this.running++;
          let pending: Promise<T>;
          try {
            pending = task(controller.signal);
          } catch (error) {
            pending = Promise.reject(error);
          }
          const done = (): void => {
            deadline.clear();
            clientGone?.removeEventListener('abort', onGone);
            this.running--;
            this.next();
          };
          pending.then(
            (value) => {
              done();
              finish(() => resolve(value));
            },
            (error: unknown) => {
              done();
              finish(() => reject(error));
            },
          );
        },
      };
      if (this.running < this.limits.maxConcurrentAnalyses) entry.start();
      else if (request.reserved === true) this.queue.unshift(entry);
      else this.queue.push(entry);
    });
  }

  private next(): void {
    while (this.running < this.limits.maxConcurrentAnalyses) {
      const entry = this.queue.shift();
      if (entry === undefined) return;
      entry.start();
    }
  }

  private overloaded(): FlagscopeError {
    const { maxConcurrentAnalyses: running, maxQueuedAnalyses: queued, analysisRetryAfterSeconds: seconds } = this.limits;
    return new FlagscopeError(
      'overloaded',
      `the server is busy with analyses: ${running} running and ${queued} waiting, the most it takes`,
      `retry in ${seconds} s (Retry-After); narrower queries finish sooner`,
      { details: { retryAfterSeconds: seconds } },
    );
  }
}

/** The 504 of an analysis that outran its deadline. */
function deadlineError(deadlineMs: number, maxMs: number): FlagscopeError {
  const capped = deadlineMs >= maxMs ? ` (the server's maximum)` : '';
  return new FlagscopeError(
    'timeout',
    `the analysis did not finish within its deadline of ${formatMs(deadlineMs)}${capped}; it was stopped`,
    deadlineMs >= maxMs
      ? 'narrow the time range, filters or breakdowns'
      : 'narrow the time range, filters or breakdowns, or give it longer with `--timeout`',
  );
}

/**
 * Reads `X-Flagscope-Timeout`: a whole number of milliseconds, or a duration such as `30s`,
 * `2m` or `1500ms`; undefined when absent. Anything else is a 400 `invalid_input`.
 */
export function parseTimeoutHeader(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(', ') : value;
  const hint = 'send `X-Flagscope-Timeout` once, as milliseconds (`30000`) or a duration (`30s`, `2m`, `1500ms`)';
  if (/^\s*\d+\s*$/.test(text)) {
    const ms = Number(text.trim());
    if (Number.isSafeInteger(ms) && ms > 0) return ms;
    throw invalidInput(`X-Flagscope-Timeout ${JSON.stringify(text.trim())} must be more than zero`, hint);
  }
  try {
    return parseDurationMs(text, { milliseconds: true });
  } catch {
    const shown = text.length <= 40 ? text : `${text.slice(0, 40)}…`;
    throw invalidInput(`X-Flagscope-Timeout ${JSON.stringify(shown)} is not a duration`, hint);
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
