/**
 * OTLP trace ingest through the ingest worker threads (issue 12): the worker decodes and
 * flattens an export down to each dataset's batch body, which is scanned like a `/1/batch` body,
 * so the main thread only appends. Against the same server without workers (everything on the
 * main thread, `ingestOtlpOnThread`), the same exports (protobuf and JSON from the real SDK's
 * serialisers, one and several services, refused spans, oversize events, 64-bit integers) must get
 * the same answers byte for byte and store the same rows; a malformed body gets the same 400 and
 * stores nothing. The store-level tests below, with a scanner in the test's own thread, show which
 * way each export took. The pool's worker script is loaded from dist/: run `npm run build` first.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Attributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { type DuckDbEventStore, openEventStore } from '../../src/store/duckdb/event-store.js';
import type { DatasetSnapshot } from '../../src/store/duckdb/prepared.js';
import type { OtlpTraceOptions } from '../../src/store/types.js';
import { mulberry32 } from '../fixtures/random.js';
import { InThreadScanner } from '../support/in-thread-scanner.js';

const T0 = Date.now();
const MAX_EVENT_BYTES = 3000;
const WORKER_SCRIPT = fileURLToPath(new URL('../../dist/store/duckdb/ingest-worker.js', import.meta.url));

/** Spans of one service from the real SDK: server spans with children, events, exceptions, links, errors, new fields now and then, an oversize one. */
function makeSpans(service: string, count: number, seed: number, extras = true): ReadableSpan[] {
  const random = mulberry32(seed);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    // Nested resource attributes: the SDK keeps them and both serialisers send key-value lists.
    resource: resourceFromAttributes({ 'service.name': service, deployment: { region: 'eu', zone: { id: 'b' } } } as unknown as Attributes),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('shop-instrumentation', '1.2.3');
  const start = T0 - 10 * 60_000 + seed * 1000;
  for (let i = 0; i < count; i++) {
    const at = start + i * 7;
    const attributes: Attributes = {
      'http.route': ['/cart', '/checkout', '/search'][Math.floor(random() * 3)]!,
      'http.response.status_code': random() < 0.1 ? 500 : 200,
      'cart.value': Math.round(random() * 10_000) / 100,
      'cache.hit': random() < 0.5,
      tags: ['a', 'b'],
    };
    if (random() < 0.05 && extras) attributes[`feature.new_${Math.floor(random() * 3)}`] = 'x';
    if (random() < 0.03 && extras) attributes.blob = 'z'.repeat(MAX_EVENT_BYTES);
    if (random() < 0.1) attributes.sampleRate = 10;
    const span = tracer.startSpan('HTTP', { kind: SpanKind.SERVER, startTime: at, attributes });
    if (random() < 0.3) {
      const child = tracer.startSpan('SELECT', {
        kind: SpanKind.CLIENT,
        startTime: at + 1,
        links: [{ context: span.spanContext(), attributes: { 'link.reason': 'same request' } }],
      });
      child.addEvent('retry', { attempt: 2 }, at + 2);
      if (random() < 0.3) {
        child.recordException(new Error('timeout'), at + 3);
        child.setStatus({ code: SpanStatusCode.ERROR, message: 'db timeout' });
      }
      child.end(at + 1 + random() * 5);
    }
    span.end(at + random() * 50);
  }
  return exporter.getFinishedSpans();
}

/** A hand-written OTLP/JSON export: a 64-bit integer past 2^53 (no batch body can say it), a span of a service without a name, and one with a bad trace id. */
function jsonExport(): Buffer {
  const nanos = (ms: number): string => `${BigInt(ms) * 1_000_000n}`;
  const span = (id: string, extra: object = {}): object => ({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: id,
    name: 'GET /big',
    kind: 2,
    startTimeUnixNano: nanos(T0 - 60_000),
    endTimeUnixNano: nanos(T0 - 59_000),
    attributes: [{ key: 'count', value: { intValue: '9007199254740993' } }],
    ...extra,
  });
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'big' } }] },
          scopeSpans: [{ scope: { name: 'hand' }, spans: [span('b7ad6b7169203331'), span('b7ad6b7169203332', { traceId: 'zz' })] }],
        },
        { resource: { attributes: [] }, scopeSpans: [{ spans: [span('b7ad6b7169203333')] }] },
      ],
    }),
  );
}

interface Side {
  dir: string;
  server: RunningServer | undefined;
  log: string[];
}

const withWorkers: Side = { dir: '', server: undefined, log: [] };
const withoutWorkers: Side = { dir: '', server: undefined, log: [] };

async function start(side: Side, ingestWorkers: number): Promise<void> {
  side.dir = await mkdtemp(join(tmpdir(), `flagscope-otlp-workers-${ingestWorkers}-`));
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
}

async function stop(side: Side): Promise<void> {
  await side.server?.close();
  side.server = undefined;
}

interface Answer {
  status: number;
  type: string | null;
  body: string;
}

