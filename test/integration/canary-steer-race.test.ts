/**
 * A command that lands while a tick reloads the canaries: the reload's older copy must not
 * replace the command's newer state, or the tick would serve the old percentage again (an abort
 * undone until the next tick). Real stores; the repository's first list is held back by the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type CanaryRecord, MemoryCanaryRepository } from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { openStores } from '../../src/store/factory.js';
import type { EventStore } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
let dir: string;
let events: EventStore;
let close: () => Promise<void>;
let flags: FlagService;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-race-'));
  const stores = await openStores(`duckdb:${dir}`);
  events = stores.events;
  close = stores.close;
  flags = await FlagService.open(stores.control.flagStore(), () => T0);
  await flags.create(
    { key: 'checkout_v2', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    'admin',
    'setup',
  );
  const outcomes = await events.ingest('checkout', [
    { time: T0 - 60_000, samplerate: 1, data: { 'flag.checkout_v2': 'off', status_code: 200 } },
  ]);
  expect(outcomes.every((o) => o.status === 202)).toBe(true);
});

afterEach(async () => {
  flags.close();
  await close();
  await rm(dir, { recursive: true, force: true });
});

/** A repository whose next list answers what was stored when it was called, once the test lets it. */
class HeldRepository extends MemoryCanaryRepository {
  private hold: Promise<void> | undefined;
  release: () => void = () => undefined;

  holdNextList(): void {
    this.hold = new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }

  override async list(): Promise<CanaryRecord[]> {
    const snapshot = await super.list();
    const hold = this.hold;
    this.hold = undefined;
    if (hold !== undefined) await hold;
    return snapshot;
  }
}

it('an abort saved while a tick reloads stays aborted at 0%', async () => {
  const repository = new HeldRepository();
  const canaries = new CanaryService({ repository, events, flags, now: () => T0 });
  await canaries.start(
    { flag: 'checkout_v2', dataset: 'checkout', steps: [10, 50, 100], guards: ['RATE(status_code >= 500) <= +0.5pp'] },
    'ana',
  );
  repository.holdNextList();
  const ticking = canaries.tickAll();
  const aborted = await canaries.steer('checkout_v2', { type: 'abort' }, 'wrong build', 'oncall');
  expect(aborted.state).toMatchObject({ status: 'aborted', percent: 0 });
  repository.release();
  await ticking;
  expect((await canaries.get('checkout_v2')).state.status).toBe('aborted');
  const rollout = flags.get('checkout_v2').rollout;
  expect(rollout?.weights.find((w) => w.variant === 'on')?.weight ?? 0).toBe(0);
});
