import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

interface BatchItem {
  data: Record<string, unknown>;
  time?: unknown;
  samplerate?: unknown;
}

let dir: string;
let server: RunningServer;
let adminKey: string;
let ingestKey: string;
let queryKey: string;
const logLines: string[] = [];
/** Unix seconds, whole: the events of the test sit in the hour before it. */
const nowSeconds = Math.floor(Date.now() / 1000);
const window = { start_time: nowSeconds - 4 * 3600, end_time: nowSeconds + 60 };

function headers(key: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return key === null ? extra : { authorization: `Bearer ${key}`, ...extra };
}

async function post(
  path: string,
  body: string | Buffer,
  key: string | null = adminKey,
  extra: Record<string, string> = {},
): Promise<Response> {
  return fetch(server.url + path, { method: 'POST', body, headers: headers(key, { 'content-type': 'application/json', ...extra }) });
}

async function sendBatch(
  dataset: string,
  items: BatchItem[],
  extra: Record<string, string> = {},
): Promise<Array<{ status: number; error?: string }>> {
  const res = await post(`/1/batch/${dataset}`, JSON.stringify(items), ingestKey, extra);
  expect(res.status).toBe(200);
  return (await res.json()) as Array<{ status: number; error?: string }>;
}

async function query(dataset: string, spec: Record<string, unknown>, key = queryKey): Promise<Response> {
  return post(`/api/v1/query/${dataset}`, JSON.stringify({ ...window, ...spec }), key);
}

async function queryRows(dataset: string, spec: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
  const res = await query(dataset, spec);
  const body = (await res.json()) as { data: { results: Array<{ data: Record<string, unknown> }> } };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data.results.map((r) => r.data);
}

async function weightedCount(dataset: string, filters: unknown[] = []): Promise<number> {
  const rows = await queryRows(dataset, { calculations: [{ op: 'COUNT' }], filters });
  return Number(rows[0]?.COUNT ?? 0);
}

/** Everything observable about a dataset's stored data: rows, columns, weighted count. */
async function snapshot(dataset: string): Promise<{ rows: number; columns: number; count: number }> {
  const res = await fetch(`${server.url}/api/v1/datasets`, { headers: headers(queryKey) });
  const body = (await res.json()) as { datasets: Array<{ name: string; rows: number; columns: number }> };
  const info = body.datasets.find((d) => d.name === dataset);
  return { rows: info?.rows ?? 0, columns: info?.columns ?? 0, count: info === undefined ? 0 : await weightedCount(dataset) };
}

