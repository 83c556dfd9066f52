/**
 * The canary controller's lease over the real DuckDB control store: one controller job leads at a
 * time, a second takes over once the leader stops renewing (within the lease time), a leader cut
 * off mid-tick has its decision refused by the store because the lease moved on (no decision is
 * taken twice), and the step's hold time runs from the saved state whichever replica decides.
 * Two jobs over one set of stores stand for two replicas; time is a manual scheduler, nothing sleeps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TimerScheduler } from '../../src/scheduler.js';
import type { BackgroundJob } from '../../src/server/jobs.js';
import { StoreCanaryRepository } from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { CANARY_LEASE, canaryControllerJob } from '../../src/server/canaries/controller-job.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { openStores } from '../../src/store/factory.js';
import { openPostgresControlStore } from '../../src/store/postgres/control-store.js';
import type { ControlStore, EventStore } from '../../src/store/types.js';
import { ManualScheduler } from '../support/manual-scheduler.js';
import { type PostgresCluster, postgresUnavailable, startPostgres } from '../support/postgres.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const TICK = 1000;
const LEASE = 3000;

let dir: string;
let events: EventStore;
let control: ControlStore;
let close: () => Promise<void>;
let scheduler: ManualScheduler;
const opened: FlagService[] = [];
const jobs: BackgroundJob[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-lease-'));
  const stores = await openStores(`duckdb:${dir}`);
  ({ events, control } = stores);
  close = stores.close;
  scheduler = new ManualScheduler(T0);
});

afterEach(async () => {
  for (const job of jobs.splice(0)) await job.stop();
  replicas.splice(0);
  for (const flags of opened.splice(0)) flags.close();
  await close();
  await rm(dir, { recursive: true, force: true });
});

async function flagService(): Promise<FlagService> {
  const flags = await FlagService.open(control.flagStore(), scheduler.now);
  opened.push(flags);
  return flags;
}

/** `count` events of `variant` at `at`, none failing. */
async function send(at: number, count: number, variant: string): Promise<void> {
  const batch = Array.from({ length: count }, (_, i) => ({
    time: at + (i % 1000),
    samplerate: 1,
    data: { 'flag.checkout_v2': variant, status_code: 200, duration_ms: 100 + (i % 50), 'user.id': `${variant}-${at}-${i}` },
  }));
  const outcomes = await events.ingest('checkout', batch);
  expect(outcomes.every((o) => o.status === 202)).toBe(true);
}

const plan = {
  flag: 'checkout_v2',
  dataset: 'checkout',
  variant: 'on',
  steps: [10, 50, 100],
  interval: '1m',
  minSample: 100,
  guards: ['RATE(status_code >= 500) <= +5pp'],
};

/** One replica's controller: a job over the shared stores, its own flag service, a scheduler it may lose (a frozen process). */
interface Replica {
  name: string;
  job: BackgroundJob;
  service: () => CanaryService;
  log: string[];
  /** While true the replica's timers do not fire: a process stopped (SIGSTOP) or killed without a goodbye. */
  frozen: boolean;
  /** While set, the replica's tick waits in its measurement until it resolves: a leader cut off mid-tick. */
  hold: Promise<void> | undefined;
  /** Ticks finished. */
  ticks: number;
  /** Resolves once `ticks` reaches `count`. */
  ticked(count: number): Promise<void>;
}

const replicas: Replica[] = [];

/**
 * Moves time on by `n` ticks, one at a time, each time waiting for the ticks of the replicas
 * that run (not frozen, not stalled) to finish: their stores are real, their work is real I/O.
 */
async function step(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    const running = replicas.filter((r) => !r.frozen && r.hold === undefined);
    const targets = running.map((r) => r.ticks + 1);
    await scheduler.advance(TICK);
    await Promise.all(running.map((r, j) => r.ticked(targets[j]!)));
  }
}

