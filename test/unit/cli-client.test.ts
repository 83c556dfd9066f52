/**
 * The API client against a scripted loopback HTTP server: how each status and
 * network failure becomes a FlagscopeError (and so an exit code), retries with
 * backoff, timeouts and the auth header.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiClient } from '../../src/client/api-client.js';
import { pressOrRelease } from '../../src/client/buttons.js';
import { listFlags, patchFlag } from '../../src/client/flags.js';
import { createApiKey, listApiKeys } from '../../src/client/keys.js';
import { evaluateFlag } from '../../src/client/ofrep.js';
import { FlagscopeError } from '../../src/errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server | undefined;

async function serve(handler: Handler): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function failure(promise: Promise<unknown>): Promise<FlagscopeError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(FlagscopeError);
    return e as FlagscopeError;
  }
  throw new Error('expected a failure');
}

describe('createApiClient', () => {
  it('sends the key as a bearer token and JSON bodies, and parses the responses', async () => {
    const seen: { auth?: string; path?: string; body?: string }[] = [];
    const url = await serve((req, res, body) => {
      seen.push({ auth: req.headers.authorization, path: req.url, body });
      if (req.url === '/api/v1/datasets') sendJson(res, 200, { datasets: [{ name: 'a b', rows: 1, columns: 2 }] });
      else if (req.url?.startsWith('/1/batch/')) sendJson(res, 200, [{ status: 202 }, { status: 400, error: 'bad' }]);
      else sendJson(res, 404, { error: { code: 'not_found', message: 'no route' } });
    });
    const client = createApiClient({ baseUrl: `${url}/`, apiKey: 'k1' });
    expect(await client.listDatasets()).toEqual([{ name: 'a b', rows: 1, columns: 2 }]);
    expect(await client.sendBatch('a b', [{ data: { x: 1 } }, { data: { x: 2 }, samplerate: 3 }])).toEqual([
      { status: 202 },
      { status: 400, error: 'bad' },
    ]);
    await client.close();
    expect(seen[0]).toEqual({ auth: 'Bearer k1', path: '/api/v1/datasets', body: '' });
    expect(seen[1]?.path).toBe('/1/batch/a%20b');
    expect(JSON.parse(seen[1]?.body ?? '')).toEqual([{ data: { x: 1 } }, { data: { x: 2 }, samplerate: 3 }]);
  });

  it('maps 400, 401, 403, 404 and 409 to errors with the exit codes of the spec', async () => {
    const url = await serve((req, res) => {
      const status = Number(req.url?.slice(1));
      sendJson(res, status, { error: { code: 'x', message: `server says ${status}`, hint: `server hint ${status}` } });
    });
    const client = createApiClient({ baseUrl: url, retries: 0 });
    const cases: [number, string, number][] = [
      [400, 'invalid_input', 2],
      [401, 'unauthenticated', 4],
      [403, 'forbidden', 4],
      [404, 'not_found', 3],
      [409, 'conflict', 6],
    ];
    for (const [status, code, exit] of cases) {
      const e = await failure(client.requestJson('GET', `/${status}`));
      expect([e.code, e.exitCode], String(status)).toEqual([code, exit]);
    }
    const bad = await failure(client.requestJson('GET', '/400'));
    expect([bad.message, bad.hint]).toEqual(['server says 400', 'server hint 400']);
    const auth = await failure(client.requestJson('GET', '/401'));
    expect(auth.message).toBe(`the flagscope API at ${url} refused the request: server says 401`);
    expect(auth.hint).toBe('pass `--api-key`, set FLAGSCOPE_API_KEY, or choose a profile with `--profile`');
    await client.close();
  });

  it('retries 429 and 5xx with backoff, then succeeds', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      if (calls === 1) sendJson(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '0' });
      else if (calls === 2) sendJson(res, 503, { error: { message: 'busy' } });
      else sendJson(res, 200, { status: 'ok' });
    });
    const client = createApiClient({ baseUrl: url, retryDelayMs: 1 });
    expect(await client.health()).toEqual({ status: 'ok' });
    expect(calls).toBe(3);
    await client.close();
  });

  it('gives up after the retries with exit 5 and the server message', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      sendJson(res, 500, { error: { code: 'internal', message: 'disk full' } });
    });
    const client = createApiClient({ baseUrl: url, retries: 2, retryDelayMs: 1 });
    const e = await failure(client.listDatasets());
    expect(calls).toBe(3);
    expect(e.exitCode).toBe(5);
    expect(e.message).toBe(`the flagscope API at ${url} failed after 3 attempts: disk full`);
    await client.close();
  });

  it('repeats a batch after a 500 under one Idempotency-Key, so a server stores it once', async () => {
    const keys: unknown[] = [];
    const url = await serve((req, res) => {
      keys.push(req.headers['idempotency-key']);
      sendJson(res, 500, { error: { message: 'boom' } });
    });
    const client = createApiClient({ baseUrl: url, retryDelayMs: 1, retries: 2 });
    expect((await failure(client.sendBatch('d', [{ data: {} }]))).code).toBe('server_error');
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    await client.close();
  });

  it('times out with exit 5 and a hint to raise --timeout', async () => {
    const url = await serve(() => undefined);
    const client = createApiClient({ baseUrl: url, timeoutMs: 200 });
    const e = await failure(client.health());
    expect(e.code).toBe('timeout');
    expect(e.exitCode).toBe(5);
    expect(e.message).toBe(`the server did not answer in time (the flagscope API at ${url}, within 200ms)`);
    expect(e.hint).toContain('`--timeout`');
    await client.close();
  });

  it('tells a write that got no answer in time (the change may have happened) apart from an unreachable server', async () => {
    const url = await serve(() => undefined);
    const client = createApiClient({ baseUrl: url, timeoutMs: 200 });
    const late = await failure(pressOrRelease(client, 'press', 'pay-off', 'incident'));
    expect([late.code, late.exitCode]).toEqual(['timeout', 5]);
    expect(late.message).toBe(
      `the server did not answer in time (the flagscope API at ${url}, within 200ms); the change may have happened: check with \`flagscope buttons\``,
    );
    expect(late.hint).toContain('check before repeating it');
    await client.close();

    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const gone = createApiClient({ baseUrl: url, timeoutMs: 200, retries: 0 });
    const refused = await failure(pressOrRelease(gone, 'release', 'pay-off', 'fixed'));
    expect([refused.code, refused.exitCode]).toEqual(['unreachable', 5]);
    expect(refused.message).toBe(`cannot reach the flagscope API at ${url}: connection refused`);
    expect(refused.message).not.toContain('may have happened');
    await gone.close();
  });

  it('sends its deadline with analyses, a little under --timeout, and does not repeat one the server stopped (504)', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      seen.push(req.headers['x-flagscope-timeout'] as string | undefined);
      sendJson(res, 504, {
        error: { code: 'timeout', message: 'the analysis did not finish within its deadline of 9 s', hint: 'narrow it' },
      });
    });
    const client = createApiClient({ baseUrl: url, timeoutMs: 10_000, retryDelayMs: 1 });
    const e = await failure(client.query('web', { calculations: [{ op: 'COUNT' }] }));
    expect(seen).toEqual(['9000']);
    expect([e.code, e.exitCode]).toEqual(['timeout', 5]);
    expect(e.message).toBe(
      `the flagscope API at ${url} stopped POST /api/v1/query/web: the analysis did not finish within its deadline of 9 s`,
    );
    expect(e.hint).toBe('narrow it');
    await client.close();
  });

  it('reports a 429 overloaded with the Retry-After the server asked for, after its retries', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      sendJson(res, 429, { error: { code: 'overloaded', message: 'the server is busy with analyses' } }, { 'retry-after': '0' });
    });
    const client = createApiClient({ baseUrl: url, retries: 1, retryDelayMs: 1 });
    const e = await failure(client.query('web', { calculations: [{ op: 'COUNT' }] }));
    expect(calls).toBe(2);
    expect([e.code, e.exitCode]).toEqual(['overloaded', 5]);
    expect(e.message).toBe(
      `the flagscope API at ${url} is overloaded and refused POST /api/v1/query/web (2 attempts): the server is busy with analyses; it asks to retry after 0 s (Retry-After)`,
    );
    expect(e.hint).toBe('try again in 0 s');
    await client.close();
  });

  it('reports a response of the wrong shape as a server error', async () => {
    const url = await serve((_req, res) => sendJson(res, 200, { unexpected: true }));
    const client = createApiClient({ baseUrl: url });
    const e = await failure(client.listColumns('d'));
    expect(e.message).toBe(`unexpected response to GET /api/v1/datasets/d/columns from ${url}`);
    await client.close();
  });
});

describe("the endpoint modules share the client's agent, timeouts and retries", () => {
  it("sends flags, keys, buttons and OFREP calls through the client's one dispatcher", async () => {
    const url = await serve((req, res) => {
      if (req.url === '/api/v1/flags') sendJson(res, 200, { configVersion: 1, flags: [] });
      else if (req.url === '/api/v1/keys') sendJson(res, 200, { keys: [] });
      else if (req.url?.startsWith('/ofrep/')) sendJson(res, 200, { key: 'f', value: true, variant: 'on', reason: 'STATIC', metadata: {} });
      else sendJson(res, 200, { changed: true });
    });
    const agent = new Agent();
    const dispatched: string[] = [];
    const dispatcher = agent.compose((dispatch) => (opts, handler) => {
      dispatched.push(`${opts.method} ${opts.path}`);
      return dispatch(opts, handler);
    });
    const client = createApiClient({ baseUrl: url, dispatcher });
    await listFlags(client);
    await listApiKeys(client);
    await pressOrRelease(client, 'press', 'f', 'drill');
    expect(await evaluateFlag(client, 'f', { targetingKey: 'u1' })).toMatchObject({ value: true, variant: 'on' });
    await client.close();
    await agent.close();
    expect(dispatched).toEqual(['GET /api/v1/flags', 'GET /api/v1/keys', 'POST /api/v1/flags/f/press', 'POST /ofrep/v1/evaluate/flags/f']);
  });

  it('reads OFREP failures (400, 404) as answers, and other errors as errors', async () => {
    const url = await serve((req, res, body) => {
      if (req.url?.endsWith('/missing')) sendJson(res, 404, { key: 'missing', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'no flag' });
      else if (req.url?.endsWith('/generic')) sendJson(res, 400, { error: { code: 'invalid_input', message: 'body too large' } });
      else sendJson(res, 401, { error: { message: 'no key' } });
      expect(JSON.parse(body)).toEqual({ context: { targetingKey: 'u1' } });
    });
    const client = createApiClient({ baseUrl: url });
    expect(await evaluateFlag(client, 'missing', { targetingKey: 'u1' })).toEqual({
      key: 'missing',
      errorCode: 'FLAG_NOT_FOUND',
      errorDetails: 'no flag',
    });
    const generic = await failure(evaluateFlag(client, 'generic', { targetingKey: 'u1' }));
    expect([generic.code, generic.message]).toEqual(['invalid_input', 'body too large']);
    expect((await failure(evaluateFlag(client, 'x', { targetingKey: 'u1' }))).exitCode).toBe(4);
    await client.close();
  });

  it('retries OFREP evaluation, a press and a key list after a 5xx, waiting through the injected sleep', async () => {
    const calls = new Map<string, number>();
    const url = await serve((req, res) => {
      const n = (calls.get(req.url ?? '') ?? 0) + 1;
      calls.set(req.url ?? '', n);
      if (n === 1) sendJson(res, 502, { error: { message: 'bad gateway' } }, { 'retry-after': '2' });
      else if (req.url === '/api/v1/keys') sendJson(res, 200, { keys: [] });
      else if (req.url?.startsWith('/ofrep/')) sendJson(res, 200, { key: 'f', value: 1, variant: 'a', reason: 'STATIC', metadata: {} });
      else sendJson(res, 200, { changed: true });
    });
    const waits: number[] = [];
    const client = createApiClient({
      baseUrl: url,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    expect((await evaluateFlag(client, 'f', {})).value).toBe(1);
    expect(await pressOrRelease(client, 'press', 'f', 'why')).toEqual({ changed: true });
    expect(await listApiKeys(client)).toEqual([]);
    await client.close();
    expect([...calls.values()]).toEqual([2, 2, 2]);
    expect(waits).toEqual([2000, 2000, 2000]);
  });

  it('does not repeat a key creation or a flag update after a 500', async () => {
    let calls = 0;
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      calls++;
      seen.push(req.headers['if-match'] as string | undefined);
      sendJson(res, 500, { error: { message: 'boom' } });
    });
    const client = createApiClient({ baseUrl: url, retryDelayMs: 1 });
    expect((await failure(createApiKey(client, 'ci', ['ingest']))).exitCode).toBe(5);
    expect((await failure(patchFlag(client, 'f', 3, { description: 'x' }))).exitCode).toBe(5);
    await client.close();
    expect(calls).toBe(2);
    expect(seen[1]).toBe('"3"');
  });

  it('applies --timeout to OFREP evaluation too (exit 5)', async () => {
    const url = await serve(() => undefined);
    const client = createApiClient({ baseUrl: url, timeoutMs: 200 });
    const e = await failure(evaluateFlag(client, 'f', {}));
    expect([e.code, e.exitCode]).toEqual(['timeout', 5]);
    await client.close();
  });
});
