/**
 * The canary controller's service over real stores (DuckDB events and control store, the flag
 * service): it serves each step through the flag's rollout, rolls back to 0% on a regression found
 * in the events, pauses while a kill switch of the service is pressed, and a new service over the
 * same saved canaries finishes a change a killed server left half done. The time is a fixed
 * clock moved by the test; nothing sleeps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CanaryRecord,
  type CanaryRepository,
  MemoryCanaryRepository,
  StoreCanaryRepository,
} from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { canaryControllerJob } from '../../src/server/canaries/controller-job.js';
import { startServer } from '../../src/server/index.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { openStores } from '../../src/store/factory.js';
import type { ControlStore, EventStore } from '../../src/store/types.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
let dir: string;
let events: EventStore;
let control: ControlStore;
let close: () => Promise<void>;
let flags: FlagService;
let clock: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-'));
  const stores = await openStores(`duckdb:${dir}`);
  ({ events, control } = stores);
  close = stores.close;
  clock = T0;
  flags = await FlagService.open(control.flagStore(), () => clock);
  await flags.create(
    { key: 'checkout_v2', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    'admin',
    'setup',
  );
  await flags.create(
    {
      key: 'payments_off',
      service: 'checkout',
      kind: 'kill-switch',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
    },
    'admin',
    'setup',
  );
  // The dataset exists before the canary starts (its schema chooses the default guards).
  await send(T0 - 60_000, 10, 'off', 0);
});

afterEach(async () => {
  flags.close();
  await close();
  await rm(dir, { recursive: true, force: true });
});

/** `count` events of `variant` at `at`, the first `errors` of them failing. */
async function send(at: number, count: number, variant: string, errors: number): Promise<void> {
  const batch = Array.from({ length: count }, (_, i) => ({
    time: at + (i % 1000),
    samplerate: 1,
    data: {
      'flag.checkout_v2': variant,
      status_code: i < errors ? 503 : 200,
      duration_ms: 100 + (i % 50),
      'user.id': `${variant}-${at}-${i}`,
    },
  }));
  const outcomes = await events.ingest('checkout', batch);
  expect(outcomes.every((o) => o.status === 202)).toBe(true);
}

function service(repository: CanaryRepository = new MemoryCanaryRepository()): CanaryService {
  return new CanaryService({ repository, events, flags, now: () => clock });
}

const plan = {
  flag: 'checkout_v2',
  dataset: 'checkout',
  variant: 'on',
  steps: [10, 50, 100],
  interval: '1m',
  minSample: 100,
  guards: ['RATE(status_code >= 500) <= +0.5pp'],
};

function onShare(): number | undefined {
  const rollout = flags.get('checkout_v2').rollout;
  if (rollout === undefined) return undefined;
  return (100 * (rollout.weights.find((w) => w.variant === 'on')?.weight ?? 0)) / (100 * 10 ** rollout.precision);
}