async function replica(name: string): Promise<Replica> {
  const flags = await flagService();
  let service: CanaryService | undefined;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const self: Replica = {
    name,
    job: undefined as unknown as BackgroundJob,
    service: () => service!,
    log: [],
    frozen: false,
    hold: undefined,
    ticks: 0,
    ticked: (count) => (self.ticks >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
  };
  replicas.push(self);
  const own: TimerScheduler = {
    now: scheduler.now,
    sleep: scheduler.sleep,
    setTimeout: (run, ms) => scheduler.setTimeout(() => self.frozen || run(), ms),
    setInterval: (run, ms) => scheduler.setInterval(() => self.frozen || run(), ms),
  };
  self.job = canaryControllerJob({
    repository: new StoreCanaryRepository(control.canaryStore()),
    leases: control.leaseStore(),
    everyMs: TICK,
    leaseMs: LEASE,
    holder: name,
    onTick: () => {
      self.ticks++;
      for (const waiter of waiters.splice(0)) {
        if (self.ticks >= waiter.count) waiter.resolve();
        else waiters.push(waiter);
      }
    },
    onService: (s) => {
      service = s;
    },
  });
  jobs.push(self.job);
  await self.job.start({
    scheduler: own,
    log: (line) => self.log.push(`${scheduler.now() - T0} ${line}`),
    events,
    control,
    flags,
    admit: async (task) => {
      if (self.hold !== undefined) await self.hold;
      return task(new AbortController().signal);
    },
  });
  return self;
}

async function startCanary(): Promise<void> {
  const flags = await flagService();
  await flags.create(
    { key: 'checkout_v2', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    'admin',
    'setup',
  );
  await send(T0 - 60_000, 10, 'off');
  await new CanaryService({ repository: new StoreCanaryRepository(control.canaryStore()), events, flags, now: scheduler.now }).start(
    plan,
    'ana',
  );
  await send(T0 + 1000, 400, 'on');
  await send(T0 + 1000, 3600, 'off');
}

async function stored() {
  const [record] = await new StoreCanaryRepository(control.canaryStore()).list();
  return record!;
}

function lease() {
  return control.leaseStore().readLease(CANARY_LEASE);
}

const pgUnavailable = postgresUnavailable();
let cluster: PostgresCluster | undefined;
let databases = 0;

beforeAll(async () => {
  if (pgUnavailable === undefined) cluster = await startPostgres();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** The engines the lease store is checked on: DuckDB (this file's store) and PostgreSQL (a fresh database, several stores over it). */
const engines: Array<{
  name: string;
  skip: string | undefined;
  open(count: number): Promise<{ stores: ControlStore[]; close(): Promise<void> }>;
}> = [
  {
    name: 'duckdb',
    skip: undefined,
    open: async (count) => ({ stores: Array.from({ length: count }, () => control), close: async () => undefined }),
  },
  {
    name: 'postgres',
    skip: pgUnavailable,
    async open(count) {
      databases += 1;
      const url = await cluster!.createDatabase(`lease_${databases}`);
      const stores: ControlStore[] = [];
      for (let i = 0; i < count; i++) stores.push(await openPostgresControlStore({ url, pollMs: 0 }));
      return { stores, close: async () => void (await Promise.all(stores.map((s) => s.close()))) };
    },
  },
];

for (const engine of engines) {
  describe.skipIf(engine.skip !== undefined)(`the lease store (${engine.name})`, () => {
    it('renews for its holder with the same epoch, refuses others while valid, gives the next epoch once it lapses or is released', async () => {
      const opened = await engine.open(1);
      try {
        const leases = opened.stores[0]!.leaseStore();
        expect(await leases.readLease('l')).toBeUndefined();
        expect(await leases.acquireLease('l', 'a', 1000, 3000)).toEqual({ name: 'l', holder: 'a', epoch: 1, expiresAt: 4000 });
        expect(await leases.acquireLease('l', 'a', 2000, 3000)).toEqual({ name: 'l', holder: 'a', epoch: 1, expiresAt: 5000 });
        expect(await leases.acquireLease('l', 'b', 4999, 3000)).toEqual({ name: 'l', holder: 'a', epoch: 1, expiresAt: 5000 });
        expect(await leases.acquireLease('l', 'b', 5000, 3000)).toEqual({ name: 'l', holder: 'b', epoch: 2, expiresAt: 8000 });
        expect(await leases.acquireLease('l', 'a', 6000, 3000)).toMatchObject({ holder: 'b', epoch: 2 });
        await leases.releaseLease('l', 'a');
        expect(await leases.acquireLease('l', 'a', 6000, 3000)).toMatchObject({ holder: 'b', epoch: 2 });
        await leases.releaseLease('l', 'b');
        expect(await leases.acquireLease('l', 'a', 6001, 3000)).toEqual({ name: 'l', holder: 'a', epoch: 3, expiresAt: 9001 });
        expect(await leases.readLease('l')).toEqual({ name: 'l', holder: 'a', epoch: 3, expiresAt: 9001 });
      } finally {
        await opened.close();
      }
    });

    it('gives a lapsed lease to exactly one of replicas racing for it', async () => {
      const opened = await engine.open(4);
      try {
        await opened.stores[0]!.leaseStore().acquireLease('l', 'old', 0, 1000);
        const results = await Promise.all(opened.stores.map((store, i) => store.leaseStore().acquireLease('l', `r${i}`, 5000, 3000)));
        const winners = new Set(results.map((r) => r.holder));
        expect(winners.size).toBe(1);
        expect(results.every((r) => r.epoch === 2)).toBe(true);
        expect(await opened.stores[0]!.leaseStore().readLease('l')).toMatchObject({ holder: [...winners][0], epoch: 2 });
      } finally {
        await opened.close();
      }
    });

    it('refuses a canary write fenced with an epoch the lease has left, and writes nothing', async () => {
      const opened = await engine.open(1);
      try {
        const store = opened.stores[0]!;
        const canaries = store.canaryStore();
        await canaries.saveCanary({ id: 'c', flag: 'f', revision: 1, body: '{"v":1}' }, null);
        await store.leaseStore().acquireLease(CANARY_LEASE, 'a', 0, 3000);
        await store.leaseStore().acquireLease(CANARY_LEASE, 'b', 3000, 3000);
        await expect(
          canaries.saveCanary({ id: 'c', flag: 'f', revision: 2, body: '{"v":2}' }, 1, { lease: CANARY_LEASE, epoch: 1 }),
        ).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/moved on \(epoch 2/) });
        expect(await canaries.listCanaries()).toEqual([{ id: 'c', flag: 'f', revision: 1, body: '{"v":1}' }]);
        await canaries.saveCanary({ id: 'c', flag: 'f', revision: 2, body: '{"v":2}' }, 1, { lease: CANARY_LEASE, epoch: 2 });
        expect((await canaries.listCanaries())[0]?.revision).toBe(2);
      } finally {
        await opened.close();
      }
    });
  });
}

describe('one canary controller among replicas', () => {
  it('one replica leads; when it stops renewing another takes over within the lease time and the canary goes on at its step', async () => {
    await startCanary();
    const a = await replica('A');
    const b = await replica('B');
    await step();
    expect(await lease()).toMatchObject({ holder: 'A', epoch: 1 });
    await step(29);
    expect((await stored()).lastDecision?.kind).toBe('hold');
    expect(a.log).toEqual(['1000 canary controller: leading as A (epoch 1)']);
    expect(b.log).toEqual([]);
    // A dies at 30 s: its last renewal holds the lease to 33 s.
    a.frozen = true;
    await step(2);
    expect(await lease()).toMatchObject({ holder: 'A', epoch: 1 });
    await step();
    expect(await lease()).toMatchObject({ holder: 'B', epoch: 2 });
    expect(b.log).toEqual(['33000 canary controller: leading as B (epoch 2)']);
    // The step started at T0: B advances at 60 s, not earlier (hold skipped) nor later (hold counted again).
    await step(26);
    expect((await stored()).state).toMatchObject({ stepIndex: 0, percent: 10 });
    await step();
    const record = await stored();
    expect(record.state).toMatchObject({ stepIndex: 1, percent: 50, stepStartedAt: T0 + 60_000 });
    expect(record.timeline.map((e) => [e.kind, e.by, e.at - T0, e.epoch])).toEqual([
      ['start', 'ana', 0, undefined],
      ['advance', 'canary-controller', 60_000, 2],
    ]);
    expect(await b.service().list()).toHaveLength(1);
  });

  it('a leader cut off mid-tick has its decision refused once the lease moved on: the step is decided once', async () => {
    await startCanary();
    const a = await replica('A');
    const b = await replica('B');
    await step(59);
    expect(await lease()).toMatchObject({ holder: 'A', epoch: 1 });
    // At 60 s A renews (to 63 s), reads the canary and stalls in its measurement: a pause, a lost network.
    let resume!: () => void;
    a.hold = new Promise<void>((resolve) => {
      resume = resolve;
    });
    await step();
    await step(3);
    // B takes over at 63 s and advances the step A was about to advance.
    expect(await lease()).toMatchObject({ holder: 'B', epoch: 2 });
    expect(b.log).toEqual(['63000 canary controller: leading as B (epoch 2)']);
    const advanced = await stored();
    expect(advanced.state).toMatchObject({ stepIndex: 1, percent: 50 });
    // A wakes with its view of 60 s and decides the same advance: the store refuses it.
    const woken = a.ticked(a.ticks + 1);
    a.hold = undefined;
    resume();
    await woken;
    expect(a.log.some((line) => /tick failed: lease canary-controller has moved on \(epoch 2, .* epoch 1\)/.test(line))).toBe(true);
    const after = await stored();
    expect(after.state.revision).toBe(advanced.state.revision);
    expect(after.timeline.filter((e) => e.kind === 'advance')).toHaveLength(1);
    expect(after.timeline.at(-1)).toMatchObject({ kind: 'advance', epoch: 2, at: T0 + 63_000 });
    // A's next tick finds B leading: it only reads, and B goes on.
    await step();
    expect(await lease()).toMatchObject({ holder: 'B', epoch: 2 });
    expect(a.log.filter((line) => /leading/.test(line))).toHaveLength(1);
    expect((await stored()).timeline.filter((e) => e.kind === 'advance')).toHaveLength(1);
  });

  it('a replica that stops hands the lease over at once', async () => {
    await startCanary();
    const a = await replica('A');
    const b = await replica('B');
    await step();
    expect(await lease()).toMatchObject({ holder: 'A', epoch: 1 });
    await a.job.stop();
    a.frozen = true;
    await step();
    expect(await lease()).toMatchObject({ holder: 'B', epoch: 2 });
    expect(b.log).toEqual(['2000 canary controller: leading as B (epoch 2)']);
  });
});
