/**
 * The real OpenTelemetry Node SDK against the real server (issue 12): spans with events, links,
 * an error and nested resource attributes go out through `@opentelemetry/exporter-trace-otlp-http`
 * (OTLP/JSON) and `-proto` (protobuf) to `POST /v1/traces`; the raw-events API then finds one
 * event per span, span event and link with Honeycomb's field names, and both encodings store the
 * same rows. Then bad input: protobuf that does not parse, gzip that inflates past the body limit,
 * a content type OTLP does not have, and the refusal of `/v1/logs`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Attributes, context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const MAX_BODY_BYTES = 200_000;

let dir: string;
let server: RunningServer;
let key: string;

/** Ids from a counter, so two providers give the same spans the same ids. */
class CountingIds implements IdGenerator {
  private n = 0;
  generateTraceId(): string {
    return (++this.n).toString(16).padStart(32, 'a');
  }
  generateSpanId(): string {
    return (++this.n).toString(16).padStart(16, 'b');
  }
}

/** Passes spans on to a real exporter and keeps every export's result. */
class Recording implements SpanExporter {
  readonly results: ExportResult[] = [];
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.results.push(result);
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

const BASE_MS = Date.now() - 120_000;
const FAILURE = new Error('card declined');

/** The same trace every time: a server span, a client child with an event, an exception and a link, and a second trace. */
function emitTraces(tracer: Tracer): void {
  const root = tracer.startSpan('POST /checkout', {
    kind: SpanKind.SERVER,
    startTime: BASE_MS,
    attributes: { 'http.route': '/checkout', 'http.response.status_code': 500, tags: ['fast', 'eu'], sampleRate: 5 },
  });
  const parent = trace.setSpan(context.active(), root);
  const other = tracer.startSpan('background sync', { kind: SpanKind.INTERNAL, startTime: BASE_MS + 1 });
  const child = tracer.startSpan(
    'charge card',
    { kind: SpanKind.CLIENT, startTime: BASE_MS + 2, links: [{ context: other.spanContext(), attributes: { 'link.reason': 'batched' } }] },
    parent,
  );
  child.addEvent('retrying', { attempt: 2 }, BASE_MS + 5);
  child.recordException(FAILURE, BASE_MS + 9);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'payment provider said no' });
  child.end(BASE_MS + 12.25);
  other.end(BASE_MS + 40);
  root.end(BASE_MS + 20);
}

