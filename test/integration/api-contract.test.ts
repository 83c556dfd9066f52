/**
 * The API keeps its word (issue 9): every error the server sends has a status and code listed in
 * docs/api.md's "Errors" table (read from the docs here, so they cannot drift apart), and every
 * answer with a body has the content type the docs name. Representative failing requests on
 * every route; the body policy's accepted content types on every route that reads a body.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const MAX_BODY_BYTES = 64 * 1024;

let dir: string;
let server: RunningServer;
let admin: string;
let queryOnly: string;
let documented: Set<string>;

interface Probe {
  what: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Key to send; default admin; null sends none. */
  key?: string | null;
}

/** `status code` pairs of the Errors table of docs/api.md. */
async function documentedErrors(): Promise<Set<string>> {
  const text = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('## Errors'), text.indexOf('\n## ', text.indexOf('## Errors') + 1));
  const pairs = new Set<string>();
  for (const match of section.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)) pairs.add(`${match[1]} ${match[2]}`);
  return pairs;
}

async function send(probe: Probe): Promise<{ status: number; type: string | null; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...probe.headers };
  const key = probe.key === undefined ? admin : probe.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(server.url + probe.path, { method: probe.method, headers, body: probe.body });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function asAdmin(method: string, path: string, body: unknown): Promise<any> {
  const res = await send({ what: 'setup', method, path, body: JSON.stringify(body) });
  expect(res.status, res.text).toBeLessThan(300);
  return JSON.parse(res.text);
}

const big = JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) });

