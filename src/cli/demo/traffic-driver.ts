/**
 * Drives canary traffic (`src/demo/traffic.ts`) through a running server, the way a service
 * behind a flag would: for each time slice it takes the slice's arrivals, asks the server's
 * OFREP endpoint which variant each of their users is served now, and sends the events, with
 * that variant in `flag.<key>` and the arrival's simulated time, through the batch ingest API.
 * So the split the events show is the rollout the flag served when the slice ran: the
 * percentage a canary controller set, a rollback to 0%, a pressed kill switch.
 *
 * Time comes from an injected clock: `tick()` covers the simulated time since the last tick
 * (the demo runs it on a fast clock, tests on a manual one). Each distinct user of a slice is
 * evaluated once per slice, by the single-flag endpoint (`POST /ofrep/v1/evaluate/flags/{key}`)
 * or, with `evaluation: 'bulk'`, by the bulk one (`POST /ofrep/v1/evaluate/flags`, every flag
 * for the user's context, as a browser SDK asks); both take one request per user, the single
 * one evaluates less. The context is the user's id (`targetingKey`) and attributes, so
 * targeting rules on `country`, `browser` or `plan` apply.
 */
import type { BatchItem } from '../../api/ingest.js';
import type { OfrepEvaluation } from '../../api/ofrep.js';
import type { HttpClient } from '../../client/http.js';
import { sendBatch } from '../../client/ingest.js';
import { evaluateFlag } from '../../client/ofrep.js';
import type { Arrival, TrafficGenerator, TrafficUser } from '../../demo/traffic.js';
import { FlagscopeError, invalidInput } from '../../errors.js';

export interface TrafficDriverOptions {
  /** The server (an `ApiClient` is one); its key needs `flags:read` and `ingest`. */
  http: HttpClient;
  /** The dataset the events go to. */
  dataset: string;
  generator: TrafficGenerator;
  /** The clock (Unix milliseconds): a tick covers the generator's cursor up to `now()`. */
  now: () => number;
  /** OFREP single-flag (default) or bulk evaluation. */
  evaluation?: 'single' | 'bulk';
  /** Events per batch request. Default 1,000. */
  batchSize?: number;
  /** OFREP evaluations in flight at once. Default 16. */
  concurrency?: number;
}

/** What one slice sent. */
export interface TrafficSlice {
  /** Unix milliseconds, inclusive. */
  from: number;
  /** Unix milliseconds, exclusive. */
  to: number;
  /** Requests in the slice (sent + lost). */
  arrivals: number;
  /** Events sent and accepted, per variant served. */
  sent: Record<string, number>;
  /** Events lost to under-reporting, per variant served (never sent). */
  lost: Record<string, number>;
  /** OFREP evaluations made (one per distinct user of the slice). */
  evaluations: number;
}

export interface TrafficDriver {
  /** Sends the traffic of the simulated time since the last tick, up to `now()`. */
  tick(): Promise<TrafficSlice>;
  /** Sends the traffic up to `untilMs` (from the last tick). */
  runUntil(untilMs: number): Promise<TrafficSlice>;
  /** Everything sent since the driver was made. */
  totals(): { arrivals: number; sent: Record<string, number>; lost: Record<string, number> };
}

/** Creates a driver; nothing is sent until `tick` or `runUntil`. */
export function createTrafficDriver(options: TrafficDriverOptions): TrafficDriver {
  const batchSize = options.batchSize ?? 1000;
  const concurrency = options.concurrency ?? 16;
  const totals = { arrivals: 0, sent: {} as Record<string, number>, lost: {} as Record<string, number> };
  const evaluate = options.evaluation === 'bulk' ? evaluateBulk : evaluateSingle;
  const flag = options.generator.profile.flag;
  let running = false;

  const runUntil = async (untilMs: number): Promise<TrafficSlice> => {
    if (running) throw new FlagscopeError('internal', 'a traffic slice is already running', 'await one tick before the next');
    running = true;
    try {
      const from = options.generator.cursor;
      const arrivals = options.generator.arrivals(untilMs);
      const variants = await evaluateUsers(distinctUsers(arrivals), concurrency, (user) => evaluate(options.http, flag, user));
      const slice: TrafficSlice = {
        from,
        to: Math.max(from, untilMs),
        arrivals: arrivals.length,
        sent: {},
        lost: {},
        evaluations: variants.size,
      };
      const items: BatchItem[] = [];
      const itemVariants: string[] = [];
      for (const arrival of arrivals) {
        const variant = variants.get(arrival.user.id) as string;
        const data = options.generator.outcome(arrival, variant);
        if (data === undefined) {
          count(slice.lost, variant);
          continue;
        }
        items.push({ data, time: new Date(arrival.time).toISOString() });
        itemVariants.push(variant);
      }
      for (let i = 0; i < items.length; i += batchSize) {
        const batch = items.slice(i, i + batchSize);
        const statuses = await sendBatch(options.http, options.dataset, batch);
        statuses.forEach((s, j) => {
          if (s.status !== 202) {
            throw new FlagscopeError(
              'internal',
              `the server refused a generated event of dataset ${options.dataset}: ${s.status} ${s.error ?? ''}`.trim(),
              'the traffic generator and the ingest rules disagree; this is a bug',
            );
          }
          count(slice.sent, itemVariants[i + j] as string);
        });
      }
      totals.arrivals += slice.arrivals;
      for (const [v, n] of Object.entries(slice.sent)) totals.sent[v] = (totals.sent[v] ?? 0) + n;
      for (const [v, n] of Object.entries(slice.lost)) totals.lost[v] = (totals.lost[v] ?? 0) + n;
      return slice;
    } finally {
      running = false;
    }
  };

  return {
    tick: () => runUntil(options.now()),
    runUntil,
    totals: () => ({ arrivals: totals.arrivals, sent: { ...totals.sent }, lost: { ...totals.lost } }),
  };
}

