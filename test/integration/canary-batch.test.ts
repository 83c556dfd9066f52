/**
 * The controller measures every canary of a dataset with one statement (buildCanaryBatch): each
 * canary's evidence is the one its own statements give, whatever its window, guards and step; and
 * a tick that changes nothing saves nothing. Real DuckDB stores and the flag service; a fixed
 * clock moved by the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CanaryRecord, MemoryCanaryRepository } from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { openStores } from '../../src/store/factory.js';
import type { EventStore } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const KEYS = ['a', 'b', 'c'];
let dir: string;
let events: EventStore;
let close: () => Promise<void>;
let flags: FlagService;
let clock: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-batch-'));
  const stores = await openStores(`duckdb:${dir}`);
  events = stores.events;
  close = stores.close;
  clock = T0;
  flags = await FlagService.open(stores.control.flagStore(), () => clock);
  for (const key of KEYS) {
    await flags.create(
      { key, service: `svc-${key}`, kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
      'admin',
      'setup',
    );
  }
  await send(T0 - 60_000, 20);
});

afterEach(async () => {
  flags.close();
  await close();
  await rm(dir, { recursive: true, force: true });
});

/** `count` events at `at`, each user on a variant of every flag by its number, some failing, some slow. */
async function send(at: number, count: number): Promise<void> {
  const batch = Array.from({ length: count }, (_, i) => {
    const data: Record<string, unknown> = {
      status_code: i % 17 === 0 ? 503 : 200,
      duration_ms: 50 + ((i * 37) % 300),
      'user.id': `user-${i % 40}`,
    };
    KEYS.forEach((key, k) => {
      data[`flag.${key}`] = (i + k) % (k + 2) === 0 ? 'on' : 'off';
    });
    return { time: at + (i % 1000), samplerate: 1 + (i % 3), data };
  });
  const outcomes = await events.ingest('checkout', batch);
  expect(outcomes.every((o) => o.status === 202)).toBe(true);
}

class CountingRepository extends MemoryCanaryRepository {
  saves = 0;
  override async save(record: CanaryRecord, expectedRevision: number | null): Promise<void> {
    this.saves++;
    return super.save(record, expectedRevision);
  }
}

describe('the batched tick', () => {
  it('gives every canary of a dataset the evidence of its own statements', async () => {
    const repository = new CountingRepository();
    const logs: string[] = [];
    const service = new CanaryService({ repository, events, flags, now: () => clock, log: (line) => logs.push(line) });
    // Different starts, guards and steps, so the canaries' windows and statements differ.
    await service.start({ flag: 'a', dataset: 'checkout', steps: '50,100', interval: '1h', minSample: 5 }, 'admin');
    clock += 3_000;
    await send(clock - 1_000, 200);
    await service.start(
      {
        flag: 'b',
        dataset: 'checkout',
        steps: '25,100',
        interval: '1h',
        minSample: 5,
        guards: ['P50(duration_ms) <= +20%', 'RATE(status_code >= 500) <= +1pp'],
      },
      'admin',
    );
    clock += 5_000;
    await send(clock - 2_000, 300);
    await service.start({ flag: 'c', dataset: 'checkout', steps: '10,100', interval: '2s', minSample: 1, unit: null }, 'admin');
    clock += 4_000;
    await send(clock - 1_500, 300);
    clock += 1_000;

    const before = await service.list();
    const alone = await Promise.all(before.map((record) => service.measure(record, clock)));
    await service.tickAll();
    const after = await service.list();
    expect(logs).toEqual([]); // measured by the batch, not one by one
    for (const [i, record] of after.entries()) {
      expect(alone[i]).not.toBeNull();
      expect(record.lastDecision?.evidence).toEqual(alone[i]);
    }
  });

  it("gives the per-unit batch the evidence of each canary's own statements: users on both variants, events without a user or a variant, a canary past 50%", async () => {
    for (const key of ['d', 'e']) {
      await flags.create(
        { key, service: `svc-${key}`, kind: 'release', variants: { on: 'on', off: 'off', beta: 'beta' }, defaultVariant: 'off' },
        'admin',
        'setup',
      );
    }
    const logs: string[] = [];
    const service = new CanaryService({
      repository: new MemoryCanaryRepository(),
      events,
      flags,
      now: () => clock,
      log: (line) => logs.push(line),
    });
    await service.start({ flag: 'd', dataset: 'checkout', steps: '75,100', interval: '1h', minSample: 5 }, 'admin');
    await service.start(
      {
        flag: 'e',
        dataset: 'checkout',
        steps: '10,100',
        interval: '1h',
        minSample: 5,
        guards: ['AVG(duration_ms) <= +10%', 'P95(duration_ms) <= +10%', 'P50(duration_ms) <= +10%', 'RATE(status_code >= 500) <= +1pp'],
      },
      'admin',
    );
    clock += 3_000;
    // Users 0-19 keep their variant of d; users 20-39 change it between events; some events carry no
    // user, some no variant of d, some another variant; e's variant changes with the event for
    // every user; durations include zeros and missing values.
    const batch = Array.from({ length: 400 }, (_, i) => {
      const user = i % 40;
      const data: Record<string, unknown> = {
        status_code: i % 13 === 0 ? 500 : 200,
        'flag.e': i % 3 === 0 ? 'on' : i % 7 === 0 ? 'beta' : 'off',
      };
      if (i % 11 !== 0) data['user.id'] = `user-${user}`;
      if (i % 17 !== 0) data.duration_ms = i % 19 === 0 ? 0 : 20 + ((i * 53) % 500);
      if (i % 23 !== 0) data['flag.d'] = user < 20 ? (user % 4 === 0 ? 'off' : 'on') : i % 2 === 0 ? 'on' : i % 5 === 0 ? 'beta' : 'off';
      return { time: clock - 2_000 + (i % 1000), samplerate: 1 + (i % 4), data };
    });
    expect((await events.ingest('checkout', batch)).every((o) => o.status === 202)).toBe(true);
    clock += 1_000;
    const before = (await service.list()).filter((r) => r.plan.flag === 'd' || r.plan.flag === 'e');
    const alone = await Promise.all(before.map((record) => service.measure(record, clock)));
    await service.tickAll();
    expect(logs).toEqual([]);
    for (const [i, record] of before.entries()) {
      const after = await service.get(record.plan.flag);
      expect(alone[i]).not.toBeNull();
      expect(alone[i]!.guards.every((g) => g.control !== null && g.canary !== null)).toBe(true);
      expect(after.lastDecision?.evidence).toEqual(alone[i]);
    }
  });

  it('saves nothing at a tick that changes nothing, and keeps its decision for status', async () => {
    const repository = new CountingRepository();
    const service = new CanaryService({ repository, events, flags, now: () => clock });
    await service.start({ flag: 'a', dataset: 'checkout', steps: '50,100', interval: '1h', minSample: 100000 }, 'admin');
    clock += 2_000;
    await send(clock - 1_000, 100);
    await service.tickAll();
    const saves = repository.saves;
    for (let i = 0; i < 3; i++) {
      clock += 1_000;
      await service.tickAll();
    }
    expect(repository.saves).toBe(saves);
    const record = await service.get('a');
    expect(record.lastDecision?.at).toBe(clock);
  });
});
