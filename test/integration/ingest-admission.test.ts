/**
 * Ingest admission against the real server (issue 9, item 3): a body that does not fit the
 * in-flight body budget is refused before it is sent, a chunked one is cut off, `Expect:
 * 100-continue` gets its 100 only when the body will be read, a client that leaves stores
 * nothing, and `Idempotency-Key` stores a repeated request once.
 *
 * Requests that must stop half-way are written on raw sockets (node:net), so the test decides
 * exactly which bytes the server has seen.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/client/api-client.js';
import { startServer, type RunningServer } from '../../src/server/index.js';

/** A budget small enough that one held request fills most of it. */
const BUDGET = 1_000_000;
const RETRY_AFTER = 3;

let dir: string;
let server: RunningServer;
let key: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-admission-'));
  server = await startServer({ port: 0, dataDir: dir, limits: { maxInflightBodyBytes: BUDGET, retryAfterSeconds: RETRY_AFTER } });
  key = server.adminKey as string;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A batch body of about `bytes` bytes: items of about 1 KB. */
function batchBody(bytes: number, tag = 'x'): { text: string; items: number } {
  const items = Math.max(1, Math.round(bytes / 1_000));
  const pad = 'p'.repeat(960);
  const text = JSON.stringify(Array.from({ length: items }, (_, i) => ({ data: { i, tag, pad } })));
  return { text, items };
}

interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
  details?: unknown;
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw HTTP/1.1 connection: the test writes bytes and waits for what the server sends. */
class RawConnection {
  readonly socket: Socket;
  private received = '';
  private waiters: Array<() => void> = [];
  closed = false;
  readonly whenClosed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.received += text;
      this.wake();
    });
    socket.on('error', () => undefined);
    this.whenClosed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static open(): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, server.host, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes a request head (request line and headers). */
  head(method: string, path: string, headers: Record<string, string | number>): Promise<void> {
    const lines = [`${method} ${path} HTTP/1.1`, `host: ${server.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return this.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.write(data, () => resolve());
    });
  }

  /** True once the server has sent something (beyond an interim 100). */
  get answered(): boolean {
    return this.received.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '').length > 0;
  }

  /** Waits for the interim `100 Continue`; throws when a final answer comes instead. */
  async continued(): Promise<void> {
    await this.until(() => this.received.length > 0);
    if (!this.received.startsWith('HTTP/1.1 100 Continue\r\n\r\n'))
      throw new Error(`expected 100 Continue, got ${this.received.slice(0, 200)}`);
  }

  /** Waits for a complete final response (after any interim 100). */
  async response(): Promise<RawResponse> {
    let parsed: RawResponse | undefined;
    await this.until(() => {
      parsed = parseResponse(this.received.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''));
      return parsed !== undefined;
    });
    return parsed as RawResponse;
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) resolve();
        else if (this.closed) reject(new Error(`connection closed; received: ${this.received.slice(0, 300)}`));
        else this.waiters.push(check);
      };
      check();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = text.slice(end + 4);
  if (Buffer.byteLength(body, 'latin1') < length) return undefined;
  return { status: Number(statusLine?.split(' ')[1]), headers, body: body.slice(0, length) };
}

/**
 * Starts a batch that holds `bytes` of the budget: admitted (its 100 Continue came) but its body
 * not yet sent. `send()` sends the body and resolves with the answer.
 */
async function heldBatch(
  dataset: string,
  bytes: number,
  extra: Record<string, string> = {},
): Promise<{ send: () => Promise<RawResponse>; items: number }> {
  const { text, items } = batchBody(bytes, 'held');
  const conn = await RawConnection.open();
  await conn.head('POST', `/1/batch/${dataset}`, {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    expect: '100-continue',
    ...extra,
  });
  await conn.continued();
  return {
    items,
    send: async () => {
      await conn.write(text);
      const answer = await conn.response();
      conn.destroy();
      return answer;
    },
  };
}

async function rows(dataset: string): Promise<number> {
  const res = await fetch(`${server.url}/api/v1/datasets`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { datasets: Array<{ name: string; rows: number }> };
  return body.datasets.find((d) => d.name === dataset)?.rows ?? 0;
}

function post(path: string, body: string, headers: Record<string, string> = {}, bearer = key): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

function expectOverloaded(answer: RawResponse): void {
  expect(answer.status).toBe(429);
  expect(answer.headers['retry-after']).toBe(String(RETRY_AFTER));
  const error = JSON.parse(answer.body).error;
  expect(error.code).toBe('overloaded');
  expect(error.message).toMatch(/request bodies/);
  expect(error.hint).toMatch(/retry/);
}

describe('ingest admission before the body is read', () => {
  it('refuses a Content-Length that does not fit with 429 before the body is sent, and closes the connection', async () => {
    const held = await heldBatch('adm-held', 900_000);
    const conn = await RawConnection.open();
    await conn.head('POST', '/1/batch/adm-refused', { authorization: `Bearer ${key}`, 'content-length': 300_000 });
    // Not one byte of the body is sent: the answer comes anyway.
    const answer = await conn.response();
    expectOverloaded(answer);
    expect(answer.headers.connection).toBe('close');
    await conn.whenClosed;

    const stored = await held.send();
    expect(stored.status).toBe(200);
    expect((JSON.parse(stored.body) as Array<{ status: number }>).every((o) => o.status === 202)).toBe(true);
    expect(await rows('adm-held')).toBe(held.items);
    expect(await rows('adm-refused')).toBe(0);
  });

  it('drains a small refused body and keeps the connection', async () => {
    const held = await heldBatch('adm-held-small', 999_500);
    const { text } = batchBody(10_000, 'small');
    const conn = await RawConnection.open();
    await conn.head('POST', '/1/batch/adm-small', { authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(text) });
    await conn.write(text);
    const answer = await conn.response();
    expectOverloaded(answer);
    expect(answer.headers.connection).not.toBe('close');
    conn.destroy();
    expect((await held.send()).status).toBe(200);
    expect(await rows('adm-small')).toBe(0);
  });

  it('cuts off a chunked body once it passes what is left of the budget', async () => {
    const held = await heldBatch('adm-held-chunked', 900_000);
    const conn = await RawConnection.open();
    await conn.head('POST', '/1/batch/adm-chunked', { authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' });
    const chunk = Buffer.from(`{"data":{"pad":"${'q'.repeat(16_000)}"}},`);
    await conn.write(`1\r\n[\r\n`);
    let sent = 0;
    // Far more than the 100 KB left, far less than the 5 MB body limit: only the budget can stop it.
    for (let i = 0; i < 200 && !conn.answered && !conn.closed; i++) {
      await conn.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
      sent += chunk.length;
      // Let the server (in this process) read what was sent.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const answer = await conn.response();
    expectOverloaded(answer);
    expect(answer.headers.connection).toBe('close');
    expect(sent).toBeLessThan(3_000_000);
    await conn.whenClosed;
    expect((await held.send()).status).toBe(200);
    expect(await rows('adm-chunked')).toBe(0);
  });

  it('counts a gzip body by what it inflates to', async () => {
    const held = await heldBatch('adm-held-gzip', 900_000);
    const { gzipSync } = await import('node:zlib');
    const { text } = batchBody(400_000, 'gz');
    const compressed = gzipSync(text);
    expect(compressed.length).toBeLessThan(100_000);
    const conn = await RawConnection.open();
    await conn.head('POST', '/1/batch/adm-gzip', {
      authorization: `Bearer ${key}`,
      'content-encoding': 'gzip',
      'content-length': compressed.length,
    });
    await conn.write(compressed);
    expectOverloaded(await conn.response());
    conn.destroy();
    expect((await held.send()).status).toBe(200);
    expect(await rows('adm-gzip')).toBe(0);
  });

  it('answers Expect: 100-continue with 100 only when the body will be read', async () => {
    // Admitted: 100, then the body, then the answer.
    const { text, items } = batchBody(5_000, 'continue');
    const ok = await RawConnection.open();
    await ok.head('POST', '/1/batch/adm-continue', {
      authorization: `Bearer ${key}`,
      'content-length': Buffer.byteLength(text),
      expect: '100-continue',
    });
    await ok.continued();
    await ok.write(text);
    expect((await ok.response()).status).toBe(200);
    ok.destroy();
    expect(await rows('adm-continue')).toBe(items);

    // Refused before reading (a bad key, a full budget): the final answer at once, no 100.
    const unauthenticated = await RawConnection.open();
    await unauthenticated.head('POST', '/1/batch/adm-continue', {
      authorization: 'Bearer nope',
      'content-length': Buffer.byteLength(text),
      expect: '100-continue',
    });
    const refused = await unauthenticated.response();
    expect(refused.status).toBe(401);
    expect(refused.headers.connection).toBe('close');
    unauthenticated.destroy();

    const held = await heldBatch('adm-held-continue', 900_000);
    const over = await RawConnection.open();
    await over.head('POST', '/1/batch/adm-continue', {
      authorization: `Bearer ${key}`,
      'content-length': 200_000,
      expect: '100-continue',
    });
    const overloaded = await over.response();
    expectOverloaded(overloaded);
    over.destroy();
    expect((await held.send()).status).toBe(200);
    expect(await rows('adm-continue')).toBe(items);
  });

  it('stores nothing of a batch whose client leaves half-way through its body, and frees its bytes', async () => {
    const { text } = batchBody(900_000, 'gone');
    const conn = await RawConnection.open();
    await conn.head('POST', '/1/batch/adm-gone', {
      authorization: `Bearer ${key}`,
      'content-length': Buffer.byteLength(text),
      expect: '100-continue',
    });
    await conn.continued();
    await conn.write(text.slice(0, 450_000));
    conn.destroy();
    // Its 900 KB come back to the budget: a held 900 KB batch and another 50 KB body fit beside it afterwards.
    let fitted = false;
    for (let attempt = 0; attempt < 200 && !fitted; attempt++) {
      const held = await heldBatch('adm-after-gone', 900_000).catch(() => undefined);
      if (held === undefined) continue;
      fitted = true;
      const small = batchBody(50_000, 'beside');
      const answer = await post('/1/batch/adm-after-gone', small.text);
      expect(answer.status).toBe(200);
      expect((await held.send()).status).toBe(200);
    }
    expect(fitted).toBe(true);
    expect(await rows('adm-gone')).toBe(0);
  });
});

describe('Idempotency-Key', () => {
  it('stores a repeated batch once and gives the first answer back', async () => {
    const body = JSON.stringify([{ data: { n: 1 } }, { data: 'bad' }, { data: { n: 2 } }]);
    const first = await post('/1/batch/idem-batch', body, { 'idempotency-key': 'batch-1' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotency-replayed')).toBeNull();
    const firstAnswer = await first.text();
    for (let i = 0; i < 3; i++) {
      const repeat = await post('/1/batch/idem-batch', body, { 'idempotency-key': 'batch-1' });
      expect(repeat.status).toBe(200);
      expect(repeat.headers.get('idempotency-replayed')).toBe('true');
      expect(repeat.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await repeat.text()).toBe(firstAnswer);
    }
    expect(await rows('idem-batch')).toBe(2);
    // Without a key, or with another one, the same body is stored again.
    expect((await post('/1/batch/idem-batch', body)).status).toBe(200);
    expect((await post('/1/batch/idem-batch', body, { 'idempotency-key': 'batch-2' })).status).toBe(200);
    expect(await rows('idem-batch')).toBe(6);
  });

  it('stores a repeated single event once', async () => {
    const headers = { 'idempotency-key': 'event-1', 'x-honeycomb-samplerate': '4' };
    const first = await post('/1/events/idem-event', '{"n": 1}', headers);
    expect(first.status).toBe(200);
    const repeat = await post('/1/events/idem-event', '{"n": 1}', headers);
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get('idempotency-replayed')).toBe('true');
    expect(await repeat.text()).toBe('');
    expect(await rows('idem-event')).toBe(1);
    // The same key with other metadata is another request.
    const other = await post('/1/events/idem-event', '{"n": 1}', { 'idempotency-key': 'event-1', 'x-honeycomb-samplerate': '5' });
    expect(other.status).toBe(409);
    expect(((await other.json()) as { error: ErrorBody }).error.details).toEqual({ idempotency: 'different_request' });
  });

  it('refuses the same key with a different body (409) and stores nothing of it', async () => {
    expect((await post('/1/batch/idem-diff', '[{"data":{"a":1}}]', { 'idempotency-key': 'k' })).status).toBe(200);
    const other = await post('/1/batch/idem-diff', '[{"data":{"a":2}}]', { 'idempotency-key': 'k' });
    expect(other.status).toBe(409);
    const error = ((await other.json()) as { error: ErrorBody }).error;
    expect(error).toMatchObject({ code: 'conflict', details: { idempotency: 'different_request' } });
    expect(error.hint).toMatch(/new Idempotency-Key/);
    expect(await rows('idem-diff')).toBe(1);
  });

  it('scopes keys by API key, route and dataset', async () => {
    const created = await post('/api/v1/keys', JSON.stringify({ name: 'other-writer', scopes: ['ingest'] }));
    const otherKey = ((await created.json()) as { key: string }).key;
    const body = '[{"data":{"s":1}}]';
    const headers = { 'idempotency-key': 'shared' };
    expect((await post('/1/batch/idem-scope-a', body, headers)).headers.get('idempotency-replayed')).toBeNull();
    expect((await post('/1/batch/idem-scope-b', body, headers)).headers.get('idempotency-replayed')).toBeNull();
    expect((await post('/1/batch/idem-scope-a', body, headers, otherKey)).headers.get('idempotency-replayed')).toBeNull();
    expect((await post('/1/events/idem-scope-a', '{"s":1}', headers)).headers.get('idempotency-replayed')).toBeNull();
    expect(await rows('idem-scope-a')).toBe(3);
    expect(await rows('idem-scope-b')).toBe(1);
  });

  it('refuses a repeat while the first request runs (409), then replays its answer', async () => {
    const held = await heldBatch('idem-inflight', 20_000, { 'idempotency-key': 'slow' });
    const { text } = batchBody(20_000, 'held');
    const duplicate = await post('/1/batch/idem-inflight', text, { 'idempotency-key': 'slow' });
    expect(duplicate.status).toBe(409);
    const error = ((await duplicate.json()) as { error: ErrorBody }).error;
    expect(error).toMatchObject({ code: 'conflict', details: { idempotency: 'in_flight' } });
    expect(error.hint).toMatch(/wait/);
    const answer = await held.send();
    expect(answer.status).toBe(200);
    const repeat = await post('/1/batch/idem-inflight', text, { 'idempotency-key': 'slow' });
    expect(repeat.headers.get('idempotency-replayed')).toBe('true');
    expect(await repeat.text()).toBe(answer.body);
    expect(await rows('idem-inflight')).toBe(held.items);
  });

  it('lets a repeat run when the first stored nothing (refused or its client gone)', async () => {
    const bad = await post('/1/batch/idem-retry', 'not json', { 'idempotency-key': 'r' });
    expect(bad.status).toBe(400);
    const conn = await RawConnection.open();
    const { text, items } = batchBody(20_000, 'retry');
    await conn.head('POST', '/1/batch/idem-retry', {
      authorization: `Bearer ${key}`,
      'content-length': Buffer.byteLength(text),
      'idempotency-key': 'r2',
      expect: '100-continue',
    });
    await conn.continued();
    await conn.write(text.slice(0, 100));
    conn.destroy();
    expect((await post('/1/batch/idem-retry', text, { 'idempotency-key': 'r' })).status).toBe(200);
    // The key of the request whose client left is given back once the server has seen it leave.
    let status = 409;
    for (let attempt = 0; attempt < 200 && status === 409; attempt++) {
      status = (await post('/1/batch/idem-retry', text, { 'idempotency-key': 'r2' })).status;
    }
    expect(status).toBe(200);
    expect(await rows('idem-retry')).toBe(2 * items);
  });

  it('refuses a malformed key', async () => {
    const res = await post('/1/batch/idem-bad', '[]', { 'idempotency-key': 'x'.repeat(256) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: ErrorBody }).error.message).toMatch(/Idempotency-Key/);
  });
});

describe("the API client's batches (flagscope events send)", () => {
  it('repeats a batch whose answer was lost, and the server stores it once', async () => {
    // A proxy in front of the server that forwards every request and cuts the connection
    // instead of giving the client the first answer (as a network failure after the commit would).
    const seenKeys: string[] = [];
    let cut = 0;
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        seenKeys.push(String(req.headers['idempotency-key']));
        const upstream = await fetch(`${server.url}${req.url}`, {
          method: req.method,
          headers: { authorization: String(req.headers.authorization), 'idempotency-key': String(req.headers['idempotency-key']) },
          body: Buffer.concat(chunks),
        });
        const text = await upstream.text();
        if (cut++ === 0) {
          req.socket.destroy();
          return;
        }
        res.writeHead(upstream.status, { 'content-type': 'application/json' });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    const client = createApiClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: key, retryDelayMs: 1 });
    try {
      const items = [{ data: { n: 1 } }, { data: { n: 2 } }, { data: { n: 3 } }];
      expect(await client.sendBatch('client-retry', items)).toEqual([{ status: 202 }, { status: 202 }, { status: 202 }]);
      expect(seenKeys).toHaveLength(2);
      expect(seenKeys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(seenKeys[1]).toBe(seenKeys[0]);
      expect(await rows('client-retry')).toBe(3);
      // Another batch has a key of its own.
      await client.sendBatch('client-retry', items);
      expect(seenKeys[2]).not.toBe(seenKeys[0]);
      expect(await rows('client-retry')).toBe(6);
    } finally {
      await client.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