describe('the canary controller service', () => {
  it('serves the first step when started, records it, and refuses a second canary of the flag', async () => {
    const canaries = service();
    const record = await canaries.start(plan, 'ana');
    expect(record.state).toMatchObject({ status: 'running', stepIndex: 0, percent: 10 });
    expect(onShare()).toBe(10);
    expect(record.timeline.map((e) => [e.kind, e.by, e.percent])).toEqual([['start', 'ana', 10]]);
    const history = await flags.history('checkout_v2');
    expect(history[0]).toMatchObject({ by: 'canary-controller' });
    await expect(canaries.start(plan, 'bob')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('refuses a plan no tick could measure, and starts nothing', async () => {
    const canaries = service();
    await expect(canaries.start({ ...plan, guards: ['P95(latency_ms) <= +10%'] }, 'ana')).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/latency_ms/),
    });
    await expect(canaries.start({ ...plan, dataset: 'nope' }, 'ana')).rejects.toMatchObject({ code: 'not_found' });
    await expect(canaries.start({ ...plan, variant: 'v3' }, 'ana')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(canaries.start({ ...plan, flag: 'payments_off' }, 'ana')).rejects.toMatchObject({ message: /not a release flag/ });
    expect(onShare()).toBeUndefined();
    expect(await canaries.list()).toEqual([]);
  });

  it('waits for data, then rolls back to 0% at once when the canary cohort errs, with the numbers in the timeline', async () => {
    const canaries = service();
    await canaries.start(plan, 'ana');
    clock += 5000;
    expect((await canaries.tick('checkout_v2')).kind).toBe('wait');
    // 10% of traffic on the canary: 300 canary events with 10% errors, 2,700 control events with 0.5%.
    await send(clock - 4000, 300, 'on', 30);
    await send(clock - 4000, 2700, 'off', 13);
    clock += 1000;
    const decision = await canaries.tick('checkout_v2');
    expect(decision.kind).toBe('rollback');
    expect(decision.reason).toMatch(/^rolled back to 0%: RATE\(status_code >= 500\) <= \+0\.5pp: canary 10% vs control 0\.48\d*%/);
    expect(onShare()).toBe(0);
    const record = await canaries.get('checkout_v2');
    expect(record.state).toMatchObject({ status: 'rolled-back', percent: 0 });
    const last = record.timeline.at(-1)!;
    expect(last).toMatchObject({ kind: 'rollback', by: 'canary-controller', percent: 0 });
    expect(last.evidence?.guards[0]).toMatchObject({ verdict: 'fail', control: expect.any(Number), canary: 0.1, tolerance: 0.005 });
    expect((await flags.history('checkout_v2'))[0]).toMatchObject({ by: 'canary-controller', reason: decision.reason });
  });

  it('advances after the hold time when the canary is shown within its tolerance, and completes at 100%', async () => {
    const canaries = service();
    await canaries.start({ ...plan, guards: ['RATE(status_code >= 500) <= +5pp'] }, 'ana');
    await send(clock + 1000, 400, 'on', 0);
    await send(clock + 1000, 3600, 'off', 0);
    clock += 30_000;
    expect((await canaries.tick('checkout_v2')).kind).toBe('hold');
    clock += 31_000;
    expect((await canaries.tick('checkout_v2')).kind).toBe('advance');
    expect(onShare()).toBe(50);
    await send(clock + 1000, 2000, 'on', 0);
    await send(clock + 1000, 2000, 'off', 0);
    clock += 61_000;
    expect((await canaries.tick('checkout_v2')).kind).toBe('complete');
    expect(onShare()).toBe(100);
    expect((await canaries.get('checkout_v2')).state.status).toBe('completed');
  });

  it('pauses while a kill switch of the service is pressed, and resumes when it is released', async () => {
    const canaries = service();
    await canaries.start(plan, 'ana');
    await flags.killSwitch('press', 'payments_off', 'bob', 'provider down');
    clock += 1000;
    const paused = await canaries.tick('checkout_v2');
    expect(paused.kind).toBe('pause');
    expect(paused.reason).toMatch(/kill switch payments_off by bob \(provider down\)/);
    expect((await canaries.get('checkout_v2')).state.pause?.cause).toBe('kill-switch');
    expect(onShare()).toBe(10);
    await flags.killSwitch('release', 'payments_off', 'bob', 'recovered');
    clock += 1000;
    expect((await canaries.tick('checkout_v2')).kind).toBe('resume');
    expect((await canaries.get('checkout_v2')).state.status).toBe('running');
  });

  it('steers: ramp, pause, resume, abort to 0%, each refused when the state does not allow it', async () => {
    const canaries = service();
    await canaries.start(plan, 'ana');
    await canaries.steer('checkout_v2', { type: 'ramp', to: 50 }, 'confident', 'ana');
    expect(onShare()).toBe(50);
    await canaries.steer('checkout_v2', { type: 'pause', cause: 'manual' }, 'lunch', 'ana');
    await expect(canaries.steer('checkout_v2', { type: 'promote' }, '', 'ana')).rejects.toMatchObject({ code: 'conflict' });
    await canaries.steer('checkout_v2', { type: 'resume' }, '', 'ana');
    await expect(canaries.steer('checkout_v2', { type: 'abort' }, '', 'ana')).rejects.toMatchObject({ code: 'invalid_input' });
    const aborted = await canaries.steer('checkout_v2', { type: 'abort' }, 'wrong build', 'ana');
    expect(aborted.state).toMatchObject({ status: 'aborted', percent: 0 });
    expect(onShare()).toBe(0);
    expect(aborted.timeline.map((e) => e.kind)).toEqual(['start', 'ramp', 'pause', 'resume', 'abort']);
  });

  it('a new service over the saved canaries serves what a killed server saved but had not served yet', async () => {
    const repository = new MemoryCanaryRepository();
    const first = service(repository);
    const started = await first.start(plan, 'ana');
    // The killed server saved the advance to 50% and died before setting the rollout.
    const advanced: CanaryRecord = {
      ...started,
      state: { ...started.state, stepIndex: 1, percent: 50, revision: started.state.revision + 1 },
    };
    await repository.save(advanced, started.state.revision);
    expect(onShare()).toBe(10);
    const second = service(repository);
    clock += 1000;
    await second.tick('checkout_v2');
    expect(onShare()).toBe(50);
    expect((await second.get('checkout_v2')).state).toMatchObject({ stepIndex: 1, percent: 50 });
  });

  it('runs as a background job on the server scheduler', async () => {
    const scheduler = new ManualScheduler(T0);
    let canaries: CanaryService | undefined;
    const job = canaryControllerJob({ repository: new MemoryCanaryRepository(), everyMs: 1000, onService: (s) => (canaries = s) });
    await job.start({ scheduler, log: () => undefined, events, control, flags });
    await canaries!.start(plan, 'ana');
    await flags.killSwitch('press', 'payments_off', 'bob', 'provider down');
    clock = T0 + 1000;
    await scheduler.advance(1000);
    await job.stop();
    expect((await canaries!.get('checkout_v2')).state.status).toBe('paused');
  });

  it('keeps plan, state and timeline in the control store: after a restart the canary resumes at its step, its hold counted once', async () => {
    const canaries = service(new StoreCanaryRepository(control.canaryStore()));
    await canaries.start({ ...plan, guards: ['RATE(status_code >= 500) <= +5pp'] }, 'ana');
    await send(clock + 1000, 400, 'on', 0);
    await send(clock + 1000, 3600, 'off', 0);
    clock += 40_000;
    expect((await canaries.tick('checkout_v2')).kind).toBe('hold');
    // The server stops and comes back on the same data directory.
    flags.close();
    await close();
    const stores = await openStores(`duckdb:${dir}`);
    ({ events, control } = stores);
    close = stores.close;
    flags = await FlagService.open(control.flagStore(), () => clock);
    const restarted = service(new StoreCanaryRepository(control.canaryStore()));
    const reloaded = await restarted.get('checkout_v2');
    expect(reloaded.state).toMatchObject({ status: 'running', stepIndex: 0, percent: 10 });
    expect(reloaded.plan.guards[0]?.text).toBe('RATE(status_code >= 500) <= +5pp');
    expect(reloaded.lastDecision?.kind).toBe('hold');
    expect(onShare()).toBe(10);
    clock += 15_000;
    const decision = await restarted.tick('checkout_v2');
    expect(decision.kind).toBe('hold');
    expect(decision.reason).toMatch(/holding at 10% for 5s more/);
    clock += 5_000;
    expect((await restarted.tick('checkout_v2')).kind).toBe('advance');
    expect(onShare()).toBe(50);
    expect((await restarted.get('checkout_v2')).timeline.map((e) => e.kind)).toEqual(['start', 'advance']);
  });

  it('runs in every server: a canary saved in the control store is ticked by the server on its scheduler', async () => {
    await service(new StoreCanaryRepository(control.canaryStore())).start(plan, 'ana');
    await flags.killSwitch('press', 'payments_off', 'bob', 'provider down');
    const scheduler = new ManualScheduler(T0 + 500);
    const server = await startServer({ stores: { events, control }, port: 0, scheduler, bootstrapAdminKey: false, canaryTickMs: 500 });
    await scheduler.advance(500);
    // Closing the server waits for the controller's tick in flight.
    await server.close();
    const seen = await service(new StoreCanaryRepository(control.canaryStore())).get('checkout_v2');
    expect(seen.state).toMatchObject({ status: 'paused', pause: { cause: 'kill-switch' } });
    expect(seen.timeline.at(-1)).toMatchObject({ kind: 'pause', by: 'canary-controller', at: T0 + 1000 });
  });

  it('serves fractional steps and leaves the flag alone while its rollout already matches', async () => {
    const canaries = service();
    await canaries.start({ ...plan, steps: [0.125, 12.345, 100] }, 'ana');
    expect(onShare()).toBeCloseTo(0.125, 9);
    await canaries.steer('checkout_v2', { type: 'promote' }, 'go', 'ana');
    expect(onShare()).toBeCloseTo(12.345, 9);
    const changes = (await flags.history('checkout_v2')).length;
    clock += 1000;
    await canaries.tick('checkout_v2');
    clock += 1000;
    await canaries.tick('checkout_v2');
    expect((await flags.history('checkout_v2')).length).toBe(changes);
  });
});
