/**
 * Schema changes are cheap and local (issue 9, item 4): an event with many new fields costs one
 * schema change, and a schema change in one dataset never holds up ingest into another. The
 * second is shown with the store's `beforeSchemaChange` hook, which holds a change open while
 * another dataset's ingest commits: no timing involved.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rebuildIsCheaper } from '../../src/store/duckdb/catalog.js';
import { openEventStore, type DuckDbEventStore, type EventStoreOptions } from '../../src/store/duckdb/event-store.js';
import type { IncomingEvent } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

let dir: string;
const open: DuckDbEventStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-schema-'));
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function openStore(options: Partial<EventStoreOptions> = {}): Promise<DuckDbEventStore> {
  const store = await openEventStore({ path: join(dir, 'events.duckdb'), now: () => T0, ...options });
  open.push(store);
  return store;
}

function event(data: Record<string, unknown>, offsetMs = 0): IncomingEvent {
  return { time: T0 + offsetMs, samplerate: 1, data };
}

/** An event of `count` fields named `prefix0`, `prefix1`, …: integers, strings and booleans in turn. */
function wideEvent(prefix: string, count: number, offsetMs = 0): IncomingEvent {
  const data: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) data[`${prefix}${i}`] = i % 3 === 0 ? i : i % 3 === 1 ? `v${i}` : i % 2 === 0;
  return event(data, offsetMs);
}

/** A promise with its resolve function, to hold a schema change open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, open: release };
}

describe('an event with many new fields costs one schema change', () => {
  it('creates a new dataset with 2,000 columns in one schema change, values and types intact', async () => {
    const store = await openStore();
    const wide = wideEvent('f', 2000);
    expect(await store.ingest('wide', [wide])).toEqual([{ status: 202 }]);
    expect(store.stats().schemaChanges).toBe(1);
    const schema = (await store.getSchema('wide'))!;
    expect(schema.columns).toHaveLength(2000);
    expect(schema.columns.slice(0, 3).map((c) => [c.name, c.type])).toEqual([
      ['f0', 'integer'],
      ['f1', 'string'],
      ['f2', 'boolean'],
    ]);
    const [row] = await store.execute(`SELECT "f0", "f1", "f2", "f1999" FROM ${store.tableOf('wide')}`);
    expect(row).toEqual([0n, 'v1', true, 'v1999']);
  });

  it('adds 1,999 columns to an existing dataset in one schema change, keeping its rows', async () => {
    const store = await openStore();
    await store.ingest('grow', [event({ a: 1 }), event({ a: 2 }, 1)]);
    expect(store.stats().schemaChanges).toBe(1);
    expect(await store.ingest('grow', [wideEvent('g', 1999, 2)])).toEqual([{ status: 202 }]);
    expect(store.stats().schemaChanges).toBe(2);
    expect((await store.getSchema('grow'))!.columns).toHaveLength(2000);
    const rows = await store.execute(`SELECT a, "g0", "g1" FROM ${store.tableOf('grow')} ORDER BY _time`);
    expect(rows).toEqual([
      [1n, null, null],
      [2n, null, null],
      [null, 0n, 'v1'],
    ]);
  });

  it('keeps the catalog across a restart after both kinds of change (rebuild and ALTER)', async () => {
    let store = await openStore();
    await store.ingest('grow', [event({ a: 1 })]);
    await store.ingest('grow', [wideEvent('g', 500)]);
    await store.ingest('grow', [event({ late: 'x' })]);
    await store.close();
    open.splice(0);
    store = await openStore();
    const schema = (await store.getSchema('grow'))!;
    expect(schema.columns.map((c) => c.name)).toEqual(['a', ...Array.from({ length: 500 }, (_, i) => `g${i}`), 'late']);
    expect((await store.listDatasets())[0]).toMatchObject({ name: 'grow', rows: 3, columns: 502 });
    expect(await store.ingest('grow', [event({ a: 2, late: 'y', g0: 7 })])).toEqual([{ status: 202 }]);
  });

  it('chooses a rebuild for a small table and ALTER for a few columns on a large one', () => {
    expect(rebuildIsCheaper(10, 1, 2000, 0)).toBe(true);
    expect(rebuildIsCheaper(1_000_000, 100, 3, 0)).toBe(false);
  });
});

describe('a schema change in one dataset never stalls ingest into others', () => {
  it('commits another dataset while a schema change is held open, and the held dataset after it', async () => {
    const held = gate();
    let holding = false;
    const entered: string[] = [];
    const store = await openStore({
      beforeSchemaChange: async (dataset) => {
        entered.push(dataset);
        if (holding && dataset === 'wide') await held.promise;
      },
    });
    await store.ingest('other', [event({ n: 0 })]);
    await store.ingest('wide', [event({ a: 1 })]);
    const changesBefore = store.stats().schemaChanges;
    holding = true;

    let wideDone = false;
    const wide = store.ingest('wide', [wideEvent('w', 2000 - 1, 1)]).then((outcomes) => {
      wideDone = true;
      return outcomes;
    });
    // The change is now waiting for its gate: that is the only thing holding it.
    await expect.poll(() => entered.filter((d) => d === 'wide').length).toBe(2);
    // Ingest into the held dataset's existing columns waits for the change.
    const sameDataset = store.ingest('wide', [event({ a: 2 }, 2)]);

    for (let n = 1; n <= 5; n++) expect(await store.ingest('other', [event({ n }, n)])).toEqual([{ status: 202 }]);
    expect(wideDone).toBe(false);
    const [[otherRows]] = (await store.execute(`SELECT count(*) FROM ${store.tableOf('other')}`)) as [[bigint]];
    expect(otherRows).toBe(6n);
    // A new dataset takes its own schema change beside the held one.
    expect(await store.ingest('third', [event({ t: 1 })])).toEqual([{ status: 202 }]);

    held.open();
    expect(await wide).toEqual([{ status: 202 }]);
    expect(await sameDataset).toEqual([{ status: 202 }]);
    expect(store.stats().schemaChanges).toBe(changesBefore + 2);
    expect((await store.listDatasets()).map((d) => [d.name, d.rows])).toEqual([
      ['other', 6],
      ['third', 1],
      ['wide', 3],
    ]);
  });
});
