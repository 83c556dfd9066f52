import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { duckdbDialect, type SqlDialect, type SqlParam } from '../../src/query/dialect.js';
import { datasetColumns, listDatasets, runQuery } from '../../src/server/query/query-service.js';
import { openEventStore, type DuckDbEventStore } from '../../src/store/duckdb/event-store.js';
import type { EventStore, IncomingEvent, SqlRow } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

let dir: string;
let store: DuckDbEventStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-query-service-'));
  store = await openEventStore({ path: join(dir, 'events.duckdb'), now: () => T0 });
});

afterEach(async () => {
  await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

function event(data: Record<string, unknown>, offsetMs = 0, samplerate = 1): IncomingEvent {
  return { time: T0 + offsetMs, samplerate, data };
}

/** The real store, with every statement it is asked to execute recorded (and run). */
function recording(events: DuckDbEventStore, dialect: SqlDialect = events.dialect): { store: EventStore; statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    store: {
      dialect,
      listDatasets: () => events.listDatasets(),
      getSchema: (dataset) => events.getSchema(dataset),
      setColumnType: (dataset, column, type) => events.setColumnType(dataset, column, type),
      tableOf: (dataset) => events.tableOf(dataset),
      execute: (sql: string, params: readonly SqlParam[]): Promise<SqlRow[]> => {
        statements.push(sql);
        return events.execute(sql, params);
      },
      ingest: (dataset, batch) => events.ingest(dataset, batch),
      ingestBatchBody: (dataset, body, options) => events.ingestBatchBody(dataset, body, options),
      ingestOtlpTraces: (body, options) => events.ingestOtlpTraces(body, options),
      takeBatchBody: (bytes) => events.takeBatchBody(bytes),
      releaseBatchBody: (body) => events.releaseBatchBody(body),
      pressure: () => events.pressure(),
      describeDatasets: () => events.describeDatasets(),
      deleteDataset: (dataset) => events.deleteDataset(dataset),
      setRetention: (dataset, retentionMs) => events.setRetention(dataset, retentionMs),
      deleteEventsBefore: (dataset, beforeMs) => events.deleteEventsBefore(dataset, beforeMs),
      reclaimSpace: () => events.reclaimSpace(),
      storageEpoch: (dataset) => events.storageEpoch(dataset),
      storageEpochNow: (dataset) => events.storageEpochNow(dataset),
      translatePosition: (dataset, epoch, position) => events.translatePosition(dataset, epoch, position),
      close: () => events.close(),
    },
  };
}

async function seed(): Promise<void> {
  const outcomes = await store.ingest('shop', [
    event({ service: 'api', duration_ms: 10, note: 'a' }, 0),
    event({ service: 'api', duration_ms: 30, note: "'; DROP TABLE ds_1; --" }, 1000, 4),
    event({ service: 'web', duration_ms: 20, note: 'b' }, 2000),
  ]);
  expect(outcomes.every((outcome) => outcome.status === 202)).toBe(true);
}

describe('the query service over the DuckDB event store', () => {
  it('validates, compiles in the store dialect and executes: weighted counts and averages by breakdown', async () => {
    await seed();
    const quoted: string[] = [];
    const dialect: SqlDialect = {
      ...duckdbDialect,
      quoteIdent: (name) => {
        quoted.push(name);
        return duckdbDialect.quoteIdent(name);
      },
    };
    const { store: events, statements } = recording(store, dialect);
    const result = await runQuery(
      events,
      'shop',
      { calculations: [{ op: 'COUNT' }, { op: 'AVG', column: 'duration_ms' }], breakdowns: ['service'], orders: [{ column: 'service' }] },
      T0 + 60_000,
    );
    expect(statements).toHaveLength(1);
    expect(quoted).toContain(store.tableOf('shop'));
    expect(result.meta).toMatchObject({ dataset: 'shop', calculations: ['COUNT', 'AVG(duration_ms)'], breakdowns: ['service'] });
    expect(result.query.end_time).toBe(Math.floor((T0 + 60_000) / 1000));
    expect(result.data.results.map((row) => row.data)).toEqual([
      { service: 'api', COUNT: 5, 'AVG(duration_ms)': (10 + 4 * 30) / 5 },
      { service: 'web', COUNT: 1, 'AVG(duration_ms)': 20 },
    ]);
  });

  it('binds user values as parameters: a filter value that looks like SQL is matched as text', async () => {
    await seed();
    const { store: events, statements } = recording(store);
    const hostile = "'; DROP TABLE ds_1; --";
    const result = await runQuery(
      events,
      'shop',
      { calculations: [{ op: 'COUNT' }], filters: [{ column: 'note', op: '=', value: hostile }] },
      T0 + 60_000,
    );
    expect(result.data.results[0]?.data.COUNT).toBe(4);
    expect(statements[0]).not.toContain('DROP');
    expect((await store.listDatasets())[0]?.rows).toBe(3);
  });

  it('rejects an invalid spec with invalid_input before any SQL runs, and changes nothing', async () => {
    await seed();
    const before = { datasets: await store.listDatasets(), schema: await store.getSchema('shop') };
    const { store: events, statements } = recording(store);
    const rejected = [
      { calculations: [{ op: 'AVG', column: 'durration_ms' }] },
      { calculations: [{ op: 'COUNT' }], breakdowns: ['service"; DROP TABLE ds_1; --'] },
      { calculations: [{ op: 'NO_SUCH_OP' }] },
      { calculations: [{ op: 'COUNT' }], time_range: -5 },
      'not a spec',
    ];
    for (const spec of rejected) {
      await expect(runQuery(events, 'shop', spec, T0 + 60_000)).rejects.toMatchObject({ code: 'invalid_input' });
    }
    expect(statements).toEqual([]);
    expect(await store.listDatasets()).toEqual(before.datasets);
    expect(await store.getSchema('shop')).toEqual(before.schema);
    const [[count]] = (await store.execute(`SELECT count(*) FROM ${store.tableOf('shop')}`, [])) as [[bigint]];
    expect(count).toBe(3n);
  });

  it('answers not_found for an unknown dataset, with the hint to list datasets', async () => {
    const { store: events, statements } = recording(store);
    await expect(runQuery(events, 'nope', { calculations: [{ op: 'COUNT' }] }, T0)).rejects.toMatchObject({
      code: 'not_found',
      message: 'dataset "nope" does not exist',
      hint: expect.stringContaining('flagscope datasets'),
    });
    await expect(datasetColumns(events, 'nope')).rejects.toMatchObject({ code: 'not_found' });
    expect(statements).toEqual([]);
  });

  it('lists datasets and a dataset’s columns from the store', async () => {
    await seed();
    expect((await listDatasets(store)).map((d) => [d.name, d.rows, d.columns])).toEqual([['shop', 3, 3]]);
    const { columns } = await datasetColumns(store, 'shop');
    expect(columns.map((c) => [c.name, c.type])).toEqual([
      ['service', 'string'],
      ['duration_ms', 'integer'],
      ['note', 'string'],
    ]);
  });

  it('execute returns store-neutral rows: bigint for BIGINT, arrays for lists, Date for timestamps, numbers for decimals', async () => {
    const [row] = await store.execute(
      "SELECT 42::BIGINT, 1.5::DOUBLE, [1, 2]::INTEGER[], TIMESTAMP '2026-01-01 12:00:00', 1.25::DECIMAL(10, 2), 'x', NULL, true",
      [],
    );
    expect(row).toEqual([42n, 1.5, [1, 2], new Date(T0), 1.25, 'x', null, true]);
    const [bound] = await store.execute('SELECT $1::VARCHAR, $2::BIGINT', ['a', 7n]);
    expect(bound).toEqual(['a', 7n]);
  });
});
