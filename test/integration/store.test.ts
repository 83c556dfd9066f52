import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import {
  DEFAULT_STORE_LIMITS,
  openEventStore,
  validateDatasetName,
  type DuckDbEventStore,
  type StoreLimits,
} from '../../src/store/duckdb/event-store.js';
import { runQuery } from '../../src/server/query/query-service.js';
import type { IncomingEvent } from '../../src/store/types.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

let dir: string;
let path: string;
const open: DuckDbEventStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-store-'));
  path = join(dir, 'events.duckdb');
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function openStore(limits?: Partial<StoreLimits>): Promise<DuckDbEventStore> {
  const store = await openEventStore({ path, limits, now: () => T0 });
  open.push(store);
  return store;
}

async function closeStore(store: DuckDbEventStore): Promise<void> {
  await store.close();
  open.splice(open.indexOf(store), 1);
}

function event(data: Record<string, unknown>, offsetMs = 0, samplerate = 1): IncomingEvent {
  return { time: T0 + offsetMs, samplerate, data };
}

/** All rows of a dataset in time order, as objects of the named columns. */
async function rowsOf(store: DuckDbEventStore, dataset: string, columns: string[]): Promise<Array<Record<string, unknown>>> {
  const table = store.tableOf(dataset);
  if (table === undefined) throw new Error(`no dataset ${dataset}`);
  const list = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
  const rows = await store.execute(`SELECT ${list} FROM ${table} ORDER BY _time, rowid`);
  return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

async function typesOf(store: DuckDbEventStore, dataset: string): Promise<Record<string, string>> {
  const schema = await store.getSchema(dataset);
  return Object.fromEntries((schema?.columns ?? []).map((c) => [c.name, c.type]));
}

describe('dataset names', () => {
  it('accepts ordinary names and rejects hostile ones with invalid_input', () => {
    for (const ok of ['web', 'my-service.prod', 'A_1', '9lives']) expect(() => validateDatasetName(ok)).not.toThrow();
    for (const bad of ['', '-x', '.hidden', 'a b', 'x"; DROP TABLE t; --', 'ü', 'a'.repeat(129), 'a/b']) {
      let caught: unknown;
      try {
        validateDatasetName(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(FlagscopeError);
      expect((caught as FlagscopeError).code).toBe('invalid_input');
    }
  });

  it('ingest rejects an invalid dataset name without creating anything', async () => {
    const store = await openStore();
    await expect(store.ingest('bad name', [event({ a: 1 })])).rejects.toMatchObject({ code: 'invalid_input' });
    expect(await store.listDatasets()).toEqual([]);
  });
});

describe('type rules', () => {
  it('creates columns as fields are first seen, with the first value deciding the type', async () => {
    const store = await openStore();
    await store.ingest('web', [event({ service: 'api', status: 200, duration_ms: 12.5, ok: true, empty: null })]);
    expect(await typesOf(store, 'web')).toEqual({ service: 'string', status: 'integer', duration_ms: 'float', ok: 'boolean' });
    await store.ingest('web', [event({ region: 'eu', status: 500 }, 1000)]);
    const schema = await store.getSchema('web');
    expect(schema?.columns.map((c) => c.name)).toEqual(['service', 'status', 'duration_ms', 'ok', 'region']);
    expect(schema?.hasSampling).toBe(false);
    const rows = await rowsOf(store, 'web', ['_time', '_samplerate', 'service', 'status', 'duration_ms', 'ok', 'region']);
    expect(rows).toEqual([
      { _time: new Date(T0), _samplerate: 1n, service: 'api', status: 200n, duration_ms: 12.5, ok: true, region: null },
      { _time: new Date(T0 + 1000), _samplerate: 1n, service: null, status: 500n, duration_ms: null, ok: null, region: 'eu' },
    ]);
    const [info] = await store.listDatasets();
    expect(info).toEqual({ name: 'web', rows: 2, columns: 5, last_event_time: new Date(T0 + 1000).toISOString() });
  });

  it('keeps microsecond event times and marks sampled datasets', async () => {
    const store = await openStore();
    await store.ingest('web', [event({ a: 1 }, 0.123, 10)]);
    const [row] = await store.execute(`SELECT epoch_us(_time), _samplerate FROM ${store.tableOf('web')}`);
    expect(row).toEqual([BigInt(T0) * 1000n + 123n, 10n]);
    expect((await store.getSchema('web'))?.hasSampling).toBe(true);
  });

  it('widens integer to float and keeps every earlier value', async () => {
    const store = await openStore();
    await store.ingest('w', [event({ v: 1 }), event({ v: -7 }, 1)]);
    await store.ingest('w', [event({ v: 2.5 }, 2), event({ v: 4 }, 3)]);
    expect(await typesOf(store, 'w')).toEqual({ v: 'float' });
    expect((await rowsOf(store, 'w', ['v'])).map((r) => r.v)).toEqual([1, -7, 2.5, 4]);
  });

  it('keeps a numeric column numeric: a string is stored NULL there, kept in meta.mistyped, counted and warned about', async () => {
    const store = await openStore();
    await store.ingest('w', [event({ n: 42, f: 1.5 })]);
    const outcomes = await store.ingest('w', [event({ n: 'forty-two', f: 'x' }, 1), event({ n: 7, f: 0.25 }, 2)]);
    expect(outcomes[1]).toEqual({ status: 202 });
    expect(outcomes[0]).toMatchObject({ status: 202, warning: expect.stringContaining('"n" is integer, got the string "forty-two"') });
    expect(await typesOf(store, 'w')).toEqual({ n: 'integer', f: 'float', 'meta.mistyped': 'string' });
    expect(await rowsOf(store, 'w', ['n', 'f', 'meta.mistyped'])).toEqual([
      { n: 42n, f: 1.5, 'meta.mistyped': null },
      { n: null, f: null, 'meta.mistyped': '{"n":"forty-two","f":"x"}' },
      { n: 7n, f: 0.25, 'meta.mistyped': null },
    ]);
    const counts = Object.fromEntries((await store.getSchema('w'))!.columns.map((c) => [c.name, c.mistyped]));
    expect(counts).toEqual({ n: 1, f: 1, 'meta.mistyped': undefined });
  });

  it('keeps a boolean column boolean; a string column keeps later booleans and numbers as text', async () => {
    const store = await openStore();
    await store.ingest('w', [event({ b: true, s: 'text' }), event({ b: false, s: 'more' }, 1)]);
    await store.ingest('w', [event({ b: 'maybe', s: 12 }, 2), event({ b: true, s: false }, 3), event({ b: 1, s: { k: 1 } }, 4)]);
    expect(await typesOf(store, 'w')).toEqual({ b: 'boolean', s: 'string', 'meta.mistyped': 'string' });
    expect(await rowsOf(store, 'w', ['b', 's', 'meta.mistyped'])).toEqual([
      { b: true, s: 'text', 'meta.mistyped': null },
      { b: false, s: 'more', 'meta.mistyped': null },
      { b: null, s: '12', 'meta.mistyped': '{"b":"maybe"}' },
      { b: true, s: 'false', 'meta.mistyped': null },
      { b: null, s: '{"k":1}', 'meta.mistyped': '{"b":1}' },
    ]);
  });

  it('within one batch the first value decides a new column; integer+float widens to float', async () => {
    const store = await openStore();
    const outcomes = await store.ingest('w', [event({ x: 1, y: true }), event({ x: 2.5, y: 3 }, 1)]);
    expect(outcomes[0]).toEqual({ status: 202 });
    expect(outcomes[1]).toMatchObject({ status: 202, warning: expect.stringContaining('"y" is boolean') });
    expect(await typesOf(store, 'w')).toEqual({ x: 'float', y: 'boolean', 'meta.mistyped': 'string' });
    expect(await rowsOf(store, 'w', ['x', 'y', 'meta.mistyped'])).toEqual([
      { x: 1, y: true, 'meta.mistyped': null },
      { x: 2.5, y: null, 'meta.mistyped': '{"y":3}' },
    ]);
  });

  it('stores a user field named meta.mistyped as data.meta.mistyped', async () => {
    const store = await openStore();
    await store.ingest('w', [event({ 'meta.mistyped': 'mine', n: 1 }), event({ n: 'x' }, 1)]);
    expect(await typesOf(store, 'w')).toEqual({ 'data.meta.mistyped': 'string', n: 'integer', 'meta.mistyped': 'string' });
    expect(await rowsOf(store, 'w', ['data.meta.mistyped', 'n', 'meta.mistyped'])).toEqual([
      { 'data.meta.mistyped': 'mine', n: 1n, 'meta.mistyped': null },
      { 'data.meta.mistyped': null, n: null, 'meta.mistyped': '{"n":"x"}' },
    ]);
    expect((await store.ingest('w', [event({ 'meta.mistyped': 'a', 'data.meta.mistyped': 'b' })]))[0]).toMatchObject({ status: 400 });
  });

  it('stores large integers exactly as BIGINT and values beyond 64 bits as float or text', async () => {
    const store = await openStore();
    await store.ingest('w', [
      event({ big: 2 ** 53 + 2, neg: -(2 ** 60), huge: 1e20, exact: 12345678901234567890n }),
      event({ big: -1, neg: 5 }, 1),
    ]);
    expect(await typesOf(store, 'w')).toEqual({ big: 'integer', neg: 'integer', huge: 'float', exact: 'string' });
    expect(await rowsOf(store, 'w', ['big', 'neg', 'huge', 'exact'])).toEqual([
      { big: 9007199254740994n, neg: -1152921504606846976n, huge: 1e20, exact: '12345678901234567890' },
      { big: -1n, neg: 5n, huge: null, exact: null },
    ]);
  });

  it('stores nested objects and arrays as JSON text and skips nulls', async () => {
    const store = await openStore();
    await store.ingest('w', [event({ obj: { a: [1, { b: 'c' }] }, arr: [1, 'two'], gone: null })]);
    expect(await typesOf(store, 'w')).toEqual({ obj: 'string', arr: 'string' });
    expect(await rowsOf(store, 'w', ['obj', 'arr'])).toEqual([{ obj: '{"a":[1,{"b":"c"}]}', arr: '[1,"two"]' }]);
  });

  it('round-trips hostile field names and values', async () => {
    const store = await openStore();
    const names = [
      'x"; DROP TABLE flagscope_datasets; --',
      "it's",
      'with space',
      'ünïcödé 名前',
      'emoji 🚀',
      '"',
      '""',
      'a.b.c',
      'select',
      'rowid',
      'x'.repeat(256),
    ];
    const values = [
      "'); DELETE FROM x; --",
      'nul\u0000inside',
      'short\u0000',
      'ümlaut',
      'ééééééé',
      '🚀🚀🚀',
      '',
      ' '.repeat(13),
      'x'.repeat(5000),
      '\\"\n\t',
      'lone \ud800 surrogate',
    ];
    const data: Record<string, unknown> = {};
    names.forEach((name, i) => (data[name] = values[i % values.length]));
    const second: Record<string, unknown> = {};
    values.forEach((value, i) => (second[`v${i}`] = value));
    const outcomes = await store.ingest('hostile', [event(data), event(second, 1)]);
    expect(outcomes).toEqual([{ status: 202 }, { status: 202 }]);
    const [first] = await rowsOf(store, 'hostile', names);
    // Lone surrogates cannot be UTF-8: they become U+FFFD, everything else is exact.
    const asUtf8 = (value: string): string => value.replace('\ud800', '\ufffd');
    expect(first).toEqual(Object.fromEntries(names.map((name, i) => [name, asUtf8(values[i % values.length]!)])));
    const [, stored] = await rowsOf(
      store,
      'hostile',
      values.map((_, i) => `v${i}`),
    );
    expect(Object.values(stored!)).toEqual(values.map(asUtf8));
    expect((await store.listDatasets()).map((d) => d.name)).toEqual(['hostile']);
  });

  it('stores user fields named _time and _samplerate as data._time and data._samplerate', async () => {
    const store = await openStore();
    const outcomes = await store.ingest('w', [
      event({ _time: 'user time', _samplerate: 3 }, 0, 2),
      event({ _time: 'a', 'data._time': 'b' }, 1),
    ]);
    expect(outcomes[0]).toEqual({ status: 202 });
    expect(outcomes[1]).toMatchObject({ status: 400, error: expect.stringContaining('data._time') });
    expect(await typesOf(store, 'w')).toEqual({ 'data._time': 'string', 'data._samplerate': 'integer' });
    const [row] = await rowsOf(store, 'w', ['_samplerate', 'data._time', 'data._samplerate']);
    expect(row).toEqual({ _samplerate: 2n, 'data._time': 'user time', 'data._samplerate': 3n });
  });

  it('rejects invalid field names and case-only clashes per event, storing the others', async () => {
    const store = await openStore();
    const outcomes = await store.ingest('w', [
      event({ Duration: 1 }),
      event({ '': 1 }, 1),
      event({ 'bad\nname': 1 }, 2),
      event({ ['x'.repeat(257)]: 1 }, 3),
      event({ duration: 2 }, 4),
      event({ Duration: 3 }, 5),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([202, 400, 400, 400, 400, 202]);
    expect(outcomes[4]).toMatchObject({ error: expect.stringContaining('letter case') });
    expect((await rowsOf(store, 'w', ['Duration'])).map((r) => r.Duration)).toEqual([1n, 3n]);
  });

  it('rejects only the events that would exceed the column limit, saying what to do', async () => {
    const store = await openStore({ maxColumnsPerDataset: 4 });
    const outcomes = await store.ingest('w', [
      event({ a: 1, b: 2 }),
      event({ c: 3, d: 4, e: 5 }, 1),
      event({ a: 6, c: 7 }, 2),
      event({ c: 8, d: 9 }, 3),
      event({ z: 1 }, 4),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([202, 400, 202, 202, 400]);
    expect(outcomes[1]).toMatchObject({ error: expect.stringMatching(/limit of 4 columns/) });
    expect((await store.listDatasets())[0]).toMatchObject({ rows: 3, columns: 4 });
    expect(await rowsOf(store, 'w', ['a', 'b', 'c', 'd'])).toEqual([
      { a: 1n, b: 2n, c: null, d: null },
      { a: 6n, b: null, c: 7n, d: null },
      { a: null, b: null, c: 8n, d: 9n },
    ]);
    expect(DEFAULT_STORE_LIMITS.maxColumnsPerDataset).toBe(2000);
  });

  it('rejects events with a bad time or sample rate per item', async () => {
    const store = await openStore();
    const outcomes = await store.ingest('w', [
      { time: Number.NaN, samplerate: 1, data: { a: 1 } },
      { time: T0, samplerate: 0, data: { a: 1 } },
      { time: T0, samplerate: 1.5, data: { a: 1 } },
      { time: T0, samplerate: 1, data: { a: 1 } },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([400, 400, 400, 202]);
  });

  it('commits concurrent ingests in fewer transactions than calls, across datasets', async () => {
    const store = await openStore();
    const calls = 60;
    const results = await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        store.ingest(i % 3 === 0 ? 'a' : 'b', [event({ i, [`only_${i % 5}`]: i * 1.5 }, i), event({ i: -i }, i + 0.5)]),
      ),
    );
    expect(results.every((r) => r.length === 2 && r.every((o) => o.status === 202))).toBe(true);
    const stats = store.stats();
    expect(stats.requests).toBe(calls);
    expect(stats.events).toBe(calls * 2);
    expect(stats.transactions).toBeLessThan(calls);
    expect(stats.transactions).toBeGreaterThan(0);
    const counts = await Promise.all(['a', 'b'].map((d) => store.execute(`SELECT count(*), sum(i) FROM ${store.tableOf(d)}`)));
    expect(counts.map((r) => r[0])).toEqual([
      [40n, 0n],
      [80n, 0n],
    ]);
    expect(store.pressure()).toEqual({ queuedEvents: 0, max: DEFAULT_STORE_LIMITS.maxQueuedEvents });
  });

  it('refuses ingest with overloaded when the queue is full, and accepts again once drained', async () => {
    const store = await openStore({ maxQueuedEvents: 10 });
    const first = store.ingest(
      'w',
      Array.from({ length: 8 }, (_, i) => event({ i }, i)),
    );
    expect(store.pressure()).toEqual({ queuedEvents: 8, max: 10 });
    await expect(store.ingest('w', [event({ i: 9 }), event({ i: 10 }), event({ i: 11 })])).rejects.toMatchObject({
      code: 'overloaded',
    });
    await first;
    expect(store.pressure().queuedEvents).toBe(0);
    expect(
      await store.ingest(
        'w',
        Array.from({ length: 10 }, (_, i) => event({ i }, i)),
      ),
    ).toHaveLength(10);
  });

  it('keeps datasets, columns, types and rows after close and reopen', async () => {
    const store = await openStore();
    await store.ingest('one', [event({ s: 'x', n: 1 }), event({ n: 2.5, b: true }, 1)]);
    await store.ingest('two', [event({ other: 'y' }, 5)]);
    await store.ingest('one', [event({ n: 'text' }, 2)]);
    const before = { datasets: await store.listDatasets(), schema: await store.getSchema('one') };
    await closeStore(store);
    await expect(store.ingest('one', [event({ s: 'late' })])).rejects.toBeInstanceOf(FlagscopeError);

    const reopened = await openStore();
    expect(await reopened.listDatasets()).toEqual(before.datasets);
    expect(await reopened.getSchema('one')).toEqual(before.schema);
    expect(await rowsOf(reopened, 'one', ['s', 'n', 'b', 'meta.mistyped'])).toEqual([
      { s: 'x', n: 1, b: null, 'meta.mistyped': null },
      { s: null, n: 2.5, b: true, 'meta.mistyped': null },
      { s: null, n: null, b: null, 'meta.mistyped': '{"n":"text"}' },
    ]);
    await reopened.ingest('three', [event({ z: 1 })]);
    expect((await reopened.listDatasets()).map((d) => d.name)).toEqual(['one', 'three', 'two']);
    expect(await rowsOf(reopened, 'three', ['z'])).toEqual([{ z: 1n }]);
  });

  it('answers not_found with a hint for an unknown dataset query', async () => {
    const store = await openStore();
    await expect(runQuery(store, 'nope', { calculations: [{ op: 'COUNT' }] }, T0)).rejects.toMatchObject({
      code: 'not_found',
      hint: expect.stringContaining('flagscope datasets'),
    });
  });

  it('answers weighted COUNT, AVG and P99 by breakdown, matching values computed here', async () => {
    const store = await openStore();
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const services = ['api', 'web', 'db'];
    const events: IncomingEvent[] = [];
    for (let i = 0; i < 600; i++) {
      const samplerate = random() < 0.2 ? 10 : 1;
      const data: Record<string, unknown> = { service: services[i % 3], duration_ms: Math.round(random() * 100000) / 100 };
      events.push(event(data, i * 1000, samplerate));
    }
    // Outside the queried range: must not count.
    events.push(event({ service: 'api', duration_ms: 1e6 }, -3_600_000));
    await Promise.all([store.ingest('q', events.slice(0, 300)), store.ingest('q', events.slice(300))]);

    const now = T0 + 600_000;
    const result = await runQuery(
      store,
      'q',
      {
        calculations: [{ op: 'COUNT' }, { op: 'AVG', column: 'duration_ms' }, { op: 'P99', column: 'duration_ms' }],
        breakdowns: ['service'],
        time_range: 1800,
      },
      now,
    );
    expect(result.meta.calculations).toEqual(['COUNT', 'AVG(duration_ms)', 'P99(duration_ms)']);
    expect(result.meta.breakdowns).toEqual(['service']);
    expect(result.meta.dataset).toBe('q');
    expect(result.meta.duration_ms).toBeGreaterThan(0);
    expect(result.query.end_time).toBe(Math.floor(now / 1000));

    const inRange = events.filter((e) => e.time >= T0 - 1_200_000);
    const expected = services.map((service) => {
      const mine = inRange.filter((e) => e.data.service === service);
      const count = mine.reduce((sum, e) => sum + e.samplerate, 0);
      const total = mine.reduce((sum, e) => sum + e.samplerate * (e.data.duration_ms as number), 0);
      // Weighted percentile: each event counts samplerate times, then linear interpolation at (W - 1) * q.
      const expanded = mine.flatMap((e) => Array.from({ length: e.samplerate }, () => e.data.duration_ms as number)).sort((a, b) => a - b);
      const h = (expanded.length - 1) * 0.99;
      const lower = expanded[Math.floor(h)]!;
      const upper = expanded[Math.ceil(h)]!;
      return { service, count, avg: total / count, p99: lower + (h - Math.floor(h)) * (upper - lower) };
    });
    const rows = new Map(result.data.results.map((row) => [row.data.service, row.data]));
    expect(rows.size).toBe(3);
    for (const want of expected) {
      const got = rows.get(want.service)!;
      expect(got.COUNT).toBe(want.count);
      expect(got['AVG(duration_ms)'] as number).toBeCloseTo(want.avg, 6);
      expect(got['P99(duration_ms)'] as number).toBeCloseTo(want.p99, 6);
    }
  });

  it('rejects a query on an unknown column with invalid_input', async () => {
    const store = await openStore();
    await store.ingest('q', [event({ duration_ms: 1 })]);
    await expect(runQuery(store, 'q', { calculations: [{ op: 'AVG', column: 'durration_ms' }] }, T0)).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  it('answers queries while ingest keeps committing', async () => {
    const store = await openStore();
    await store.ingest('live', [event({ n: 0 })]);
    const writes = Array.from({ length: 20 }, (_, i) => store.ingest('live', [event({ n: i + 1 }, i + 1)]));
    const reads = Array.from({ length: 5 }, () =>
      runQuery(store, 'live', { calculations: [{ op: 'COUNT' }], time_range: 60 }, T0 + 30_000),
    );
    const answers = await Promise.all(reads);
    await Promise.all(writes);
    for (const answer of answers) {
      const count = answer.data.results[0]?.data.COUNT as number;
      expect(count).toBeGreaterThanOrEqual(1);
      expect(count).toBeLessThanOrEqual(21);
    }
    const final = await runQuery(store, 'live', { calculations: [{ op: 'COUNT' }], time_range: 60 }, T0 + 30_000);
    expect(final.data.results[0]?.data.COUNT).toBe(21);
  });

  it('stores a batch larger than one data chunk exactly, with sparse fields and mixed string lengths', async () => {
    const store = await openStore();
    const count = 5000;
    const events = Array.from({ length: count }, (_, i) => {
      const data: Record<string, unknown> = { i, label: i % 3 === 0 ? `s${i}` : `a much longer label number ${i}` };
      if (i % 7 === 0) data.sparse = i * 0.5;
      if (i % 11 === 0) data.flag = i % 2 === 0;
      return event(data, i);
    });
    const outcomes = await store.ingest('big', events);
    expect(outcomes.every((o) => o.status === 202)).toBe(true);
    const [row] = await store.execute(
      `SELECT count(*), sum(i), count(sparse), sum(sparse), count(flag), count(*) FILTER (WHERE flag), sum(length(label)) FROM ${store.tableOf('big')}`,
    );
    const expected = {
      sumI: events.reduce((sum, e) => sum + (e.data.i as number), 0),
      sparse: events.filter((e) => e.data.sparse !== undefined),
      flags: events.filter((e) => e.data.flag !== undefined),
      labelLength: events.reduce((sum, e) => sum + (e.data.label as string).length, 0),
    };
    expect(row).toEqual([
      BigInt(count),
      BigInt(expected.sumI),
      BigInt(expected.sparse.length),
      expected.sparse.reduce((sum, e) => sum + (e.data.sparse as number), 0),
      BigInt(expected.flags.length),
      BigInt(expected.flags.filter((e) => e.data.flag === true).length),
      BigInt(expected.labelLength),
    ]);
    const [last] = await store.execute(`SELECT label, sparse, flag FROM ${store.tableOf('big')} WHERE i = 4999`);
    expect(last).toEqual(['a much longer label number 4999', null, null]);
  });

  it('close() lets queries and queued ingests in flight finish, then refuses new ones', async () => {
    const store = await openStore();
    await store.ingest('c', [event({ n: 1 })]);
    const query = runQuery(store, 'c', { calculations: [{ op: 'COUNT' }], time_range: 60 }, T0 + 1000);
    const late = store.ingest('c', [event({ n: 2 }, 1)]);
    await closeStore(store);
    expect((await query).data.results[0]?.data.COUNT).toBeGreaterThanOrEqual(1);
    expect(await late).toEqual([{ status: 202 }]);
    await expect(runQuery(store, 'c', { calculations: [{ op: 'COUNT' }] }, T0)).rejects.toMatchObject({ code: 'server_error' });
    const reopened = await openStore();
    expect((await reopened.listDatasets())[0]?.rows).toBe(2);
  });

  it('puts every value in its own column whatever the field order, subsets and nulls of consecutive events', async () => {
    const store = await openStore();
    const shapes: Array<Record<string, unknown>> = [
      { a: 1, b: 'x', c: true },
      { a: 2, b: 'y', c: false },
      { b: 'z', a: 3, c: null },
      { a: 4, c: true },
      { a: 5, b: null, c: false, d: 0.5 },
      { d: 1.5, c: true, b: 'w', a: 6 },
      { a: 7, b: 'v', c: true, d: 2.5 },
      { a: 8 },
      { a: 9, b: 'u', c: false, d: 3.5 },
    ];
    await store.ingest(
      'shapes',
      shapes.slice(0, 4).map((data, i) => event(data, i)),
    );
    await store.ingest(
      'shapes',
      shapes.slice(4).map((data, i) => event(data, i + 4)),
    );
    const rows = await rowsOf(store, 'shapes', ['a', 'b', 'c', 'd']);
    expect(rows).toEqual(
      shapes.map((data) => ({
        a: BigInt(data.a as number),
        b: data.b ?? null,
        c: data.c ?? null,
        d: data.d ?? null,
      })),
    );
  });

  it('stores repeated long strings exactly (they share one string slot per chunk)', async () => {
    const store = await openStore();
    const count = 3000;
    const events = Array.from({ length: count }, (_, i) =>
      event(
        {
          host: `host-number-${i % 7}.example.internal`,
          note: i % 5 === 0 ? 'nul\u0000inside a long repeated value' : `ünïcode value repeated ${i % 3}`,
          id: `unique-identifier-${i}-${(i * 7919) % 10007}`,
        },
        i,
      ),
    );
    await store.ingest('repeats', events);
    const rows = await rowsOf(store, 'repeats', ['host', 'note', 'id']);
    expect(rows).toEqual(events.map((e) => e.data));
  });

  it('falls back to one transaction per request when a group fails, so one bad request cannot fail the others', async () => {
    const store = await openStore();
    await store.ingest('broken', [event({ n: 1 })]);
    await store.ingest('healthy', [event({ n: 1 })]);
    // Break one dataset behind the store's back: its next append fails inside the transaction.
    await store.execute(`DROP TABLE ${store.tableOf('broken')}`);
    const [broken, healthy, alsoHealthy] = await Promise.allSettled([
      store.ingest('broken', [event({ n: 2 }, 1)]),
      store.ingest('healthy', [event({ n: 2 }, 1)]),
      store.ingest('healthy', [event({ n: 3 }, 2)]),
    ]);
    expect(broken).toMatchObject({ status: 'rejected', reason: { code: 'server_error' } });
    expect(healthy).toEqual({ status: 'fulfilled', value: [{ status: 202 }] });
    expect(alsoHealthy).toEqual({ status: 'fulfilled', value: [{ status: 202 }] });
    expect(store.stats().groupFallbacks).toBe(1);
    expect((await rowsOf(store, 'healthy', ['n'])).map((r) => r.n)).toEqual([1n, 2n, 3n]);
    expect(store.pressure().queuedEvents).toBe(0);
  });
});