async function sendThrough(exporter: SpanExporter, service: string): Promise<Recording> {
  const recording = new Recording(exporter);
  const provider = new BasicTracerProvider({
    // The API's types allow no nested values, but the resource keeps them and both exporters send them as key-value lists.
    resource: resourceFromAttributes({
      'service.name': service,
      deployment: { region: 'eu-west', zone: { id: 'b' } },
    } as unknown as Attributes),
    idGenerator: new CountingIds(),
    spanProcessors: [new BatchSpanProcessor(recording, { maxExportBatchSize: 512, scheduledDelayMillis: 60_000 })],
  });
  emitTraces(provider.getTracer('checkout-instrumentation', '2.4.0'));
  await provider.forceFlush();
  await provider.shutdown();
  return recording;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function rawEvents(dataset: string): Promise<Array<Record<string, unknown>>> {
  const { status, json } = await api('POST', `/api/v1/events/${dataset}`, { limit: 1000, time_range: 3600 });
  expect(status, JSON.stringify(json)).toBe(200);
  return (json.events as Array<{ time: string; samplerate: number; data: Record<string, unknown> }>).map((e) => ({
    ...e.data,
    _time: e.time,
    _samplerate: e.samplerate,
  }));
}

async function postTraces(body: Buffer | string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'x-honeycomb-team': key, ...headers }, body });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-otlp-'));
  server = await startServer({ port: 0, dataDir: dir, limits: { maxBodyBytes: MAX_BODY_BYTES } });
  const res = await fetch(`${server.url}/api/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}` },
    body: JSON.stringify({ name: 'otel', scopes: ['ingest', 'query'] }),
  });
  key = ((await res.json()) as { key: string }).key;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the OpenTelemetry SDK with the OTLP/HTTP exporters', () => {
  let jsonRows: Array<Record<string, unknown>>;
  let protoRows: Array<Record<string, unknown>>;

  beforeAll(async () => {
    const headers = { 'x-honeycomb-team': key };
    const json = await sendThrough(new JsonExporter({ url: `${server.url}/v1/traces`, headers }), 'shop-json');
    const proto = await sendThrough(new ProtoExporter({ url: `${server.url}/v1/traces`, headers }), 'shop-proto');
    expect(json.results.map((r) => r.code)).toEqual([0]);
    expect(proto.results.map((r) => r.code)).toEqual([0]);
    jsonRows = await rawEvents('shop-json');
    protoRows = await rawEvents('shop-proto');
  });

  it('stores one event per span, span event and link, in the dataset of the service', () => {
    // 3 spans, 2 span events (retrying, exception), 1 link.
    expect(protoRows).toHaveLength(6);
    const kinds = protoRows.map((row) => row['meta.annotation_type'] ?? 'span').sort();
    expect(kinds).toEqual(['link', 'span', 'span', 'span', 'span_event', 'span_event']);
  });

  it('names the span fields as Honeycomb does, with the error, the exception and nested resource attributes', () => {
    const charge = protoRows.find((row) => row.name === 'charge card' && row['meta.annotation_type'] === undefined);
    const root = protoRows.find((row) => row.name === 'POST /checkout');
    expect(root).toBeDefined();
    expect(charge).toMatchObject({
      'trace.trace_id': root?.['trace.trace_id'],
      'trace.parent_id': root?.['trace.span_id'],
      'span.kind': 'client',
      type: 'client',
      duration_ms: 10.25,
      status_code: 2,
      status_message: 'payment provider said no',
      error: true,
      'service.name': 'shop-proto',
      'library.name': 'checkout-instrumentation',
      'library.version': '2.4.0',
      'deployment.region': 'eu-west',
      'deployment.zone.id': 'b',
      'exception.type': 'Error',
      'exception.message': 'card declined',
      'span.num_events': 2,
      'span.num_links': 1,
      _time: new Date(BASE_MS + 2).toISOString().replace('Z', '000Z'),
    });
    expect(root).toMatchObject({
      'span.kind': 'server',
      'http.response.status_code': 500,
      tags: '["fast","eu"]',
      duration_ms: 20,
      _samplerate: 5,
    });
    expect(root).not.toHaveProperty('trace.parent_id');
    expect(root).not.toHaveProperty('error');
    expect(root).not.toHaveProperty('sampleRate');

    const retry = protoRows.find((row) => row.name === 'retrying');
    expect(retry).toMatchObject({
      'meta.annotation_type': 'span_event',
      'trace.parent_id': charge?.['trace.span_id'],
      parent_name: 'charge card',
      attempt: 2,
      error: true,
    });
    const link = protoRows.find((row) => row['meta.annotation_type'] === 'link');
    const other = protoRows.find((row) => row.name === 'background sync');
    expect(link).toMatchObject({
      'trace.parent_id': charge?.['trace.span_id'],
      'trace.link.trace_id': other?.['trace.trace_id'],
      'trace.link.span_id': other?.['trace.span_id'],
      'link.reason': 'batched',
    });
  });

  it('stores the same rows from OTLP/JSON as from protobuf', () => {
    const comparable = (rows: Array<Record<string, unknown>>) =>
      rows
        .map((row) => {
          const { 'service.name': _service, ...rest } = row;
          return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b))));
        })
        .sort();
    expect(jsonRows.every((row) => row['service.name'] === 'shop-json')).toBe(true);
    expect(comparable(jsonRows)).toEqual(comparable(protoRows));
  });

  it('answers a query over the spans through the query API', async () => {
    const { status, json } = await api('POST', '/api/v1/query/shop-proto', {
      calculations: [{ op: 'COUNT' }, { op: 'MAX', column: 'duration_ms' }],
      filters: [{ column: 'meta.annotation_type', op: 'does-not-exist' }],
      breakdowns: ['error'],
      time_range: 3600,
    });
    expect(status, JSON.stringify(json)).toBe(200);
    const byError = Object.fromEntries(
      (json.data.results as Array<{ data: Record<string, unknown> }>).map((r) => [String(r.data.error), r.data]),
    );
    // COUNT weighs the root span by its sample rate (5).
    expect(byError.true).toMatchObject({ COUNT: 1, 'MAX(duration_ms)': 10.25 });
    expect(byError.null).toMatchObject({ COUNT: 6, 'MAX(duration_ms)': 39 });
  });
});

