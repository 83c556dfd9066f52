/**
 * Analyses under admission control (issue 9, item 1), against the real server, real DuckDB and
 * real HTTP clients. To hold analyses without relying on timing, the server's event store runs,
 * while `hold` is on, a statement that would take minutes in the engine (a sum over 10^12 numbers)
 * before each read: a query stays running until something stops it. What is checked:
 * - the analyses beyond the slots and the queue get 429 `overloaded` with `Retry-After`;
 * - a press, a flag write and a single event are answered while analyses fill every slot;
 * - a client that disconnects has its statement interrupted in the engine (the store sees the
 *   abort, `/healthz` goes back to no analysis running);
 * - a deadline (`X-Flagscope-Timeout`) is answered 504 `timeout` and stops the statement;
 * - `EventStore.execute` with a signal interrupts a long statement and keeps the connection usable.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { type DuckDbControlStore, openControlStore } from '../../src/store/duckdb/control-store.js';
import { type DuckDbEventStore, openEventStore } from '../../src/store/duckdb/event-store.js';
import type { EventStore, ExecuteOptions } from '../../src/store/types.js';

/** A statement the engine would need minutes for. */
const LONG_SQL = 'SELECT sum(i) FROM range(1000000000000) t(i)';

let dir: string;
let events: DuckDbEventStore;
let control: DuckDbControlStore;
let server: RunningServer;
let key: string;
let hold = false;
/** Why each held statement stopped (the reason its signal gave), in order. */
const stopped: unknown[] = [];