/** Failing requests, a few per route. */
function probes(): Probe[] {
  const ifMatch = { 'if-match': '"1"' };
  return [
    { what: 'unknown route', method: 'GET', path: '/api/v1/nothing' },
    { what: 'wrong method', method: 'DELETE', path: '/api/v1/datasets' },
    { what: 'bad percent-encoding', method: 'GET', path: '/api/v1/flags/%E0%A4%A' },
    { what: 'no key', method: 'GET', path: '/api/v1/datasets', key: null },
    { what: 'unknown key', method: 'GET', path: '/api/v1/datasets', key: `fsk_${'x'.repeat(43)}` },
    { what: 'scope missing', method: 'GET', path: '/api/v1/keys', key: queryOnly },
    { what: 'event: malformed JSON', method: 'POST', path: '/1/events/web', body: '{"a":' },
    { what: 'event: not an object', method: 'POST', path: '/1/events/web', body: '[1]' },
    { what: 'event: bad samplerate', method: 'POST', path: '/1/events/web', body: '{}', headers: { 'x-honeycomb-samplerate': 'x' } },
    { what: 'event: bad dataset name', method: 'POST', path: '/1/events/-bad', body: '{}' },
    { what: 'batch: not an array', method: 'POST', path: '/1/batch/web', body: '{}' },
    { what: 'batch: too large', method: 'POST', path: '/1/batch/web', body: big },
    { what: 'batch: bad gzip', method: 'POST', path: '/1/batch/web', body: 'nope', headers: { 'content-encoding': 'gzip' } },
    { what: 'batch: encoding', method: 'POST', path: '/1/batch/web', body: '[]', headers: { 'content-encoding': 'br' } },
    { what: 'batch: content type', method: 'POST', path: '/1/batch/web', body: '[]', headers: { 'content-type': 'image/png' } },
    { what: 'otlp: content type', method: 'POST', path: '/v1/traces', body: '{}', headers: { 'content-type': 'text/plain' } },
    { what: 'otlp: logs', method: 'POST', path: '/v1/logs', body: '{}' },
    { what: 'otlp: scope missing', method: 'POST', path: '/v1/traces', body: '{}', key: queryOnly },
    { what: 'query: unknown dataset', method: 'POST', path: '/api/v1/query/nope', body: '{"calculations":[{"op":"COUNT"}]}' },
    { what: 'query: unknown column', method: 'POST', path: '/api/v1/query/web', body: '{"calculations":[{"op":"P99","column":"zz"}]}' },
    { what: 'query: huge time_range', method: 'POST', path: '/api/v1/query/web', body: '{"time_range":9007199254740991}' },
    { what: 'columns: unknown dataset', method: 'GET', path: '/api/v1/datasets/nope/columns' },
    { what: 'compare: bad metric', method: 'POST', path: '/api/v1/compare/web', body: '{"flags":["f"],"metrics":["NOPE(a"]}' },
    { what: 'compare: no flags', method: 'POST', path: '/api/v1/compare/web', body: '{}' },
    { what: 'compare: unknown dataset', method: 'POST', path: '/api/v1/compare/nope', body: '{"flags":["f"]}' },
    { what: 'explain: no selection', method: 'POST', path: '/api/v1/explain/web', body: '{}' },
    { what: 'explain: bad selection', method: 'POST', path: '/api/v1/explain/web', body: '{"selection":"a ="}' },
    { what: 'keys: no name', method: 'POST', path: '/api/v1/keys', body: '{"scopes":["query"]}' },
    { what: 'keys: unknown scope', method: 'POST', path: '/api/v1/keys', body: '{"name":"x","scopes":["root"]}' },
    { what: 'keys: unknown id', method: 'DELETE', path: '/api/v1/keys/key_000000000000' },
    { what: 'flags: bad kind', method: 'GET', path: '/api/v1/flags?kind=nope' },
    { what: 'flags: unknown', method: 'GET', path: '/api/v1/flags/nope' },
    { what: 'flags: create existing', method: 'POST', path: '/api/v1/flags', body: JSON.stringify(flagBody('c.flag')) },
    { what: 'flags: create invalid', method: 'POST', path: '/api/v1/flags', body: '{"key":"x"}' },
    { what: 'flags: put without If-Match', method: 'PUT', path: '/api/v1/flags/c.flag', body: JSON.stringify(flagBody('c.flag')) },
    {
      what: 'flags: put stale',
      method: 'PUT',
      path: '/api/v1/flags/c.flag',
      body: JSON.stringify(flagBody('c.flag')),
      headers: { 'if-match': '"99"' },
    },
    { what: 'flags: patch unknown', method: 'PATCH', path: '/api/v1/flags/nope', body: '{}', headers: ifMatch },
    { what: 'flags: archive unknown', method: 'POST', path: '/api/v1/flags/nope/archive', body: '' },
    { what: 'flags: history limit', method: 'GET', path: '/api/v1/flags/c.flag/history?limit=0' },
    { what: 'flags: rollout missing', method: 'PUT', path: '/api/v1/flags/c.flag/rollout', body: '{}' },
    { what: 'press: no reason', method: 'POST', path: '/api/v1/flags/c.switch/press', body: '{}' },
    { what: 'press: not a switch', method: 'POST', path: '/api/v1/flags/c.flag/press', body: '{"reason":"x"}' },
    { what: 'release: unknown', method: 'POST', path: '/api/v1/flags/nope/release', body: '{"reason":"x"}' },
    { what: 'import: no flags', method: 'POST', path: '/api/v1/import/flagd', body: '{}' },
    { what: 'stream: scope', method: 'GET', path: '/api/v1/stream', key: queryOnly },
    { what: 'ofrep: no key', method: 'POST', path: '/ofrep/v1/evaluate/flags/c.flag', body: '{}', key: null },
    { what: 'services: scope', method: 'GET', path: '/api/v1/services', key: queryOnly },
    { what: 'keys: a valid key has the name', method: 'POST', path: '/api/v1/keys', body: '{"name":"q","scopes":["query"]}' },
    { what: 'whoami: no key', method: 'GET', path: '/api/v1/whoami', key: null },
  ];
}

function flagBody(key: string, kind = 'release'): Record<string, unknown> {
  return {
    key,
    service: 'api',
    kind,
    variants: { on: true, off: false },
    defaultVariant: 'off',
    ...(kind === 'kill-switch' ? { safeVariant: 'off' } : {}),
  };
}

