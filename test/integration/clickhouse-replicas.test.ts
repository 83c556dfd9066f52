/**
 * Two ClickHouse event stores over one ClickHouse (two replicas' stores, here on one chDB session):
 * a dataset one creates is found by the other, which writes into the same table rather than
 * making a second one, each reads what both wrote, and a column one adds reaches the other's schema.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQuery } from '../../src/server/query/query-service.js';
import { ChdbExecutor } from '../../src/store/clickhouse/chdb-executor.js';
import type { ClickHouseExecutor } from '../../src/store/clickhouse/executor.js';
import { openClickHouseEventStore } from '../../src/store/clickhouse/event-store.js';
import type { EventStore } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 11, 6, 9, 0, 0);
let dir: string;
let executor: ChdbExecutor;
let a: EventStore;
let b: EventStore;

/** The shared executor, closed once by the test rather than by each store. */
function shared(inner: ClickHouseExecutor): ClickHouseExecutor {
  return {
    description: inner.description,
    query: (sql, params, signal) => inner.query(sql, params, signal),
    command: (sql, params) => inner.command(sql, params),
    insert: (table, rows) => inner.insert(table, rows),
    close: async () => undefined,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-ch-replicas-'));
  executor = await ChdbExecutor.open(dir);
  a = await openClickHouseEventStore({ executor: shared(executor), now: () => T0 });
  b = await openClickHouseEventStore({ executor: shared(executor), now: () => T0, schemaRefreshMs: 0 });
});

afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  await executor?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('two ClickHouse event stores over one ClickHouse', () => {
  it('share a dataset one of them created, and its table', async () => {
    const event = (i: number) => ({ time: T0 - 1000 * i, samplerate: 1, data: { service: i % 2 === 0 ? 'api' : 'web' } });
    expect((await a.ingest('shared', [0, 1, 2].map(event))).every((o) => o.status === 202)).toBe(true);
    expect(b.tableOf('shared')).toBeUndefined();
    expect((await b.getSchema('shared'))?.columns.map((c) => c.name)).toEqual(['service']);
    expect(b.tableOf('shared')).toBe(a.tableOf('shared'));
    expect((await b.ingest('shared', [3, 4].map(event))).every((o) => o.status === 202)).toBe(true);
    expect(b.tableOf('shared')).toBe(a.tableOf('shared'));
    const spec = { time_range: 3600, calculations: [{ op: 'COUNT' }], breakdowns: ['service'] };
    for (const store of [a, b]) {
      const result = await runQuery(store, 'shared', spec, T0 + 1000);
      expect(result.data.results.map((r) => [r.data.service, r.data.COUNT])).toEqual([
        ['api', 3],
        ['web', 2],
      ]);
    }
    expect(await b.getSchema('never-created')).toBeUndefined();
    // A column replica A adds is in replica B's schema at its next read.
    expect((await a.ingest('shared', [{ time: T0 - 10, samplerate: 1, data: { region: 'eu' } }]))[0]!.status).toBe(202);
    expect((await b.getSchema('shared'))?.columns.map((c) => c.name)).toEqual(['service', 'region']);
    const regions = await runQuery(b, 'shared', { time_range: 3600, calculations: [{ op: 'COUNT' }], breakdowns: ['region'] }, T0 + 1000);
    expect(regions.data.results.map((r) => [r.data.region, r.data.COUNT])).toEqual([
      [null, 5],
      ['eu', 1],
    ]);
  });
});
