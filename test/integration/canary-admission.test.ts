/**
 * The canary controller's measurement goes through the server's analysis admission with a
 * deadline (`maxCanaryMeasureMs`): a measurement the engine cannot finish is interrupted at the
 * deadline and the next tick measures again; it waits first in line and is never refused while
 * clients' analyses fill the gate; a kill-switch press is answered while it runs. Real server on
 * a free loopback port, real DuckDB; the reads of the event store are held by a statement the
 * engine would need minutes for (as in analysis-admission.test.ts) while `hold` is on; the
 * controller ticks on a manual scheduler, whose clock also fires the deadline, so nothing sleeps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { type DuckDbControlStore, openControlStore } from '../../src/store/duckdb/control-store.js';
import { type DuckDbEventStore, openEventStore } from '../../src/store/duckdb/event-store.js';
import type { EventStore, ExecuteOptions } from '../../src/store/types.js';
import { callApi } from '../support/api-call.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const LONG_SQL = 'SELECT sum(i) FROM range(1000000000000) t(i)';
const T0 = Math.floor(Date.now() / 1000) * 1000;
const TICK = 1000;
const DEADLINE = 5000;
const FLAG = 'checkout_v2';

let dir: string;
let events: DuckDbEventStore;
let control: DuckDbControlStore;
let server: RunningServer;
let scheduler: ManualScheduler;
let admin: string;
const logs: string[] = [];
let hold = false;
/** Reads started while held, and why each stopped. */
let heldStarted = 0;
const stopped: unknown[] = [];

function holdingReads(store: DuckDbEventStore): EventStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'execute') {
        return async (sql: string, params: [], options?: ExecuteOptions) => {
          if (hold) {
            heldStarted++;
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

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return callApi(server.url, admin, method, path, body);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-admission-'));
  control = await openControlStore({ path: join(dir, 'control.duckdb') });
  events = await openEventStore({ path: join(dir, 'events.duckdb'), queryConnections: 2 });
  scheduler = new ManualScheduler(T0);
  server = await startServer({
    port: 0,
    stores: { events: holdingReads(events), control },
    scheduler,
    canaryTickMs: TICK,
    log: (line) => logs.push(line),
    limits: { maxConcurrentAnalyses: 1, maxQueuedAnalyses: 1, maxCanaryMeasureMs: DEADLINE },
  });
  admin = server.adminKey as string;
  for (const flag of [
    { key: FLAG, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    {
      key: 'payments_off',
      service: 'payments',
      kind: 'kill-switch',
      description: 'card payments',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
    },
  ]) {
    expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
  }
  const batch = Array.from({ length: 200 }, (_, i) => ({
    time: T0 + i,
    data: { [`flag.${FLAG}`]: i % 10 === 0 ? 'on' : 'off', status_code: 200, duration_ms: 100 + (i % 7), 'user.id': `u-${i}` },
  }));
  expect((await api('POST', '/1/batch/checkout', batch)).status).toBe(200);
  const started = await api('POST', '/api/v1/canaries', { flag: FLAG, dataset: 'checkout', steps: [10, 100], minSample: 10000 });
  expect(started.status).toBe(201);
});

afterAll(async () => {
  hold = false;
  await server?.close();
  await events?.close();
  await control?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the controller's measurement under admission", () => {
  it('is interrupted at its deadline, decides nothing that tick, and measures again at the next', async () => {
    hold = true;
    const before = (await api('GET', `/api/v1/canaries/${FLAG}`)).json;
    await scheduler.advance(TICK);
    await vi.waitFor(() => expect(heldStarted).toBe(1), { timeout: 10_000, interval: 10 });
    // The measurement holds the only analysis slot; a press (a write) is answered meanwhile.
    const health = await api('GET', '/healthz');
    expect(health.json.analyses).toMatchObject({ running: 1, queued: 0 });
    const press = await api('POST', '/api/v1/flags/payments_off/press', { reason: 'provider down' });
    expect(press.status).toBe(200);
    expect((await api('POST', '/api/v1/flags/payments_off/release', { reason: 'back' })).status).toBe(200);
    // The deadline passes on the server's clock: the statement is stopped in the engine.
    await scheduler.advance(DEADLINE);
    await vi.waitFor(() => expect(stopped.length).toBe(1), { timeout: 10_000, interval: 10 });
    await vi.waitFor(() => expect(logs.some((l) => /the tick's measurement stopped, no canary decided/.test(l))).toBe(true), {
      timeout: 10_000,
      interval: 10,
    });
    await vi.waitFor(async () => expect((await api('GET', '/healthz')).json.analyses).toMatchObject({ running: 0, queued: 0 }), {
      timeout: 10_000,
      interval: 10,
    });
    const after = (await api('GET', `/api/v1/canaries/${FLAG}`)).json;
    expect(after.evidence?.at ?? null).toBe(before.evidence?.at ?? null);
    expect(after.timeline).toEqual(before.timeline);
    // The next tick measures again and decides.
    hold = false;
    const at = new Date(scheduler.now() + (TICK - (scheduler.now() % TICK))).toISOString();
    await scheduler.advance(TICK - (scheduler.now() % TICK));
    const decided = await vi.waitFor(
      async () => {
        const view = (await api('GET', `/api/v1/canaries/${FLAG}`)).json;
        if (view.evidence?.at !== at) throw new Error(`the tick at ${at} is not recorded yet (${logs.join('; ')})`);
        return view;
      },
      { timeout: 20_000, interval: 20 },
    );
    expect(decided.status).toBe('running');
    expect(decided.evidence.sample.control + decided.evidence.sample.canary).toBeGreaterThan(0);
  });
});
