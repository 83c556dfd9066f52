/**
 * `POST /1/batch` through the ingest worker threads (src/store/duckdb/ingest-pool.ts,
 * loaded from dist/: run `npm run build` first) against the same server
 * without workers: for the same bodies, plain and gzip, both servers must
 * answer alike item by item and end up with the same stored data.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanBatch, scanSchemaOf, type ScanResult } from '../../src/store/duckdb/batch-scanner.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { IngestPool } from '../../src/store/duckdb/ingest-pool.js';
import { openEventStore, type DuckDbEventStore } from '../../src/store/duckdb/event-store.js';
import type { ColumnType } from '../../src/query/schema.js';
import { mulberry32 } from '../fixtures/random.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MAX_EVENT_BYTES = 2000;
const DATASETS = ['web', 'jobs'];

interface Side {
  dir: string;
  server: RunningServer | undefined;
  key: string;
  log: string[];
}

const withWorkers: Side = { dir: '', server: undefined, key: '', log: [] };
const withoutWorkers: Side = { dir: '', server: undefined, key: '', log: [] };

async function start(side: Side, ingestWorkers: number): Promise<void> {
  side.dir = await mkdtemp(join(tmpdir(), `flagscope-workers-${ingestWorkers}-`));
  side.server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: side.dir,
    now: () => T0,
    ingestWorkers,
    ingestWorkerMinBytes: 0,
    limits: { maxEventBytes: MAX_EVENT_BYTES },
    log: (line) => side.log.push(line),
  });
  side.key = side.server.adminKey!;
}

async function stop(side: Side): Promise<void> {
  await side.server?.close();
  side.server = undefined;
}

beforeAll(async () => {
  await Promise.all([start(withWorkers, 2), start(withoutWorkers, 0)]);
});

afterAll(async () => {
  await Promise.all([stop(withWorkers), stop(withoutWorkers)]);
  for (const side of [withWorkers, withoutWorkers]) if (side.dir !== '') await rm(side.dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: unknown;
}

async function post(side: Side, path: string, body: Buffer, gzip: boolean): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${side.key}`, 'content-type': 'application/json' };
  if (gzip) headers['content-encoding'] = 'gzip';
  const res = await fetch(side.server!.url + path, { method: 'POST', headers, body: gzip ? gzipSync(body) : body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function get(side: Side, path: string): Promise<unknown> {
  const res = await fetch(side.server!.url + path, { headers: { authorization: `Bearer ${side.key}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** Sends `body` to both servers and checks that they answer alike; returns the answer. */
async function sendBoth(dataset: string, body: Buffer, gzip = false): Promise<Answer> {
  const [a, b] = await Promise.all([
    post(withWorkers, `/1/batch/${dataset}`, body, gzip),
    post(withoutWorkers, `/1/batch/${dataset}`, body, gzip),
  ]);
  expect(a, body.toString('utf8').slice(0, 1000)).toEqual(b);
  return a;
}