function count(into: Record<string, number>, variant: string): void {
  into[variant] = (into[variant] ?? 0) + 1;
}

function distinctUsers(arrivals: readonly Arrival[]): TrafficUser[] {
  const seen = new Map<string, TrafficUser>();
  for (const a of arrivals) if (!seen.has(a.user.id)) seen.set(a.user.id, a.user);
  return [...seen.values()];
}

/** Evaluates every user, `concurrency` at a time; user id → variant. */
async function evaluateUsers(
  users: readonly TrafficUser[],
  concurrency: number,
  evaluate: (user: TrafficUser) => Promise<string>,
): Promise<Map<string, string>> {
  const variants = new Map<string, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < users.length) {
      const user = users[next++] as TrafficUser;
      variants.set(user.id, await evaluate(user));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  return variants;
}

function contextOf(user: TrafficUser): Record<string, unknown> {
  return { targetingKey: user.id, country: user.country, browser: user.browser, plan: user.plan };
}

async function evaluateSingle(http: HttpClient, flag: string, user: TrafficUser): Promise<string> {
  return variantOf(flag, user, await evaluateFlag(http, flag, contextOf(user)));
}

async function evaluateBulk(http: HttpClient, flag: string, user: TrafficUser): Promise<string> {
  const body = await http.requestJson<{ flags?: OfrepEvaluation[] }>(
    'POST',
    '/ofrep/v1/evaluate/flags',
    { context: contextOf(user) },
    { idempotent: true },
  );
  const found = body.flags?.find((f) => f.key === flag);
  if (found === undefined) {
    throw new FlagscopeError(
      'not_found',
      `OFREP bulk evaluation did not serve flag ${flag}`,
      'create the flag (`flagscope flags create`) before sending its traffic',
    );
  }
  return variantOf(flag, user, found);
}

function variantOf(flag: string, user: TrafficUser, evaluation: OfrepEvaluation): string {
  if (evaluation.errorCode === undefined && typeof evaluation.variant === 'string') return evaluation.variant;
  const code = evaluation.errorCode === 'FLAG_NOT_FOUND' ? 'not_found' : 'invalid_input';
  throw new FlagscopeError(
    code,
    `OFREP could not evaluate flag ${flag} for ${user.id}: ${evaluation.errorCode ?? 'no variant'} ${evaluation.errorDetails ?? ''}`.trim(),
    'traffic needs a live flag that serves a variant to every user; check it with `flagscope flags eval`',
  );
}

export interface TrafficLoopOptions {
  /** Waits between slices on the clock the driver reads (a fast clock in the demo, a manual one in tests). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Simulated milliseconds between slices. */
  everyMs: number;
  /** Stops the loop after the slice in progress. */
  signal: AbortSignal;
  /** Called after each slice (progress, or a test deciding when to stop). */
  onSlice?: (slice: TrafficSlice) => void;
}

/**
 * Sends a slice every `everyMs` of the clock until `signal` aborts; resolves to the driver's
 * totals, rejects with the first failure (an unknown flag, an unreachable server).
 */
export async function runTraffic(driver: TrafficDriver, options: TrafficLoopOptions): Promise<ReturnType<TrafficDriver['totals']>> {
  if (!(options.everyMs > 0)) throw invalidInput(`traffic slices need a positive interval, not ${options.everyMs} ms`);
  while (!options.signal.aborted) {
    await options.sleep(options.everyMs, options.signal);
    if (options.signal.aborted) break;
    options.onSlice?.(await driver.tick());
  }
  return driver.totals();
}