async function post(side: Side, body: Buffer, type: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${side.server!.url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${side.server!.adminKey}`, 'content-type': type, ...headers },
    body,
  });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()).toString('base64') };
}

/** Sends an export to both servers, one after the other, and checks that they answer alike, byte for byte. */
async function sendBoth(body: Buffer, type: string, headers: Record<string, string> = {}): Promise<Answer> {
  const a = await post(withWorkers, body, type, headers);
  const b = await post(withoutWorkers, body, type, headers);
  expect(a).toEqual(b);
  return a;
}

async function datasets(side: Side): Promise<unknown> {
  const res = await fetch(`${side.server!.url}/api/v1/datasets`, { headers: { authorization: `Bearer ${side.server!.adminKey}` } });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { datasets: Array<Record<string, unknown>> };
  return answer.datasets.map(({ size_bytes: _size, ...rest }) => rest);
}

/** Every row of a dataset, serialised and sorted. */
async function tableRows(store: DuckDbEventStore, dataset: string): Promise<string[]> {
  const table = store.tableOf(dataset);
  if (table === undefined) return [];
  const rows = await store.execute(`SELECT epoch_us(_time) AS _time_us, * EXCLUDE (_time) FROM ${table}`, []);
  const cell = (value: unknown): string => (typeof value === 'bigint' ? `${value}n` : JSON.stringify(value));
  return rows.map((row) => row.map(cell).join('|')).sort();
}

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
const protobuf = (spans: ReadableSpan[]): Buffer => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array);
const json = (spans: ReadableSpan[]): Buffer => Buffer.from(JsonTraceSerializer.serializeRequest(spans) as Uint8Array);

describe('OTLP through the ingest workers against the same server without them', () => {
  beforeAll(async () => {
    if (!existsSync(WORKER_SCRIPT)) throw new Error(`${WORKER_SCRIPT} is missing: run npm run build first`);
    await Promise.all([start(withWorkers, 2), start(withoutWorkers, 0)]);
  });

  afterAll(async () => {
    await Promise.all([stop(withWorkers), stop(withoutWorkers)]);
    for (const side of [withWorkers, withoutWorkers]) if (side.dir !== '') await rm(side.dir, { recursive: true, force: true });
  });

  it('answers alike and stores identical rows, and a malformed body gets the same 400 and stores nothing', async () => {
    const shop = makeSpans('shop', 600, 1);
    const search = makeSpans('search', 200, 2);
    // The first export creates the dataset; later ones are scanned against its columns.
    await sendBoth(protobuf(shop.slice(0, 100)), PROTOBUF);
    await sendBoth(protobuf(shop.slice(100, 300)), PROTOBUF);
    await sendBoth(json(shop.slice(300, 400)), JSON_TYPE);
    // Two services in one export: two datasets, admitted together.
    await sendBoth(protobuf([...shop.slice(400, 500), ...search.slice(0, 100)]), PROTOBUF);
    const partial = await sendBoth(json([...shop.slice(500), ...search.slice(100)]), JSON_TYPE);
    // Some spans carry an attribute over the event size limit: refused with partialSuccess.
    const { partialSuccess } = JSON.parse(Buffer.from(partial.body, 'base64').toString('utf8')) as {
      partialSuccess: { rejectedSpans: string };
    };
    expect(Number(partialSuccess.rejectedSpans)).toBeGreaterThan(0);
    const mixed = await sendBoth(jsonExport(), JSON_TYPE, { 'x-honeycomb-dataset': 'fallback' });
    expect(JSON.parse(Buffer.from(mixed.body, 'base64').toString('utf8'))).toMatchObject({ partialSuccess: { rejectedSpans: '1' } });

    const before = await datasets(withWorkers);
    expect(before).toEqual(await datasets(withoutWorkers));
    const good = protobuf(shop.slice(0, 50));
    const broken = Buffer.concat([good.subarray(0, good.length - 7), Buffer.from([0x0a, 0xff, 0xff])]);
    for (const [body, type] of [
      [broken, PROTOBUF],
      [Buffer.from('{"resourceSpans": [{"scopeSpans": 7}]}'), JSON_TYPE],
    ] as const) {
      const answer = await sendBoth(body, type);
      expect(answer.status).toBe(400);
      expect(answer.type).toBe(type);
    }
    expect(await datasets(withWorkers)).toEqual(before);
    expect(withWorkers.log.filter((line) => /ingest worker|disabled/.test(line))).toEqual([]);

    // Close both servers and compare every stored row.
    await Promise.all([stop(withWorkers), stop(withoutWorkers)]);
    const stores = await Promise.all(
      [withWorkers, withoutWorkers].map((side) => openEventStore({ path: join(side.dir, 'events.duckdb') })),
    );
    try {
      for (const dataset of ['shop', 'search', 'big', 'fallback']) {
        expect(await stores[0]!.getSchema(dataset)).toEqual(await stores[1]!.getSchema(dataset));
        const [rowsA, rowsB] = await Promise.all([tableRows(stores[0]!, dataset), tableRows(stores[1]!, dataset)]);
        expect(rowsA.length, dataset).toBeGreaterThan(0);
        expect(rowsA.length).toBe(rowsB.length);
        const first = rowsA.findIndex((row, n) => rowsB[n] !== row);
        expect(first === -1 ? undefined : { withWorkers: rowsA[first], withoutWorkers: rowsB[first] }).toBeUndefined();
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});

describe('the DuckDB store with a scanner for OTLP', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flagscope-otlp-scan-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const options = (admitted: number[]): OtlpTraceOptions => ({
    encoding: 'protobuf',
    fallbackDataset: 'unknown_service',
    now: T0,
    maxEventBytes: MAX_EVENT_BYTES,
    admit: (events) => void admitted.push(events),
  });

  it('flattens in the scanner, scans an existing dataset into chunks and admits every dataset once', async () => {
    const scanner = new InThreadScanner();
    const store = await openEventStore({ path: join(dir, 'scanned.duckdb'), now: () => T0, bodyScanner: scanner, ingestWorkerMinBytes: 0 });
    try {
      const body = protobuf([...makeSpans('shop', 100, 3, false), ...makeSpans('search', 50, 4, false)]);
      const admitted: number[] = [];
      // New datasets: flattened in the scanner, their events stored as objects.
      const first = await store.ingestOtlpTraces(body, options(admitted));
      expect(scanner.flattened).toBe(1);
      expect(scanner.counters.prepared).toBe(0);
      // Both datasets now exist with every field of the export: each one is laid out in column buffers where it is flattened.
      const second = await store.ingestOtlpTraces(body, options(admitted));
      expect(scanner.flattened).toBe(2);
      expect(scanner.laidOut).toBe(2);
      expect(scanner.counters.prepared + scanner.counters.fallback).toBe(0);
      expect(second.stored.sort()).toEqual(['search', 'shop']);
      expect(admitted.length).toBe(2);
      // What was admitted is what is stored: the events over the size limit were refused before.
      let stored = 0;
      for (const dataset of ['shop', 'search'])
        stored += Number((await store.execute(`SELECT count(*) FROM ${store.tableOf(dataset)}`, []))[0]![0]);
      expect(stored).toBeGreaterThan(250);
      expect(admitted[0]! + admitted[1]!).toBe(stored);
      expect(first.refused).toEqual([]);
      expect(second.refused).toEqual([]);
    } finally {
      await store.close();
    }
  });

  let before: DatasetSnapshot | undefined;

  it('stores the same rows as a store without a scanner, also when the columns change between the layout and the append', async () => {
    const scanner = new InThreadScanner();
    const stores = await Promise.all([
      openEventStore({ path: join(dir, 'laid-out.duckdb'), now: () => T0, bodyScanner: scanner, ingestWorkerMinBytes: 0 }),
      openEventStore({ path: join(dir, 'on-thread.duckdb'), now: () => T0 }),
    ]);
    try {
      // The second export brings new fields (new columns); the others have only the first one's.
      const plain = makeSpans('shop', 300, 5, false);
      const exports = [plain.slice(0, 100), makeSpans('shop', 100, 6), plain.slice(100, 200), plain.slice(200)].map(protobuf);
      const answers: unknown[][] = [[], []];
      for (const [s, store] of stores.entries()) {
        for (const [n, body] of exports.entries()) {
          // The last export is laid out against the columns as they were before the second one.
          if (s === 0 && n === 3) scanner.flattenNextAgainst([before!]);
          answers[s]!.push(await store.ingestOtlpTraces(body, options([])));
          if (s === 0 && n === 0) before = store.snapshot('shop');
        }
      }
      expect(scanner.laidOut).toBe(2);
      // The second export changed the columns: the last layout was stale, and the store took its events as objects.
      expect(stores[0]!.snapshot('shop')!.version).not.toBe(before!.version);
      expect(answers[0]).toEqual(answers[1]);
      const [rowsA, rowsB] = await Promise.all(stores.map((store) => tableRows(store, 'shop')));
      expect(rowsA!.length).toBeGreaterThan(390);
      expect(rowsA).toEqual(rowsB);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('refuses a malformed body flattened in the scanner with invalid_input, storing and admitting nothing', async () => {
    const scanner = new InThreadScanner();
    const store = await openEventStore({
      path: join(dir, 'malformed.duckdb'),
      now: () => T0,
      bodyScanner: scanner,
      ingestWorkerMinBytes: 0,
    });
    try {
      const admitted: number[] = [];
      const error = await store.ingestOtlpTraces(Buffer.from([0x0a, 0x05, 0x12, 0x03]), options(admitted)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FlagscopeError);
      expect((error as FlagscopeError).code).toBe('invalid_input');
      expect((error as FlagscopeError).message).toMatch(/not a valid ExportTraceServiceRequest/);
      expect(scanner.flattened).toBe(1);
      expect(admitted).toEqual([]);
      expect(await store.listDatasets()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