/** The real event store, whose reads first run {@link LONG_SQL} while `hold` is on. */
function holdingReads(store: DuckDbEventStore): EventStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'execute') {
        return async (sql: string, params: [], options?: ExecuteOptions) => {
          if (hold) {
            try {
              await target.execute(LONG_SQL, [], options);
            } catch (error) {
              stopped.push(error);
              throw error;
            }
          }
          return target.execute(sql, params, options);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as EventStore;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-admission-'));
  control = await openControlStore({ path: join(dir, 'control.duckdb') });
  events = await openEventStore({ path: join(dir, 'events.duckdb'), queryConnections: 2 });
  server = await startServer({
    port: 0,
    stores: { events: holdingReads(events), control },
    limits: { maxConcurrentAnalyses: 2, maxQueuedAnalyses: 2, analysisRetryAfterSeconds: 3 },
  });
  key = server.adminKey as string;
  const ingest = await call('POST', '/1/batch/web', [
    { data: { service: 'api', duration_ms: 12 } },
    { data: { service: 'cart', duration_ms: 40 } },
  ]);
  expect(ingest.status).toBe(200);
  const created = await call('POST', '/api/v1/flags', {
    key: 'pay-off',
    service: 'pay',
    kind: 'kill-switch',
    description: 'card payments',
    variants: { live: true, off: false },
    defaultVariant: 'live',
    safeVariant: 'off',
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  hold = false;
  await server?.close();
  await events?.close();
  await control?.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  options: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...options.headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const QUERY = { calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], breakdowns: ['service'] };

/** A query the test may cancel (the client closes its connection); its outcome is kept, never thrown. */
function startQuery(headers: Record<string, string> = {}): { cancel(): void; done: Promise<unknown> } {
  const controller = new AbortController();
  const done = call('POST', '/api/v1/query/web', QUERY, { headers, signal: controller.signal }).catch((error: unknown) => error);
  return { cancel: () => controller.abort(), done };
}

async function analyses(): Promise<{ running: number; queued: number }> {
  const res = await fetch(`${server.url}/healthz`);
  return ((await res.json()) as { analyses: { running: number; queued: number } }).analyses;
}

/** Waits until `/healthz` shows these analyses (the test's timeout bounds the wait). */
async function untilAnalyses(expected: { running: number; queued: number }): Promise<void> {
  for (;;) {
    const now = await analyses();
    if (now.running === expected.running && now.queued === expected.queued) return;
    await wait(20);
  }
}

describe('analysis admission', () => {
  it('answers a query when nothing holds it, and shows no analysis in /healthz afterwards', async () => {
    const res = await call('POST', '/api/v1/query/web', QUERY, { headers: { 'x-flagscope-timeout': '30s' } });
    expect(res.status).toBe(200);
    expect(res.body.data.results).toHaveLength(2);
    expect(await analyses()).toEqual({ running: 0, queued: 0 });
  });

  it('refuses the analysis past the slots and the queue with 429 and Retry-After, while a press, a flag write and an event are answered', async () => {
    hold = true;
    const held = Array.from({ length: 4 }, () => startQuery());
    try {
      await untilAnalyses({ running: 2, queued: 2 });

      const refused = await call('POST', '/api/v1/query/web', QUERY);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('3');
      expect(refused.body.error.code).toBe('overloaded');
      const compare = await call('POST', '/api/v1/compare/web', {
        flags: [{ flag: 'pay-off', column: 'service', control: 'api' }],
        metrics: ['P95(duration_ms)'],
      });
      expect([compare.status, compare.body.error.code]).toEqual([429, 'overloaded']);

      // Every analysis slot is taken by a statement that would run for minutes: writes still get through.
      const press = await call('POST', '/api/v1/flags/pay-off/press', { reason: 'provider timeouts' });
      expect(press.status).toBe(200);
      const served = await call('POST', '/ofrep/v1/evaluate/flags/pay-off', { context: { targetingKey: 'u1' } });
      expect(served.body.variant).toBe('off');
      const release = await call('POST', '/api/v1/flags/pay-off/release', { reason: 'provider back' });
      expect(release.status).toBe(200);
      const event = await call('POST', '/1/events/web', { service: 'api', duration_ms: 7 });
      expect(event.status).toBe(200);
      const flag = await call('POST', '/api/v1/flags', {
        key: 'new-checkout',
        service: 'shop',
        kind: 'release',
        variants: { on: true, off: false },
        defaultVariant: 'off',
      });
      expect(flag.status).toBe(201);
      expect(await analyses()).toEqual({ running: 2, queued: 2 });
    } finally {
      for (const query of held) query.cancel();
      await Promise.all(held.map((q) => q.done));
      hold = false;
    }
    // The clients went away: the queued ones left the queue, the running ones were interrupted in the engine.
    await untilAnalyses({ running: 0, queued: 0 });
    expect((await call('POST', '/api/v1/query/web', QUERY)).status).toBe(200);
  });

  it("interrupts a disconnected client's query in the engine", async () => {
    hold = true;
    stopped.length = 0;
    const query = startQuery();
    try {
      await untilAnalyses({ running: 1, queued: 0 });
      query.cancel();
      expect(await query.done).toBeInstanceOf(Error);
      await untilAnalyses({ running: 0, queued: 0 });
    } finally {
      hold = false;
    }
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toMatchObject({ message: 'the client closed the connection before the answer' });
  });

  it("answers 504 timeout when a query outruns the client's deadline, and stops its statement", async () => {
    hold = true;
    stopped.length = 0;
    try {
      const late = await call('POST', '/api/v1/query/web', QUERY, { headers: { 'x-flagscope-timeout': '300ms' } });
      expect(late.status).toBe(504);
      expect(late.body.error).toMatchObject({
        code: 'timeout',
        message: 'the analysis did not finish within its deadline of 300 ms; it was stopped',
      });
      const explain = await call(
        'POST',
        '/api/v1/explain/web',
        { selection: [{ column: 'duration_ms', op: '>', value: 20 }] },
        { headers: { 'x-flagscope-timeout': '250' } },
      );
      expect([explain.status, explain.body.error?.code], JSON.stringify(explain.body)).toEqual([504, 'timeout']);
      await untilAnalyses({ running: 0, queued: 0 });
    } finally {
      hold = false;
    }
    expect(stopped.map((e) => (e as { code?: string }).code)).toEqual(['timeout', 'timeout']);
  });

  it('refuses an invalid X-Flagscope-Timeout, and an invalid spec, with 400 before either waits', async () => {
    const header = await call('POST', '/api/v1/query/web', QUERY, { headers: { 'x-flagscope-timeout': 'soon' } });
    expect([header.status, header.body.error.code]).toEqual([400, 'invalid_input']);
    expect(header.body.error.message).toBe('X-Flagscope-Timeout "soon" is not a duration');
    const spec = await call('POST', '/api/v1/query/web', { calculations: [{ op: 'P99', column: 'nope' }] });
    expect([spec.status, spec.body.error.code]).toEqual([400, 'invalid_input']);
  });
});

describe('EventStore.execute with a signal', () => {
  it('interrupts long statements in the engine and takes a waiting one out, rejecting with the reason; the connections stay usable', async () => {
    const controller = new AbortController();
    const statements = Array.from({ length: 3 }, () => events.execute(LONG_SQL, [], { signal: controller.signal }));
    const outcomes = Promise.allSettled(statements);
    // Two reader connections: two statements run in the engine, the third waits for a connection.
    while (events.readLoad().running < 2) await wait(10);
    expect(events.readLoad()).toEqual({ running: 2, waiting: 1 });
    controller.abort(new Error('deadline'));
    for (const outcome of await outcomes) expect(outcome).toMatchObject({ status: 'rejected', reason: { message: 'deadline' } });
    expect(events.readLoad()).toEqual({ running: 0, waiting: 0 });
    const answers = await Promise.all([events.execute('SELECT 41 + 1', []), events.execute('SELECT 43 - 1', [])]);
    expect(answers.map((rows) => rows[0]?.[0])).toEqual([42, 42]);
    await expect(events.execute('SELECT 1', [], { signal: controller.signal })).rejects.toThrow('deadline');
  });
});