async function createKey(name: string, scopes: string[]): Promise<string> {
  const res = await post('/api/v1/keys', JSON.stringify({ name, scopes }), adminKey);
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

/** A deterministic pseudo-random sequence, so expected values are computed from the same events. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-server-'));
  server = await startServer({ port: 0, dataDir: dir, verbose: true, log: (line) => logLines.push(line) });
  expect(server.adminKey).toMatch(/^fsk_[A-Za-z0-9_-]{43}$/);
  adminKey = server.adminKey as string;
  ingestKey = await createKey('ingest-only', ['ingest']);
  queryKey = await createKey('query-only', ['query']);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('server basics', () => {
  it('answers /healthz without a key', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      analyses: { running: 0, queued: 0 },
      beacons: expect.objectContaining({ open_executions: 0, closed_for_memory: 0 }),
    });
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('logs one line per request with method, path, status, bytes and ms', async () => {
    await fetch(`${server.url}/healthz`);
    expect(logLines.some((l) => /^GET \/healthz 200 \d+B \d+(\.\d+)?ms$/.test(l))).toBe(true);
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    const missing = await fetch(`${server.url}/nope`, { headers: headers(adminKey) });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const wrong = await fetch(`${server.url}/1/batch/x`, { headers: headers(adminKey) });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});

describe('ingest and query', () => {
  it('stores a batch and answers weighted COUNT, AVG and breakdowns as computed here', async () => {
    const random = lcg(7);
    const services = ['api', 'cart', 'search'];
    const items: BatchItem[] = [];
    for (let i = 0; i < 300; i++) {
      const samplerate = [1, 1, 2, 5][Math.floor(random() * 4)] as number;
      items.push({
        data: { 'service.name': services[i % 3], duration_ms: Math.round(random() * 1000) / 10, seq: i },
        time: new Date((nowSeconds - 3600 + i) * 1000).toISOString(),
        samplerate,
      });
    }
    const outcomes = await sendBatch('web', items);
    expect(outcomes).toEqual(items.map(() => ({ status: 202 })));

    const expected = new Map<string, { count: number; sum: number }>();
    for (const item of items) {
      const service = item.data['service.name'] as string;
      const entry = expected.get(service) ?? { count: 0, sum: 0 };
      entry.count += item.samplerate as number;
      entry.sum += (item.samplerate as number) * (item.data.duration_ms as number);
      expected.set(service, entry);
    }
    const rows = await queryRows('web', {
      calculations: [{ op: 'COUNT' }, { op: 'AVG', column: 'duration_ms' }],
      breakdowns: ['service.name'],
    });
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      const want = expected.get(row['service.name'] as string);
      expect(want).toBeDefined();
      expect(row.COUNT).toBe(want?.count);
      expect(row['AVG(duration_ms)'] as number).toBeCloseTo((want?.sum ?? 0) / (want?.count ?? 1), 6);
    }
  });

  it('takes event time and sample rate from the headers of a single event', async () => {
    const t = nowSeconds - 1800;
    const single = (body: unknown, extra: Record<string, string>) => post('/1/events/single', JSON.stringify(body), ingestKey, extra);
    const a = await single({ n: 1 }, { 'x-honeycomb-event-time': new Date(t * 1000).toISOString(), 'x-honeycomb-samplerate': '4' });
    expect(a.status).toBe(200);
    expect(await a.text()).toBe('');
    expect((await single({ n: 2 }, { 'x-honeycomb-event-time': `${t + 0.25}`, 'x-honeycomb-samplerate': '3' })).status).toBe(200);
    expect((await single({ n: 3 }, { 'x-honeycomb-event-time': `${t - 7200}` })).status).toBe(200);
    expect((await single({ n: 4 }, {})).status).toBe(200);

    expect(await weightedCount('single')).toBe(4 + 3 + 1 + 1);
    const near = await queryRows('single', { calculations: [{ op: 'COUNT' }], start_time: t - 10, end_time: t + 10 });
    expect(near[0]?.COUNT).toBe(7);
    const earlier = await queryRows('single', { calculations: [{ op: 'COUNT' }], start_time: t - 7300, end_time: t - 7100 });
    expect(earlier[0]?.COUNT).toBe(1);
  });

  it('accepts gzip and deflate bodies and keys in X-Honeycomb-Team', async () => {
    const items = [{ data: { kind: 'gz' } }, { data: { kind: 'gz' }, samplerate: 2 }];
    const gz = await fetch(`${server.url}/1/batch/compressed`, {
      method: 'POST',
      body: gzipSync(JSON.stringify(items)),
      headers: { 'x-honeycomb-team': ingestKey, 'content-encoding': 'gzip', 'content-type': 'application/json' },
    });
    expect(gz.status).toBe(200);
    expect(await gz.json()).toEqual([{ status: 202 }, { status: 202 }]);
    const df = await post('/1/batch/compressed', deflateSync(JSON.stringify([{ data: { kind: 'df' } }])), ingestKey, {
      'content-encoding': 'deflate',
    });
    expect(await df.json()).toEqual([{ status: 202 }]);
    expect(await weightedCount('compressed', [{ column: 'kind', op: '=', value: 'gz' }])).toBe(3);
    expect(await weightedCount('compressed', [{ column: 'kind', op: '=', value: 'df' }])).toBe(1);
  });

  it('lists datasets and columns', async () => {
    const res = await fetch(`${server.url}/api/v1/datasets/web/columns`, { headers: headers(queryKey) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { dataset: string; columns: Array<{ name: string; type: string }> };
    expect(body.dataset).toBe('web');
    expect(body.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['service.name', 'duration_ms', 'seq']));
    const list = (await (await fetch(`${server.url}/api/v1/datasets`, { headers: headers(queryKey) })).json()) as {
      datasets: Array<{ name: string; rows: number }>;
    };
    expect(list.datasets.find((d) => d.name === 'web')?.rows).toBe(300);
  });
});

describe('bad input is refused and changes nothing', () => {
  const dataset = 'guarded';
  let before: { rows: number; columns: number; count: number };

  beforeAll(async () => {
    await sendBatch(dataset, [{ data: { a: 1, b: 'x' } }, { data: { a: 2, b: 'y' }, samplerate: 3 }]);
    before = await snapshot(dataset);
    expect(before).toEqual({ rows: 2, columns: 2, count: 4 });
  });

  async function expectError(res: Response, status: number, code: string, messagePart?: RegExp): Promise<void> {
    const body = (await res.json()) as { error: { code: string; message: string; hint?: string } };
    expect(res.status, JSON.stringify(body)).toBe(status);
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    if (messagePart !== undefined) expect(body.error.message).toMatch(messagePart);
    expect(await snapshot(dataset)).toEqual(before);
  }

  it('malformed JSON: 400 naming the position', async () => {
    await expectError(
      await post(`/1/batch/${dataset}`, '[{"data": {"a": 1,}}]', ingestKey),
      400,
      'invalid_input',
      /line 1 column 19 \(position 18\)/,
    );
    await expectError(await post(`/1/events/${dataset}`, '{"a": 1', ingestKey), 400, 'invalid_input', /end of input.*position 7/);
  });

  it('wrong types: a per-item 400 for each bad item, a 400 for a bad single event', async () => {
    const outcomes = await sendBatch(dataset, [
      { data: [1, 2] as unknown as Record<string, unknown> },
      { data: 'text' as unknown as Record<string, unknown> },
      { data: { a: 9 }, samplerate: 0 },
      { data: { a: 9 }, samplerate: -1 },
      { data: { a: 9 }, samplerate: 'x' },
      { data: { a: 9 }, samplerate: 1.5 },
      { data: { a: 9 }, time: 'yesterday' },
      { data: { a: 9 }, time: true },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([400, 400, 400, 400, 400, 400, 400, 400]);
    expect(outcomes[2]?.error).toMatch(/samplerate/);
    expect(outcomes[6]?.error).toMatch(/time/);
    expect(await snapshot(dataset)).toEqual(before);
    await expectError(await post(`/1/batch/${dataset}`, '{"data": {}}', ingestKey), 400, 'invalid_input', /array/);
    await expectError(await post(`/1/events/${dataset}`, '[{"a": 1}]', ingestKey), 400, 'invalid_input', /object/);
    await expectError(
      await post(`/1/events/${dataset}`, '{"a": 1}', ingestKey, { 'x-honeycomb-samplerate': '0' }),
      400,
      'invalid_input',
      /Samplerate/,
    );
    await expectError(await post(`/1/events/${dataset}`, '{"a": 1}', ingestKey, { 'x-honeycomb-samplerate': 'x' }), 400, 'invalid_input');
    await expectError(
      await post(`/1/events/${dataset}`, '{"a": 1}', ingestKey, { 'x-honeycomb-event-time': 'soon' }),
      400,
      'invalid_input',
      /Event-Time/,
    );
  });

  it('wrong content: 400 for a non-JSON content type or encoding', async () => {
    await expectError(
      await post(`/1/batch/${dataset}`, '[]', ingestKey, { 'content-type': 'multipart/form-data; boundary=x' }),
      400,
      'invalid_input',
      /content type/,
    );
    await expectError(
      await post(`/1/batch/${dataset}`, '[]', ingestKey, { 'content-encoding': 'br' }),
      400,
      'invalid_input',
      /content-encoding/,
    );
    await expectError(
      await post(`/1/batch/${dataset}`, 'not gzip', ingestKey, { 'content-encoding': 'gzip' }),
      400,
      'invalid_input',
      /gzip/,
    );
  });

  it('oversize event: a per-item 400 while the others are stored; a 400 for a single event', async () => {
    const big = 'x'.repeat(1_000_100);
    const outcomes = await sendBatch(dataset, [{ data: { a: 3, b: big } }, { data: { a: 4, b: 'z' }, samplerate: 2 }]);
    expect(outcomes[0]?.status).toBe(400);
    expect(outcomes[0]?.error).toMatch(/limit per event/);
    expect(outcomes[1]).toEqual({ status: 202 });
    const after = await snapshot(dataset);
    expect(after).toEqual({ rows: before.rows + 1, columns: before.columns, count: before.count + 2 });
    before = after;
    await expectError(await post(`/1/events/${dataset}`, JSON.stringify({ b: big }), ingestKey), 400, 'invalid_input', /limit per event/);
  });

  it('oversize body: 413 for the whole request', async () => {
    const items = Array.from({ length: 6 }, (_, i) => ({ data: { a: i, b: 'y'.repeat(900_000) } }));
    await expectError(await post(`/1/batch/${dataset}`, JSON.stringify(items), ingestKey), 413, 'payload_too_large');
  });

  it('gzip bomb: 413 without inflating it', async () => {
    const bomb = gzipSync(Buffer.alloc(60_000_000, 0x20));
    expect(bomb.length).toBeLessThan(100_000);
    await expectError(await post(`/1/batch/${dataset}`, bomb, ingestKey, { 'content-encoding': 'gzip' }), 413, 'payload_too_large');
  });

  it('missing key, wrong key: 401; key without the scope: 403', async () => {
    const body = JSON.stringify([{ data: { a: 5 } }]);
    await expectError(await post(`/1/batch/${dataset}`, body, null), 401, 'unauthenticated');
    await expectError(await post(`/1/batch/${dataset}`, body, 'fsk_not-a-key'), 401, 'unauthenticated');
    await expectError(await post(`/1/batch/${dataset}`, body, queryKey), 403, 'forbidden', /ingest/);
    await expectError(await query(dataset, { calculations: [{ op: 'COUNT' }] }, ingestKey), 403, 'forbidden', /query/);
    await expectError(await fetch(`${server.url}/api/v1/keys`, { headers: headers(queryKey) }), 403, 'forbidden', /admin/);
  });

  it('unknown dataset: 404; unknown column in a query: 400', async () => {
    await expectError(await query('no-such-dataset', { calculations: [{ op: 'COUNT' }] }), 404, 'not_found');
    await expectError(
      await fetch(`${server.url}/api/v1/datasets/no-such-dataset/columns`, { headers: headers(queryKey) }),
      404,
      'not_found',
    );
    await expectError(
      await query(dataset, { calculations: [{ op: 'AVG', column: 'no_such_column' }] }),
      400,
      'invalid_input',
      /no_such_column/,
    );
    await expectError(await query(dataset, { calculations: [{ op: 'BOGUS' }] }), 400, 'invalid_input');
    await expectError(await post(`/api/v1/query/${dataset}`, '[1]', queryKey), 400, 'invalid_input');
  });

  it('survives a client that disconnects mid-body and raw garbage on the socket', async () => {
    await new Promise<void>((resolve) => {
      const req = request(`${server.url}/1/batch/${dataset}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-length': 10_000, expect: '100-continue' },
      });
      req.on('error', () => resolve());
      req.on('continue', () => {
        req.write('[{"data": {"a": 7}}');
        req.destroy();
        resolve();
      });
    });
    const reply = await new Promise<string>((resolve) => {
      const socket = connect({ host: server.host, port: server.port }, () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await snapshot(dataset)).toEqual(before);
  });

  it('answers random bytes with a 4xx, never a 500', async () => {
    const random = lcg(99);
    const alphabet = '{}[]":,0123456789.-eE truefalsnul\\\n\u00e9abc';
    for (let round = 0; round < 60; round++) {
      let text = '';
      const length = Math.floor(random() * 80);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const path = [`/1/batch/${dataset}`, `/1/events/${dataset}`, `/api/v1/query/${dataset}`, '/api/v1/keys'][round % 4] as string;
      const res = await post(path, text, adminKey);
      const body = await res.text();
      if (res.status >= 500) throw new Error(`${path} answered ${res.status} to ${JSON.stringify(text)}: ${body}`);
      if (res.status >= 400) expect(JSON.parse(body).error.code).toEqual(expect.any(String));
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('an invalid dataset name is a 400', async () => {
    await expectError(await post(`/1/batch/${encodeURIComponent('bad name!')}`, '[{"data":{"a":1}}]', ingestKey), 400, 'invalid_input');
  });
});

describe('API keys', () => {
  it('creates, lists (without hashes) and revokes keys', async () => {
    const created = await post('/api/v1/keys', JSON.stringify({ name: 'ci', scopes: ['ingest', 'query'] }));
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string; name: string; scopes: string[]; created_by: string };
    expect(key).toMatchObject({ name: 'ci', scopes: ['ingest', 'query'], created_by: 'admin' });
    expect((await fetch(`${server.url}/api/v1/datasets`, { headers: headers(key.key) })).status).toBe(200);

    const list = (await (await fetch(`${server.url}/api/v1/keys`, { headers: headers(adminKey) })).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    const listed = list.keys.find((k) => k.id === key.id);
    expect(listed).toMatchObject({ name: 'ci', revoked_at: null });
    expect(JSON.stringify(list)).not.toMatch(/hash|fsk_/);

    const revoked = await fetch(`${server.url}/api/v1/keys/${key.id}`, { method: 'DELETE', headers: headers(adminKey) });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revoked_at: number | null }).revoked_at).toEqual(expect.any(Number));
    expect((await fetch(`${server.url}/api/v1/datasets`, { headers: headers(key.key) })).status).toBe(401);
  });

  it('refuses bad key requests', async () => {
    expect((await post('/api/v1/keys', JSON.stringify({ name: 'x', scopes: ['root'] }))).status).toBe(400);
    expect((await post('/api/v1/keys', JSON.stringify({ scopes: ['query'] }))).status).toBe(400);
    expect((await fetch(`${server.url}/api/v1/keys/key_missing`, { method: 'DELETE', headers: headers(adminKey) })).status).toBe(404);
  });
});