beforeAll(async () => {
  documented = await documentedErrors();
  dir = await mkdtemp(join(tmpdir(), 'flagscope-contract-'));
  server = await startServer({ dataDir: dir, port: 0, limits: { maxBodyBytes: MAX_BODY_BYTES } });
  admin = server.adminKey as string;
  queryOnly = (await asAdmin('POST', '/api/v1/keys', { name: 'q', scopes: ['query'] })).key;
  await asAdmin('POST', '/1/batch/web', [
    { data: { a: 1, 'flag.f': 'on', error: false } },
    { data: { a: 2, 'flag.f': 'off', error: true } },
  ]);
  await asAdmin('POST', '/api/v1/flags', flagBody('c.flag'));
  await asAdmin('POST', '/api/v1/flags', flagBody('c.switch', 'kill-switch'));
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('errors and content types as docs/api.md lists them', () => {
  it('reads the Errors table of the docs', () => {
    expect(documented).toContain('400 invalid_input');
    expect(documented).toContain('405 invalid_input');
    expect(documented.size).toBeGreaterThanOrEqual(8);
  });

  it('answers every failing request with a documented status and code, as JSON', async () => {
    const off: string[] = [];
    for (const probe of probes()) {
      const res = await send(probe);
      let code = '(no error body)';
      try {
        code = JSON.parse(res.text).error.code;
      } catch {
        // reported below
      }
      if (res.status < 400 || !documented.has(`${res.status} ${code}`) || res.type !== JSON_TYPE)
        off.push(`${probe.what}: ${res.status} ${code} ${res.type} ${res.text.slice(0, 200)}`);
    }
    expect(off).toEqual([]);
  });

  it('names a bad compare metric invalid_input, not the CLI word usage', async () => {
    const res = await send({
      what: 'bad metric',
      method: 'POST',
      path: '/api/v1/compare/web',
      body: '{"flags":["f"],"metrics":["NOPE(a"]}',
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).error).toMatchObject({ code: 'invalid_input', message: expect.any(String), hint: expect.any(String) });
  });

  it('answers successful requests as JSON, and the stream as an event stream', async () => {
    for (const path of [
      '/healthz',
      '/api/v1/datasets',
      '/api/v1/datasets/web/columns',
      '/api/v1/keys',
      '/api/v1/flags',
      '/api/v1/flags/c.flag',
      '/api/v1/services',
      '/api/v1/export/flagd',
      '/ofrep/v1/configuration',
      '/api/v1/whoami',
    ]) {
      const res = await send({ what: path, method: 'GET', path });
      expect(res.status, path).toBe(200);
      expect(res.type, path).toBe(JSON_TYPE);
    }
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/stream`, { headers: { authorization: `Bearer ${admin}` }, signal: controller.signal });
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    controller.abort();
  });

  it('reads every content type the body policy lists, compare and explain included', async () => {
    const bodies: Array<{ path: string; body: string; ok: number }> = [
      { path: '/api/v1/compare/web', body: '{"flags":["f"],"metrics":["COUNT"],"time_range":3600,"unit":null}', ok: 200 },
      { path: '/api/v1/explain/web', body: '{"selection":[{"column":"error","op":"=","value":true}],"time_range":3600}', ok: 200 },
      { path: '/api/v1/query/web', body: '{"calculations":[{"op":"COUNT"}]}', ok: 200 },
      { path: '/1/batch/web', body: '[{"data":{"a":3}}]', ok: 200 },
      { path: '/api/v1/flags/c.switch/release', body: '{"reason":"drill"}', ok: 200 },
    ];
    const types = [
      undefined,
      'application/json',
      'application/vnd.api+json',
      'text/plain',
      'application/x-ndjson',
      'application/x-www-form-urlencoded',
    ];
    const off: string[] = [];
    for (const { path, body, ok } of bodies) {
      for (const type of types) {
        const headers: Record<string, string> = { authorization: `Bearer ${admin}` };
        if (type !== undefined) headers['content-type'] = type;
        const res = await fetch(server.url + path, { method: 'POST', headers, body: type === undefined ? Buffer.from(body) : body });
        const text = await res.text();
        if (res.status !== ok) off.push(`${path} as ${type ?? 'no content type'}: ${res.status} ${text.slice(0, 200)}`);
      }
      const gz = await fetch(server.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(body),
      });
      if (gz.status !== ok) off.push(`${path} gzip: ${gz.status} ${await gz.text()}`);
      else await gz.arrayBuffer();
    }
    expect(off).toEqual([]);
  });
});
