import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrafficDriver, runTraffic, type TrafficSlice } from '../../src/cli/demo/traffic-driver.js';
import { type ApiClient, createApiClient } from '../../src/client/api-client.js';
import { createFlag, getFlag, setRollout } from '../../src/client/flags.js';
import { createTrafficGenerator, type TrafficProfile } from '../../src/demo/traffic.js';
import type { QuerySpec } from '../../src/query/spec.js';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let client: ApiClient;

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const FLAG = 'checkout.new-flow';
const COLUMN = `flag.${FLAG}`;

const profile: TrafficProfile = {
  flag: FLAG,
  ratePerSecond: 1000,
  users: 2000,
  baseline: { errorRate: 0.005, medianMs: 120, p95Ms: 300 },
  variants: { on: { errorRate: 0.025, p95Ms: 390 } },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-traffic-'));
  server = await startServer({ port: 0, dataDir: dir });
  client = createApiClient({ baseUrl: server.url, apiKey: server.adminKey as string });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function releaseFlag(key: string, on: number): Promise<void> {
  await createFlag(client, {
    key,
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    rollout: { on, off: 100 - on },
    reason: 'canary traffic test',
  });
}

/** Per variant of `column`: events, events answered 5xx and P95 latency, between two Unix-millisecond times. */
async function cohorts(
  dataset: string,
  column: string,
  fromMs: number,
  toMs: number,
): Promise<Record<string, { n: number; errors: number; p95: number }>> {
  const window: QuerySpec = {
    start_time: fromMs / 1000,
    end_time: toMs / 1000,
    breakdowns: [column],
    calculations: [{ op: 'COUNT' }, { op: 'P95', column: 'duration_ms' }],
  };
  const all = await client.query(dataset, window);
  const failed = await client.query(dataset, { ...window, filters: [{ column: 'status_code', op: '>=', value: 500 }] });
  const out: Record<string, { n: number; errors: number; p95: number }> = {};
  for (const row of all.data.results) {
    out[String(row.data[column])] = { n: Number(row.data.COUNT), errors: 0, p95: Number(row.data['P95(duration_ms)']) };
  }
  for (const row of failed.data.results) (out[String(row.data[column])] as { errors: number }).errors = Number(row.data.COUNT);
  return out;
}

/**
 * Four standard errors of the share of events on a variant with probability `p` per user, over
 * `n` events of `users` users: whole users are bucketed, so a share of events varies by
 * p(1-p)(1 + n/users)/n (Poisson events per user), not by the binomial p(1-p)/n alone.
 */
function shareBound(p: number, n: number, users: number): number {
  return 4 * Math.sqrt((p * (1 - p) * (1 + n / users)) / n);
}

function rateBound(r: number, n: number): number {
  return 4 * Math.sqrt((r * (1 - r)) / n);
}

describe('canary traffic through OFREP and the ingest API', () => {
  it('carries the variants OFREP serves, with the outcomes of the profile, and follows a rollout change', async () => {
    await releaseFlag(FLAG, 20);
    let now = START;
    const generator = createTrafficGenerator(profile, { seed: 42, startMs: START });
    const driver = createTrafficDriver({ http: client, dataset: 'traffic', generator, now: () => now });

    // 20 s of simulated time at 1,000 events/s, in four ticks, at 20% on.
    for (let i = 0; i < 4; i++) {
      now += 5000;
      const slice = await driver.tick();
      expect(slice.from).toBe(now - 5000);
      expect(slice.to).toBe(now);
      expect(slice.evaluations).toBeLessThanOrEqual(2000);
      expect(Object.values(slice.lost)).toEqual([]);
    }
    const atTwenty = driver.totals();
    const phase1 = await cohorts('traffic', COLUMN, START, now);
    // What the query finds is exactly what the driver sent, per variant.
    expect(Object.fromEntries(Object.entries(phase1).map(([v, c]) => [v, c.n]))).toEqual(atTwenty.sent);
    const n1 = phase1.on!.n + phase1.off!.n;
    expect(n1).toBe(atTwenty.arrivals);
    expect(Math.abs(n1 - 20_000)).toBeLessThan(4 * Math.sqrt(20_000));
    // (a) the share of `on` is the rollout's 20%.
    expect(Math.abs(phase1.on!.n / n1 - 0.2)).toBeLessThan(shareBound(0.2, n1, 2000));
    // (b) each variant's error rate and P95 latency are the profile's (the P95 of ~4,000 lognormal
    // draws is within ~2.5% of the truth, one standard error).
    for (const [variant, rate, p95] of [
      ['on', 0.025, 390],
      ['off', 0.005, 300],
    ] as const) {
      const c = phase1[variant]!;
      expect(Math.abs(c.errors / c.n - rate), variant).toBeLessThan(rateBound(rate, c.n));
      expect(Math.abs(c.p95 / p95 - 1), variant).toBeLessThan(0.1);
    }

    // (c) the rollout goes to 50% through the flag API; the next events follow it, here through
    // OFREP's bulk evaluation.
    const flag = await getFlag(client, FLAG);
    await setRollout(client, FLAG, flag.flag.version, { on: 50, off: 50 }, 'ramp to 50');
    const bulk = createTrafficDriver({ http: client, dataset: 'traffic', generator, now: () => now, evaluation: 'bulk' });
    const changedAt = now;
    now += 10_000;
    const slice = await bulk.tick();
    expect(slice.from).toBe(changedAt);
    const phase2 = await cohorts('traffic', COLUMN, changedAt, now);
    const n2 = phase2.on!.n + phase2.off!.n;
    expect(phase2.on!.n).toBe(slice.sent.on);
    expect(Math.abs(phase2.on!.n / n2 - 0.5)).toBeLessThan(shareBound(0.5, n2, 2000));
    // The earlier events keep the variants they were served.
    expect((await cohorts('traffic', COLUMN, START, changedAt)).on!.n).toBe(atTwenty.sent.on);

    // A rollback to 0%, as the canary controller does it: from the next slice no event is `on`.
    const at50 = await getFlag(client, FLAG);
    await setRollout(client, FLAG, at50.flag.version, { on: 0, off: 100 }, 'roll back');
    const rolledBackAt = now;
    now += 5000;
    const after = await driver.tick();
    expect(after.from).toBe(rolledBackAt);
    expect(after.sent.on).toBeUndefined();
    expect(after.sent.off).toBe(after.arrivals);
    expect(Object.keys(await cohorts('traffic', COLUMN, rolledBackAt, now))).toEqual(['off']);
  });

  it('loses the under-reported share of a cohort before it is sent, so the observed split shrinks', async () => {
    await releaseFlag('quiet.flow', 50);
    let now = START;
    const generator = createTrafficGenerator(
      { ...profile, flag: 'quiet.flow', variants: { on: { underReport: 0.4 } } },
      { seed: 7, startMs: START },
    );
    const driver = createTrafficDriver({ http: client, dataset: 'quiet', generator, now: () => now });
    now += 10_000;
    const slice = await driver.tick();
    const seen = await cohorts('quiet', 'flag.quiet.flow', START, now);
    expect(seen.on!.n).toBe(slice.sent.on);
    expect(seen.off!.n).toBe(slice.sent.off);
    expect(slice.lost.off).toBeUndefined();
    const onServed = slice.sent.on! + slice.lost.on!;
    expect(Math.abs(onServed / slice.arrivals - 0.5)).toBeLessThan(shareBound(0.5, slice.arrivals, 2000));
    // 40% of the `on` users' events never arrive: 0.3 / 0.8 of what is seen is `on`, not half.
    expect(Math.abs(slice.lost.on! / onServed - 0.4)).toBeLessThan(0.08);
    expect(seen.on!.n / (seen.on!.n + seen.off!.n)).toBeLessThan(0.45);
  });

  it('runs slice after slice on the clock it is given until stopped', async () => {
    await releaseFlag('loop.flow', 25);
    let now = START;
    const generator = createTrafficGenerator({ ...profile, flag: 'loop.flow', ratePerSecond: 200 }, { seed: 3, startMs: START });
    const driver = createTrafficDriver({ http: client, dataset: 'loop', generator, now: () => now });
    const stop = new AbortController();
    const slices: TrafficSlice[] = [];
    // A fast clock: waiting moves simulated time at once.
    const sleep = async (ms: number): Promise<void> => {
      now += ms;
    };
    const totals = await runTraffic(driver, {
      sleep,
      everyMs: 2000,
      signal: stop.signal,
      onSlice: (slice) => {
        slices.push(slice);
        if (slices.length === 3) stop.abort();
      },
    });
    expect(slices.map((s) => [s.from - START, s.to - START])).toEqual([
      [0, 2000],
      [2000, 4000],
      [4000, 6000],
    ]);
    expect(totals.arrivals).toBe(slices.reduce((sum, s) => sum + s.arrivals, 0));
    expect(Math.abs(totals.arrivals - 1200)).toBeLessThan(4 * Math.sqrt(1200));
    const seen = await cohorts('loop', 'flag.loop.flow', START, now);
    expect({ on: seen.on!.n, off: seen.off!.n }).toEqual(totals.sent);
    await expect(runTraffic(driver, { sleep, everyMs: 0, signal: stop.signal })).rejects.toThrow(/positive interval/);
  });

  it('stops with a clear error when OFREP does not serve the flag', async () => {
    for (const evaluation of ['single', 'bulk'] as const) {
      const generator = createTrafficGenerator({ ...profile, flag: 'no.such.flag' }, { seed: 1, startMs: START });
      const driver = createTrafficDriver({ http: client, dataset: 'nothing', generator, now: () => START + 1000, evaluation });
      await expect(driver.tick()).rejects.toThrow(/no\.such\.flag/);
    }
  });
});