/** Random batch bodies as bytes: known fields, odd spacing, escapes, raw and invalid UTF-8, bad times and sample rates. */
function randomBody(random: () => number, round: number, stable = false): Buffer {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const ws = (): string => (random() < 0.7 ? '' : pick([' ', '\n', '\t ', '\r\n  ']));
  const text = (): Buffer =>
    Buffer.concat([
      Buffer.from('"'),
      ...Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        pick<() => Buffer>([
          () => Buffer.from(pick(['GET', '/api/items', 'checkout', 'a-rather-long-repeated-route-name', ''])),
          () => Buffer.from(pick(['\\"', '\\\\', '\\n', '\\u00e9', '\\ud83d\\ude00', '\\u0000', '\\/'])),
          () => Buffer.from(pick(['é', '日本', '😀'])),
          () => Buffer.from(pick([[0xff], [0xc3], [0xe2, 0x82]])),
          () => Buffer.from('x'.repeat(Math.floor(random() * 60))),
        ])(),
      ),
      Buffer.from('"'),
    ]);
  const number = (): string =>
    pick([
      '0',
      '-0',
      '1.5',
      '1e3',
      '0.1',
      '123456789012345',
      '1234567890123456789',
      '9223372036854774784',
      String(Math.floor(random() * 1e6)),
      (random() * 1000).toFixed(3),
    ]);
  const integer = (): string => pick(['0', '-0', '1.0', '1e3', String(Math.floor(random() * 1e6) - 500_000), '9223372036854774784']);
  const fields: Array<[string, () => Buffer | string]> = [
    ['route', text],
    ['status', integer],
    ['duration_ms', number],
    ['ok', () => pick(['true', 'false'])],
    ['meta', () => pick(['{"a": [1, 2, {"b": "é"}]}', '[ ]', '{ "k" : null , "k" : 2 }', '[1.50, "x\\"y", true]'])],
    ['user', () => (random() < 0.5 ? text() : 'null')],
  ];
  const items: Buffer[] = [];
  const count = Math.floor(random() * (round % 5 === 0 ? 400 : 30));
  for (let n = 0; n < count; n++) {
    const parts: Buffer[] = [Buffer.from(`{${ws()}`)];
    const chosen = fields.filter(() => random() < 0.75);
    // New columns and widenings, but not in bodies sent concurrently (the order of their commits may differ).
    if (!stable && random() < 0.01) chosen.push([`new_${round}`, () => '1']);
    if (!stable && random() < 0.005) chosen.push(['status', () => '2.5']);
    if (random() < 0.003) chosen.push(['route', () => `"${'h'.repeat(3000)}"`]);
    chosen.forEach(([name, value], k) => {
      if (k > 0) parts.push(Buffer.from(`${ws()},${ws()}`));
      parts.push(Buffer.from(`${JSON.stringify(name)}${ws()}:${ws()}`));
      const v = value();
      parts.push(typeof v === 'string' ? Buffer.from(v) : v);
    });
    parts.push(Buffer.from(`${ws()}}`));
    const item: string[] = [`"data"${ws()}:${ws()}@DATA@`];
    if (random() < 0.3) {
      const seconds = Math.floor(T0 / 1000) - Math.floor(random() * 3600);
      item.push(
        `"time":${ws()}${pick([String(seconds), `${seconds}.25`, JSON.stringify(new Date(seconds * 1000).toISOString()), '"soon"', '-1', 'null', '""', '1e16'])}`,
      );
    }
    if (random() < 0.2) item.push(`"samplerate":${pick(['1', '5', '"2"', '0', '1.5', 'null'])}`);
    if (random() < 0.5) item.reverse();
    const [before, after] = `{${ws()}${item.join(`${ws()},${ws()}`)}${ws()}}`.split('@DATA@') as [string, string];
    items.push(Buffer.concat([Buffer.from(before), ...parts, Buffer.from(after)]));
  }
  const joined: Buffer[] = [Buffer.from(`${ws()}[${ws()}`)];
  items.forEach((item, k) => {
    if (k > 0) joined.push(Buffer.from(`${ws()},${ws()}`));
    joined.push(item);
  });
  joined.push(Buffer.from(`${ws()}]${ws()}`));
  return Buffer.concat(joined);
}

/** Every row of a dataset, serialised and sorted. */
async function tableRows(store: DuckDbEventStore, dataset: string): Promise<string[]> {
  const table = store.tableOf(dataset);
  if (table === undefined) return [];
  const rows = await store.execute(`SELECT epoch_us(_time) AS _time_us, * EXCLUDE (_time) FROM ${table}`);
  const cell = (value: unknown): string =>
    typeof value === 'bigint'
      ? `${value}n`
      : typeof value === 'number'
        ? Object.is(value, -0)
          ? '-0'
          : String(value)
        : JSON.stringify(value);
  return rows.map((row) => row.map(cell).join('|')).sort();
}

/** How the scanner judges `body` against the dataset's columns as the server with workers lists them now. */
async function scanOnServerColumns(dataset: string, body: Buffer): Promise<ScanResult['kind']> {
  const { columns } = (await get(withWorkers, `/api/v1/datasets/${dataset}/columns`)) as {
    columns: Array<{ name: string; type: ColumnType }>;
  };
  const fields: Array<[string, number]> = [];
  columns.forEach((column, index) => {
    fields.push([column.name, index]);
    if (column.name === 'data._time' || column.name === 'data._samplerate') fields.push([column.name.slice(5), index]);
  });
  const snapshot = { dataset, version: 1, types: columns.map((column) => column.type), fields };
  return scanBatch(new Uint8Array(body), scanSchemaOf(snapshot), { now: T0, maxEventBytes: MAX_EVENT_BYTES }).kind;
}