describe('OTLP answers as the OTLP/HTTP specification says', () => {
  it('accepts an empty request with an empty success, in each encoding', async () => {
    const proto = await postTraces(Buffer.alloc(0), { 'content-type': 'application/x-protobuf' });
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await proto.arrayBuffer()).byteLength).toBe(0);
    const json = await postTraces('{}', { 'content-type': 'application/json' });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({});
  });

  it('answers rejected spans with partialSuccess and stores the rest', async () => {
    const span = (spanId: string) => ({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId,
      name: 'partial',
      startTimeUnixNano: String(BigInt(Date.now() - 1000) * 1_000_000n),
      endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
    });
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'partial-svc' } }] },
          scopeSpans: [{ spans: [span('eee19b7ec3c1b174'), span('0000000000000000')] }],
        },
      ],
    };
    const res = await postTraces(JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe('1');
    expect(answer.partialSuccess.errorMessage).toMatch(/span id/);
    expect((await rawEvents('partial-svc')).map((row) => row['trace.span_id'])).toEqual(['eee19b7ec3c1b174']);
  });

  it('stores the spans of several services in one request, each in its own dataset', async () => {
    const resource = (service: string, spanId: string, startMs: number) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [
        {
          spans: [
            {
              traceId: '6b8efff798038103d269b633813fc60c',
              spanId,
              name: service,
              startTimeUnixNano: String(BigInt(startMs) * 1_000_000n),
              endTimeUnixNano: String(BigInt(startMs + 3) * 1_000_000n),
              attributes: [{ key: 'big', value: { intValue: '9007199254740993' } }],
            },
          ],
        },
      ],
    });
    const now = Date.now();
    const body = {
      resourceSpans: [resource('multi-a', 'aaaaaaaaaaaaaaa1', now - 5000), resource('multi-b', 'bbbbbbbbbbbbbbb1', now - 4000)],
    };
    const res = await postTraces(JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const [a, b] = [await rawEvents('multi-a'), await rawEvents('multi-b')];
    expect(a.map((row) => [row['trace.span_id'], row.duration_ms])).toEqual([['aaaaaaaaaaaaaaa1', 3]]);
    expect(b.map((row) => row['trace.span_id'])).toEqual(['bbbbbbbbbbbbbbb1']);
    // An integer beyond 2^53 is stored exactly (the raw-event API gives it as its decimal text).
    expect(String(a[0]?.big)).toBe('9007199254740993');
  });

  it('refuses protobuf that does not parse with a 400 google.rpc.Status in protobuf, storing nothing', async () => {
    const before = await api('GET', '/api/v1/datasets');
    const res = await postTraces(Buffer.from([0x0a, 0x05, 0x01]), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const bytes = Buffer.from(await res.arrayBuffer());
    // google.rpc.Status: field 1 (code) = 3 INVALID_ARGUMENT, then field 2 (message).
    expect([...bytes.subarray(0, 2)]).toEqual([0x08, 0x03]);
    expect(bytes.toString('latin1')).toMatch(/runs past the end/);
    expect((await api('GET', '/api/v1/datasets')).json.datasets).toEqual(before.json.datasets);
  });

  it('refuses malformed OTLP/JSON with a 400 google.rpc.Status in JSON', async () => {
    const res = await postTraces('{"resourceSpans": {}}', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    const status = (await res.json()) as { code: number; message: string; details: Array<Record<string, unknown>> };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/resourceSpans must be an array/);
    expect(status.details[0]).toMatchObject({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'invalid_input' });
  });

  it('answers gzip that inflates past the body limit with 413, before inflating it all', async () => {
    const bomb = gzipSync(Buffer.alloc(MAX_BODY_BYTES * 50));
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES);
    const res = await postTraces(bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 2)]).toEqual([0x08, 0x08]);
  });

  it('reads gzip bodies', async () => {
    const body = gzipSync(Buffer.from('{"resourceSpans": []}'));
    const res = await postTraces(body, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
  });

  it('refuses a content type that is not an OTLP encoding', async () => {
    const res = await postTraces('{}', { 'content-type': 'text/plain' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toMatch(/not an OTLP\/HTTP encoding/);
  });

  it('says clearly that logs are not taken', async () => {
    const res = await fetch(`${server.url}/v1/logs`, {
      method: 'POST',
      headers: { 'x-honeycomb-team': key, 'content-type': 'application/x-protobuf' },
      body: Buffer.alloc(10),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/traces only/);
  });

  it('needs a key with the ingest scope', async () => {
    const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});
