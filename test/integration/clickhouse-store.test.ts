/**
 * The ClickHouse event store on chDB (ClickHouse's engine in-process), alone and under the real
 * server: columns grow and widen by the DuckDB store's rules, values that fit no column go to
 * `meta.mistyped`, the catalog survives a reopen, retention is a TTL and a delete, what the store
 * cannot do is refused with a clear error; the server ingests through `/1/batch`, answers
 * `/api/v1/query` and lists datasets; the canary controller measures a canary in it and rolls back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCanaryRepository } from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { runQuery } from '../../src/server/query/query-service.js';
import { openControlStore } from '../../src/store/duckdb/control-store.js';
import { openEventStoreAt } from '../../src/store/factory.js';
import type { ControlStore, EventStore } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
let dir: string;
let events: EventStore;
let control: ControlStore;
let clock = T0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-ch-store-'));
  events = await openEventStoreAt(`chdb:${join(dir, 'chdb')}`, { now: () => clock });
  control = await openControlStore({ path: join(dir, 'control.duckdb') });
});

afterAll(async () => {
  await Promise.allSettled([events?.close(), control?.close()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the ClickHouse event store', () => {
  it('adds columns as fields appear, widens integers to float, keeps misfits in meta.mistyped', async () => {
    const first = await events.ingest('grow', [
      { time: T0, samplerate: 1, data: { n: 1, name: 'a', ok: true } },
      { time: T0 + 1, samplerate: 4, data: { n: 2.5, later: 'x', 'http.route': '/a' } },
      { time: T0 + 2, samplerate: 1, data: { ok: 'not a boolean', _time: 'user field', 'we`ird\\name': 'quoted' } },
    ]);
    expect(first.map((o) => o.status)).toEqual([202, 202, 202]);
    expect(first[2]).toMatchObject({ warning: expect.stringMatching(/"ok" is boolean/) });
    const schema = await events.getSchema('grow');
    expect(Object.fromEntries(schema!.columns.map((c) => [c.name, c.type]))).toEqual({
      n: 'float',
      name: 'string',
      ok: 'boolean',
      later: 'string',
      'http.route': 'string',
      'meta.mistyped': 'string',
      'data._time': 'string',
      'we`ird\\name': 'string',
    });
    expect(schema!.hasSampling).toBe(true);
    const rows = await runQuery(
      events,
      'grow',
      { time_range: 3600, calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'n' }] },
      T0 + 1000,
    );
    expect(rows.data.results[0]!.data).toEqual({ COUNT: 6, 'SUM(n)': 11 });
    const weird = await runQuery(
      events,
      'grow',
      { time_range: 3600, calculations: [{ op: 'COUNT' }], filters: [{ column: 'we`ird\\name', op: '=', value: "quoted' OR 1=1 --" }] },
      T0 + 1000,
    );
    expect(weird.data.results[0]!.data).toEqual({ COUNT: 0 });
    const mistyped = await events.execute(
      `SELECT ${events.dialect.quoteIdent('meta.mistyped')} FROM ${events.dialect.quoteIdent(events.tableOf('grow')!)} WHERE ${events.dialect.quoteIdent('meta.mistyped')} IS NOT NULL`,
      [],
    );
    expect(mistyped).toEqual([['{"ok":"not a boolean"}']]);
  });

  it('refuses a bad event alone, a bad dataset name, and a column type change, changing nothing', async () => {
    const outcomes = await events.ingest('grow', [
      { time: Number.NaN, samplerate: 1, data: { n: 1 } },
      { time: T0 + 3, samplerate: 1, data: { N: 'case clash' } },
      { time: T0 + 4, samplerate: 1, data: { n: 3 } },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([400, 400, 202]);
    expect(outcomes[1]).toMatchObject({ error: expect.stringMatching(/differs only in letter case/) });
    await expect(events.ingest('bad name!', [{ time: T0, samplerate: 1, data: {} }])).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(events.setColumnType('grow', 'n', 'integer')).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/cannot change a column/),
    });
    expect((await events.getSchema('grow'))!.columns.find((c) => c.name === 'n')!.type).toBe('float');
  });

  it('acknowledges concurrent ingests once their insert returned: every acknowledged event is counted', async () => {
    const batches = Array.from({ length: 8 }, (_, b) =>
      events.ingest(
        'many',
        Array.from({ length: 250 }, (_, i) => ({ time: T0 + b * 1000 + i, samplerate: 1, data: { b, i } })),
      ),
    );
    const outcomes = (await Promise.all(batches)).flat();
    expect(outcomes.filter((o) => o.status === 202)).toHaveLength(2000);
    const [row] = await events.execute(`SELECT count() FROM ${events.dialect.quoteIdent(events.tableOf('many')!)}`, []);
    expect(row![0]).toBe(2000n);
    expect((await events.listDatasets()).find((d) => d.name === 'many')).toMatchObject({ rows: 2000, columns: 2 });
  });

  it('stores an OTLP export one event per span, in the dataset of its service, and refuses a bad span alone', async () => {
    const nanos = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
    const span = (spanId: string, extra: Record<string, unknown> = {}) => ({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId,
      name: 'GET /cart',
      kind: 2,
      startTimeUnixNano: nanos(T0),
      endTimeUnixNano: nanos(T0 + 25),
      attributes: [{ key: 'http.route', value: { stringValue: '/cart' } }],
      ...extra,
    });
    const body = Buffer.from(
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
            scopeSpans: [{ scope: { name: 'hand' }, spans: [span('eee19b7ec3c1b174'), span('eee19b7ec3c1b175', { traceId: 'zz' })] }],
          },
        ],
      }),
    );
    const outcome = await events.ingestOtlpTraces(body, {
      encoding: 'json',
      fallbackDataset: 'unknown',
      now: T0,
      maxEventBytes: 100_000,
      admit: () => {},
    });
    expect(outcome.refused).toEqual([{ span: 1, reason: expect.stringMatching(/trace/i) }]);
    const rows = await events.execute(
      `SELECT "trace.span_id", "duration_ms", "http.route", "library.name" FROM ${events.dialect.quoteIdent(events.tableOf('cart')!)}`,
      [],
    );
    expect(rows).toEqual([['eee19b7ec3c1b174', 25n, '/cart', 'hand']]);
  });

  it('deletes old events and datasets, sets a retention TTL, and describes sizes', async () => {
    expect(await events.deleteEventsBefore('many', T0 + 4000)).toEqual({ rows: 1000 });
    expect((await events.listDatasets()).find((d) => d.name === 'many')).toMatchObject({ rows: 1000 });
    await events.setRetention('many', 7 * 86_400_000);
    const table = events.tableOf('many')!;
    const [ddl] = await events.execute(
      'SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {p1:String}',
      [table],
    );
    expect(String(ddl![0])).toMatch(/TTL toDateTime\(_time\) \+ toIntervalSecond\(604800\)/);
    expect(String(ddl![0])).toMatch(/PARTITION BY toDate\(_time\)/);
    const described = await events.describeDatasets();
    expect(described.datasets.find((d) => d.name === 'many')).toMatchObject({ retention_ms: 604_800_000, rows: 1000 });
    expect(described.datasets.find((d) => d.name === 'many')!.size_bytes).toBeGreaterThan(0);
    expect(await events.deleteDataset('many')).toEqual({ rows: 1000 });
    expect(events.tableOf('many')).toBeUndefined();
    await expect(events.deleteDataset('many')).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('the server and the canary controller on a ClickHouse event store', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ port: 0, stores: { events, control }, now: () => clock });
  });

  afterAll(async () => {
    await server?.close();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: await res.json() };
  }

  it('ingests a batch and answers /api/v1/query and /api/v1/datasets', async () => {
    const batch = Array.from({ length: 40 }, (_, i) => ({
      time: new Date(T0 - 60_000 + i * 1000).toISOString(),
      samplerate: i % 2 === 0 ? 1 : 3,
      data: { service: i % 4 === 0 ? 'api' : 'web', duration_ms: 10 + i },
    }));
    const ingested = await call('POST', '/1/batch/web', batch);
    expect(ingested.status).toBe(200);
    expect(ingested.body.every((o: { status: number }) => o.status === 202)).toBe(true);
    const query = await call('POST', '/api/v1/query/web', {
      start_time: T0 / 1000 - 120,
      end_time: T0 / 1000,
      calculations: [{ op: 'COUNT' }, { op: 'P50', column: 'duration_ms' }],
      breakdowns: ['service'],
    });
    expect(query.status).toBe(200);
    // api: i = 0, 4, …, 36 (all even: sample rate 1) → 10 events; web: 10 even (×1) + 20 odd (×3) = 70.
    expect(query.body.data.results.map((r: { data: Record<string, unknown> }) => [r.data.service, r.data.COUNT])).toEqual([
      ['web', 70],
      ['api', 10],
    ]);
    const datasets = await call('GET', '/api/v1/datasets');
    expect(datasets.status).toBe(200);
    expect(JSON.stringify(datasets.body)).toContain('"web"');
    const bad = await call('POST', '/api/v1/query/web', { time_range: 60, calculations: [{ op: 'AVG', column: 'nope' }] });
    expect(bad.status).toBe(400);
  });

  it('lists raw events with every column and follows them after a cursor', async () => {
    const listed = await call('POST', '/api/v1/events/web', { start_time: T0 / 1000 - 120, end_time: T0 / 1000, limit: 2 });
    expect(listed.status).toBe(200);
    expect(listed.body.events.map((e: { data: unknown; samplerate: number }) => [e.samplerate, e.data])).toEqual([
      [3, { service: 'web', duration_ms: 49 }],
      [1, { service: 'web', duration_ms: 48 }],
    ]);
    const end = await call('POST', '/api/v1/events/web', { after: 'end' });
    expect(end.status).toBe(200);
    const more = [{ time: new Date(T0 - 1000).toISOString(), data: { service: 'late', duration_ms: 1 } }];
    expect((await call('POST', '/1/batch/web', more)).status).toBe(200);
    const followed = await call('POST', '/api/v1/events/web', { after: end.body.cursor, columns: ['service'] });
    expect(followed.status).toBe(200);
    expect(followed.body.events.map((e: { data: unknown }) => e.data)).toEqual([{ service: 'late' }]);
  });

  it('the canary controller measures the canary in ClickHouse and rolls back when it errs', async () => {
    const flags = await FlagService.open(control.flagStore(), () => clock);
    try {
      await flags.create(
        { key: 'checkout_v2', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
        'admin',
        'setup',
      );
      const send = async (at: number, count: number, variant: string, errors: number): Promise<void> => {
        const outcomes = await events.ingest(
          'checkout',
          Array.from({ length: count }, (_, i) => ({
            time: at + (i % 1000),
            samplerate: 1,
            data: { 'flag.checkout_v2': variant, status_code: i < errors ? 503 : 200, duration_ms: 100 + (i % 50) },
          })),
        );
        expect(outcomes.every((o) => o.status === 202)).toBe(true);
      };
      await send(clock - 60_000, 10, 'off', 0);
      const canaries = new CanaryService({ repository: new MemoryCanaryRepository(), events, flags, now: () => clock });
      await canaries.start(
        {
          flag: 'checkout_v2',
          dataset: 'checkout',
          variant: 'on',
          steps: [10, 50, 100],
          interval: '1m',
          minSample: 100,
          guards: ['RATE(status_code >= 500) <= +0.5pp'],
        },
        'ana',
      );
      clock += 5000;
      expect((await canaries.tick('checkout_v2')).kind).toBe('wait');
      await send(clock - 4000, 300, 'on', 30);
      await send(clock - 4000, 2700, 'off', 13);
      clock += 1000;
      const decision = await canaries.tick('checkout_v2');
      expect(decision.kind).toBe('rollback');
      // The same numbers as the DuckDB store gives (test/integration/canary-controller.test.ts): 10% vs 0.48…%.
      expect(decision.reason).toMatch(/^rolled back to 0%: RATE\(status_code >= 500\) <= \+0\.5pp: canary 10% vs control 0\.48\d*%/);
      expect(flags.get('checkout_v2').rollout?.weights.find((w) => w.variant === 'on')?.weight).toBe(0);
      expect((await canaries.get('checkout_v2')).state).toMatchObject({ status: 'rolled-back', percent: 0 });
    } finally {
      flags.close();
    }
  });
});

describe('reopening', () => {
  it('loads datasets, columns and figures back from ClickHouse', async () => {
    const before = await events.listDatasets();
    const schema = await events.getSchema('grow');
    await events.close();
    events = await openEventStoreAt(`chdb:${join(dir, 'chdb')}`, { now: () => clock });
    expect(await events.listDatasets()).toEqual(before);
    expect((await events.getSchema('grow'))!.columns.map((c) => [c.name, c.type, c.created_at])).toEqual(
      schema!.columns.map((c) => [c.name, c.type, c.created_at]),
    );
  });
});