describe('the ingest worker pool', () => {
  it('is built and scans a body in a worker exactly as in this thread', async () => {
    expect(existsSync(fileURLToPath(new URL('../../dist/store/duckdb/ingest-worker.js', import.meta.url))), 'run npm run build first').toBe(
      true,
    );
    const pool = IngestPool.create(2);
    expect(pool).toBeDefined();
    try {
      const snapshot = {
        dataset: 'd',
        version: 42,
        types: ['string', 'integer', 'boolean'] as const,
        fields: [
          ['s', 0],
          ['i', 1],
          ['b', 2],
        ] as Array<[string, number]>,
      };
      const random = mulberry32(5);
      for (let round = 0; round < 20; round++) {
        const items = Array.from({ length: 1 + Math.floor(random() * 3000) }, (_, n) => ({
          data: { s: n % 4 === 0 ? 'é' : `value ${n % 17} of a long enough string`, i: n - 1000, b: n % 3 === 0 },
          ...(n % 11 === 0 ? { time: 'bad' } : {}),
          ...(n % 13 === 0 ? { samplerate: 3 } : {}),
        }));
        const text = JSON.stringify(items);
        const local: ScanResult = scanBatch(Buffer.from(text), scanSchemaOf({ ...snapshot, types: [...snapshot.types] }), {
          now: T0,
          maxEventBytes: MAX_EVENT_BYTES,
        });
        const body = Buffer.from(text);
        const reply = await pool!.scan('d', { ...snapshot, types: [...snapshot.types] }, body, T0, MAX_EVENT_BYTES);
        expect(reply.result.kind).toBe('prepared');
        expect(reply.result).toEqual(local);
        // The body comes back whole.
        expect(Buffer.from(reply.body).toString()).toBe(text);
      }
      const fallback = await pool!.scan(
        'd',
        { ...snapshot, types: [...snapshot.types] },
        Buffer.from('[{"data":{"new":1}}]'),
        T0,
        MAX_EVENT_BYTES,
      );
      expect(fallback.result).toEqual({ kind: 'fallback', reason: 'a new field' });
    } finally {
      await pool!.close();
    }
  });
});

