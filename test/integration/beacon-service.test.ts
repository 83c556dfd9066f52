/**
 * The beacon service over a real DuckDB event store and its write-ahead file, on a manual
 * scheduler: executions the store will not take stay waiting (and new beacons get 429 once as
 * many wait as the store's queue holds), stay in the file through a stop, and are stored by the
 * next start; duplicates across the restart are still kept once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BeaconService } from '../../src/server/beacons/beacon-service.js';
import { type DuckDbEventStore, openEventStore } from '../../src/store/duckdb/event-store.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const WINDOW = 5_000;
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function open(
  dir: string,
  scheduler: ManualScheduler,
): Promise<{ events: DuckDbEventStore; beacons: BeaconService; logs: string[] }> {
  const events = await openEventStore({ path: join(dir, 'events.duckdb'), limits: { maxQueuedEvents: 2 } });
  const logs: string[] = [];
  const beacons = await BeaconService.open({
    events,
    scheduler,
    windowMs: WINDOW,
    logPath: join(dir, 'beacons.wal'),
    log: (line) => logs.push(line),
    retryAfterSeconds: 1,
  });
  beacons.start();
  return { events, beacons, logs };
}

async function count(events: DuckDbEventStore, where = 'true'): Promise<number> {
  const table = events.tableOf('web');
  if (table === undefined) return 0;
  const rows = await events.execute(`SELECT count(*) FROM ${events.dialect.quoteIdent(table)} WHERE ${where}`, []);
  return Number(rows[0]?.[0]);
}

describe('BeaconService', () => {
  it('keeps what the store refuses, answers 429 once as many wait as its queue holds, and stores it after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flagscope-beacon-service-'));
    dirs.push(dir);
    const scheduler = new ManualScheduler(Date.now());
    const first = await open(dir, scheduler);
    for (const id of ['a', 'b', 'c']) {
      expect(first.beacons.accept('web', { execution_id: id, 'beacon.phase': 'start', 'beacon.seq': 0 })).toEqual([{ status: 202 }]);
    }
    first.beacons.accept('web', [{ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 1, lcp: 900 }]);
    first.beacons.admit();
    // The store goes away: the closed executions cannot be stored and wait.
    await first.events.close();
    await scheduler.advance(WINDOW + 1_000);
    await first.beacons.settled();
    expect(first.beacons.stats()).toMatchObject({ open_executions: 0, pending_executions: 3, stored_events: 0 });
    expect(() => first.beacons.admit()).toThrow(expect.objectContaining({ code: 'overloaded' }));
    await first.beacons.stop();
    expect(first.logs.some((line) => /3 executions not stored at shutdown/.test(line))).toBe(true);

    const second = await open(dir, scheduler);
    expect(second.beacons.stats().open_executions).toBe(3);
    // A beacon sent again after the restart is still the same beacon.
    expect(second.beacons.accept('web', { execution_id: 'b', 'beacon.phase': 'start', 'beacon.seq': 0 })).toEqual([
      { status: 202, duplicate: true },
    ]);
    await scheduler.advance(1_000);
    await second.beacons.settled();
    expect(second.beacons.stats()).toMatchObject({ stored_events: 3, pending_executions: 0 });
    expect(await count(second.events)).toBe(3);
    expect(await count(second.events, `"meta.incomplete" = false AND lcp = 900 AND "meta.beacon_count" = 2`)).toBe(1);
    await second.beacons.stop();
    await second.events.close();

    // Stored and marked: a third start reads nothing back.
    const third = await open(dir, scheduler);
    expect(third.beacons.stats().open_executions).toBe(0);
    expect(await count(third.events)).toBe(3);
    await third.beacons.stop();
    await third.events.close();
  });
});
