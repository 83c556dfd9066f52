/**
 * A canary whose cohort goes quiet fails on INCOMPLETE (docs/canary.md, "Guards"): a real server
 * on a free loopback port with the controller ticking on a manual scheduler, traffic whose every
 * request asks the server's OFREP endpoint for its variant (`src/cli/demo/traffic-driver.ts`).
 * The canary variant loses the end of one execution in eight (stored as `meta.incomplete = true`,
 * without status or duration), while its completed executions fail and take as long as
 * control's. The canary starts without guards, so the dataset's defaults apply, INCOMPLETE among
 * them; the controller rolls it back on INCOMPLETE alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { CanaryView } from '../../src/api/canaries.js';
import { createTrafficDriver, type TrafficDriver } from '../../src/cli/demo/traffic-driver.js';
import { type ApiClient, createApiClient } from '../../src/client/api-client.js';
import { createTrafficGenerator } from '../../src/demo/traffic.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const TICK = 1000;
const FLAG = 'checkout_v2';

let dir: string;
let scheduler: ManualScheduler;
let server: RunningServer;
let client: ApiClient;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined };
}

async function canary(): Promise<CanaryView> {
  const answer = await api('GET', `/api/v1/canaries/${FLAG}`);
  expect(answer.status).toBe(200);
  return answer.json as CanaryView;
}

/** Sends the traffic of the next tick's second, moves the clock to that tick and waits until the controller has recorded it. */
async function trafficThenTick(driver: TrafficDriver): Promise<CanaryView> {
  await driver.runUntil(scheduler.now() + TICK);
  const at = new Date(scheduler.now() + TICK).toISOString();
  await scheduler.advance(TICK);
  return vi.waitFor(
    async () => {
      const view = await canary();
      if (view.evidence?.at !== at && !['rolled-back', 'completed', 'aborted', 'paused'].includes(view.status)) {
        throw new Error(`the tick at ${at} has not been recorded yet`);
      }
      return view;
    },
    { timeout: 20_000, interval: 20 },
  );
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-incomplete-'));
  scheduler = new ManualScheduler(T0);
  server = await startServer({ dataDir: dir, port: 0, scheduler, canaryTickMs: TICK });
  client = createApiClient({ baseUrl: server.url, apiKey: server.adminKey as string });
  const flag = { key: FLAG, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' };
  expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
});

afterEach(async () => {
  await client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

it('rolls back a canary whose executions go quiet on the default INCOMPLETE <= +0.5pp, while error rate and P95 look healthy', async () => {
  const generator = createTrafficGenerator(
    {
      flag: FLAG,
      ratePerSecond: 600,
      users: 4000,
      baseline: { errorRate: 0.005, medianMs: 120, p95Ms: 300, incompleteRate: 0.01 },
      variants: { on: { incompleteRate: 0.12 } },
    },
    { seed: 7, startMs: T0 - 2000 },
  );
  const driver = createTrafficDriver({ http: client, dataset: 'checkout', generator, now: () => scheduler.now() });
  // Before the canary: everyone on control, so the dataset (and its meta.incomplete column) exists when the plan is made.
  await driver.runUntil(T0);

  const started = await api('POST', '/api/v1/canaries', {
    flag: FLAG,
    dataset: 'checkout',
    steps: [10, 50, 100],
    interval: '1m',
    minSample: 100,
  });
  expect(started.status).toBe(201);
  const guards = (started.json as CanaryView).plan.guards.map((g) => g.guard);
  expect(guards).toEqual(['RATE(error = true) <= +0.5pp', 'P95(duration_ms) <= +10%', 'INCOMPLETE <= +0.5pp']);

  let view = await canary();
  for (let i = 0; i < 60 && view.status === 'running'; i++) view = await trafficThenTick(driver);
  expect(view).toMatchObject({ status: 'rolled-back', percent: 0 });
  const rollback = view.timeline.at(-1)!;
  expect(rollback).toMatchObject({ kind: 'rollback', from: 10, to: 0, by: 'canary-controller' });
  expect(rollback.reason).toMatch(/^rolled back to 0%: INCOMPLETE <= \+0\.5pp: canary \d+(\.\d+)?% vs control \d+(\.\d+)?%/);
  const evidence = rollback.evidence!;
  const byGuard = Object.fromEntries(evidence.guards.map((g) => [g.guard, g]));
  expect(byGuard['INCOMPLETE <= +0.5pp']).toMatchObject({ verdict: 'fail', scale: 'absolute', tolerance: 0.005 });
  expect(byGuard['INCOMPLETE <= +0.5pp']!.canary!).toBeGreaterThan(byGuard['INCOMPLETE <= +0.5pp']!.control! + 0.05);
  // The completed executions alone look healthy: neither the error rate nor P95 fails.
  expect(byGuard['RATE(error = true) <= +0.5pp']?.verdict).not.toBe('fail');
  expect(byGuard['P95(duration_ms) <= +10%']?.verdict).not.toBe('fail');
  // Their executions still arrive (started, never ended): no sample ratio mismatch hides behind it.
  expect(evidence.sampleRatio.mismatch).toBe(false);
  // OFREP serves control again.
  const served = await api('POST', `/ofrep/v1/evaluate/flags/${FLAG}`, { context: { targetingKey: 'user-1' } });
  expect(served.json.variant).toBe('off');
}, 120_000);

it('refuses an INCOMPLETE guard on a dataset without stitched beacons, saying why, and leaves it out of the defaults', async () => {
  const batch = [{ time: new Date(T0 - 1000).toISOString(), data: { [`flag.${FLAG}`]: 'off', status_code: 200, duration_ms: 120 } }];
  expect((await api('POST', '/1/batch/plain', batch)).status).toBe(200);
  const refused = await api('POST', '/api/v1/canaries', { flag: FLAG, dataset: 'plain', guards: ['INCOMPLETE <= +0.5pp'] });
  expect(refused.status).toBe(400);
  expect(refused.json.error.message).toBe(
    'metric INCOMPLETE: dataset "plain" has no meta.incomplete column, so it has no incomplete executions to count',
  );
  expect(refused.json.error.hint).toContain('POST /1/beacons/plain');
  const defaults = await api('POST', '/api/v1/canaries', { flag: FLAG, dataset: 'plain', dryRun: true });
  expect(defaults.status).toBe(200);
  expect((defaults.json as { plan: { guards: { guard: string }[] } }).plan.guards.map((g) => g.guard)).toEqual([
    'RATE(status_code >= 500) <= +0.5pp',
    'P95(duration_ms) <= +10%',
  ]);
});