describe('POST /1/batch with and without ingest workers', () => {
  it('answers a known batch item by item, alike on both servers', async () => {
    // The first batch creates the dataset (no snapshot yet: the object path); the second takes the workers.
    await sendBoth(
      'web',
      Buffer.from(JSON.stringify([{ data: { route: 'first', status: 200, duration_ms: 1.5, ok: true, meta: '{}', user: 'u1' } }])),
    );
    const body = Buffer.from(
      JSON.stringify([
        { data: { route: '/a', status: 200, duration_ms: 12.25, ok: true } },
        { data: { route: 'é'.repeat(20), status: 500 }, time: 'soon' },
        { data: { route: '/b' }, samplerate: 0 },
        { data: { route: '/c', user: null }, samplerate: '4', time: Math.floor(T0 / 1000) - 60 },
        { data: { route: 'x'.repeat(2500) } },
        { data: {}, time: 1e16 },
      ]),
    );
    for (const gzip of [false, true]) {
      const answer = await sendBoth('web', body, gzip);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual([
        { status: 202 },
        { status: 400, error: 'time "soon" is not RFC 3339 (e.g. 2024-05-01T12:00:00.000Z) or a Unix timestamp' },
        { status: 400, error: 'samplerate must be a positive integer, not number 0' },
        { status: 202 },
        {
          status: 400,
          error: `event is ${JSON.stringify({ data: { route: 'x'.repeat(2500) } }).length} bytes, over the ${MAX_EVENT_BYTES}-byte limit per event`,
        },
        {
          status: 400,
          error: `event time 10000000000000000 ms is outside the accepted window, 1970-01-01T00:00:00Z to 1 day after the server's clock (now ${new Date(T0).toISOString()})`,
        },
      ]);
    }
    // Whole-body errors are the same too.
    for (const bad of ['[{"data":{}},]', '{"data":{}}', '', '[{"data":{"route":"\u0001"}}]']) {
      const answer = await sendBoth('web', Buffer.from(bad));
      expect(answer.status).toBe(400);
    }
    const answer = await sendBoth('web', Buffer.from('[1, null, {"data": null}, {"time": 1}, {"data": {"route": "ok"}}]'));
    expect(answer.body).toEqual([
      { status: 400, error: 'item must be an object with a "data" object, not number 1' },
      { status: 400, error: 'item must be an object with a "data" object, not null' },
      { status: 400, error: '"data" must be a JSON object, not null' },
      { status: 400, error: '"data" must be a JSON object, not nothing' },
      { status: 202 },
    ]);
  });

  it('answers random batches alike, plain and gzip, and stores the same data', async () => {
    const random = mulberry32(99);
    await sendBoth('jobs', Buffer.from('[{"data":{"route":"r","status":1,"duration_ms":0.5,"ok":false,"meta":"[]","user":"u"}}]'));
    let accepted = 0;
    let preparable = 0;
    let fallbacks = 0;
    for (let round = 0; round < 60; round++) {
      const dataset = DATASETS[round % 2]!;
      const concurrent = round % 7 === 3;
      const body = randomBody(random, round, concurrent);
      const gzip = round % 3 === 0;
      // Some rounds send two bodies at once, so scans and commits overlap.
      if (concurrent) {
        const second = randomBody(random, round + 1000, true);
        const [a, b] = await Promise.all([
          Promise.all([post(withWorkers, `/1/batch/${dataset}`, body, gzip), post(withWorkers, `/1/batch/${dataset}`, second, !gzip)]),
          Promise.all([
            post(withoutWorkers, `/1/batch/${dataset}`, body, gzip),
            post(withoutWorkers, `/1/batch/${dataset}`, second, !gzip),
          ]),
        ]);
        expect(a).toEqual(b);
        continue;
      }
      if ((await scanOnServerColumns(dataset, body)) === 'prepared') preparable++;
      else fallbacks++;
      const answer = await sendBoth(dataset, body, gzip);
      expect(answer.status).toBe(200);
      accepted += (answer.body as Array<{ status: number }>).filter((item) => item.status === 202).length;
    }
    expect(accepted).toBeGreaterThan(1000);
    // Most bodies fit the columns the workers scan against, so the fast path was really taken.
    expect(preparable).toBeGreaterThan(2 * fallbacks);
    expect(fallbacks).toBeGreaterThan(0);
    for (const dataset of DATASETS) {
      expect(await get(withWorkers, `/api/v1/datasets/${dataset}/columns`)).toEqual(
        await get(withoutWorkers, `/api/v1/datasets/${dataset}/columns`),
      );
      const spec = JSON.stringify({
        start_time: Math.floor(T0 / 1000) - 7200,
        end_time: Math.floor(T0 / 1000) + 60,
        calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'duration_ms' }, { op: 'MAX', column: 'status' }],
        breakdowns: ['ok'],
        orders: [{ op: 'COUNT', order: 'descending' }],
      });
      const [a, b] = await Promise.all([
        post(withWorkers, `/api/v1/query/${dataset}`, Buffer.from(spec), false),
        post(withoutWorkers, `/api/v1/query/${dataset}`, Buffer.from(spec), false),
      ]);
      expect(a.status).toBe(200);
      const strip = (answer: Answer): unknown => {
        const body = answer.body as { data: unknown; meta: Record<string, unknown> };
        return { data: body.data, meta: { ...body.meta, duration_ms: 0 } };
      };
      expect(strip(a)).toEqual(strip(b));
    }
    // The same datasets, rows, columns and time spans; bytes on disk and in the write-ahead log
    // depend on how the writes were grouped into commits, so they are left out.
    const datasets = async (server: Side): Promise<unknown> => {
      const answer = (await get(server, '/api/v1/datasets')) as { datasets: Array<Record<string, unknown>> };
      return answer.datasets.map(({ size_bytes: _size, ...rest }) => rest);
    };
    const listing = (await datasets(withWorkers)) as unknown[];
    expect(listing.length).toBeGreaterThan(0);
    expect(listing).toEqual(await datasets(withoutWorkers));
    expect(withWorkers.log.filter((line) => /ingest worker|disabled/.test(line))).toEqual([]);

    // Close both servers and compare every stored row.
    await Promise.all([stop(withWorkers), stop(withoutWorkers)]);
    const stores = await Promise.all(
      [withWorkers, withoutWorkers].map((side) => openEventStore({ path: join(side.dir, 'events.duckdb') })),
    );
    try {
      for (const dataset of ['web', ...DATASETS]) {
        expect(await stores[0]!.getSchema(dataset)).toEqual(await stores[1]!.getSchema(dataset));
        const [rowsA, rowsB] = await Promise.all([tableRows(stores[0]!, dataset), tableRows(stores[1]!, dataset)]);
        expect(rowsA.length).toBeGreaterThan(0);
        expect(rowsA.length).toBe(rowsB.length);
        const first = rowsA.findIndex((row, n) => rowsB[n] !== row);
        expect(first === -1 ? undefined : { withWorkers: rowsA[first], withoutWorkers: rowsB[first] }).toBeUndefined();
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
