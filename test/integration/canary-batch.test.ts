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
