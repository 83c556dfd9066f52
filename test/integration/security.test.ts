import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

type Scope = 'ingest' | 'query' | 'flags:read' | 'flags:write' | 'killswitch' | 'admin';
const SCOPES: Scope[] = ['ingest', 'query', 'flags:read', 'flags:write', 'killswitch', 'admin'];

interface PreparedRequest {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Endpoint {
  name: string;
  /** The scope that grants it (besides admin), or the scopes that each do. */
  scope: Scope | Scope[];
  /** Status of a granted call. */
  ok: number;
  /** Builds a fresh, valid request (may set up state with the admin key first). */
  prepare: (n: number) => Promise<PreparedRequest>;
}

let dir: string;
let server: RunningServer;
let adminKey: string;
const keyOf = new Map<Scope, string>();

async function send(r: PreparedRequest, key: string | null): Promise<number> {
  const headers: Record<string, string> = { ...r.headers };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + r.path, {
    method: r.method,
    headers,
    body: r.body === undefined ? undefined : JSON.stringify(r.body),
  });
  await res.arrayBuffer();
  return res.status;
}

async function asAdmin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text.length > 0 ? JSON.parse(text) : undefined;
  expect(res.status, text).toBeLessThan(300);
  return json;
}

const flag = (key: string, kind = 'release'): Record<string, unknown> => ({
  key,
  service: 'sec',
  kind,
  variants: { on: true, off: false },
  defaultVariant: 'off',
  ...(kind === 'kill-switch' ? { safeVariant: 'off' } : {}),
});

async function version(key: string): Promise<string> {
  return `"${(await asAdmin('GET', `/api/v1/flags/${key}`)).flag.version}"`;
}

/** Every endpoint of the server with the scope that grants it. */
const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /1/events/:dataset',
    scope: 'ingest',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/1/events/sec', body: { a: 1 } }),
  },
  {
    name: 'POST /1/batch/:dataset',
    scope: 'ingest',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/1/batch/sec', body: [{ data: { a: 1 } }] }),
  },
  {
    name: 'POST /api/v1/query/:dataset',
    scope: 'query',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/api/v1/query/sec', body: { calculations: [{ op: 'COUNT' }], time_range: 3600 } }),
  },
  { name: 'GET /api/v1/datasets', scope: 'query', ok: 200, prepare: async () => ({ method: 'GET', path: '/api/v1/datasets' }) },
  {
    name: 'GET /api/v1/datasets/:dataset/columns',
    scope: 'query',
    ok: 200,
    prepare: async () => ({ method: 'GET', path: '/api/v1/datasets/sec/columns' }),
  },
  { name: 'GET /api/v1/keys', scope: 'admin', ok: 200, prepare: async () => ({ method: 'GET', path: '/api/v1/keys' }) },
  {
    name: 'POST /api/v1/keys',
    scope: 'admin',
    ok: 201,
    prepare: async (n) => ({ method: 'POST', path: '/api/v1/keys', body: { name: `k${n}`, scopes: ['query'] } }),
  },
  {
    name: 'DELETE /api/v1/keys/:id',
    scope: 'admin',
    ok: 200,
    prepare: async (n) => ({
      method: 'DELETE',
      path: `/api/v1/keys/${(await asAdmin('POST', '/api/v1/keys', { name: `gone${n}`, scopes: ['query'] })).id}`,
    }),
  },
  { name: 'GET /api/v1/flags', scope: 'flags:read', ok: 200, prepare: async () => ({ method: 'GET', path: '/api/v1/flags?service=sec' }) },
  {
    name: 'POST /api/v1/flags',
    scope: 'flags:write',
    ok: 201,
    prepare: async (n) => ({ method: 'POST', path: '/api/v1/flags', body: flag(`created.${n}`) }),
  },
  {
    name: 'GET /api/v1/flags/:key',
    scope: 'flags:read',
    ok: 200,
    prepare: async () => ({ method: 'GET', path: '/api/v1/flags/sec.base' }),
  },
  {
    name: 'PUT /api/v1/flags/:key',
    scope: 'flags:write',
    ok: 200,
    prepare: async () => ({
      method: 'PUT',
      path: '/api/v1/flags/sec.base',
      body: flag('sec.base'),
      headers: { 'if-match': await version('sec.base') },
    }),
  },
  {
    name: 'PATCH /api/v1/flags/:key',
    scope: 'flags:write',
    ok: 200,
    prepare: async (n) => ({
      method: 'PATCH',
      path: '/api/v1/flags/sec.base',
      body: { description: `d${n}` },
      headers: { 'if-match': await version('sec.base') },
    }),
  },
  {
    name: 'POST /api/v1/flags/:key/archive',
    scope: 'flags:write',
    ok: 200,
    prepare: async (n) => {
      await asAdmin('POST', '/api/v1/flags', flag(`doomed.${n}`));
      return { method: 'POST', path: `/api/v1/flags/doomed.${n}/archive`, body: { reason: 'test' } };
    },
  },
  {
    name: 'GET /api/v1/flags/:key/history',
    scope: 'flags:read',
    ok: 200,
    prepare: async () => ({ method: 'GET', path: '/api/v1/flags/sec.base/history' }),
  },
  {
    name: 'PUT /api/v1/flags/:key/rollout',
    scope: 'flags:write',
    ok: 200,
    prepare: async () => ({ method: 'PUT', path: '/api/v1/flags/sec.base/rollout', body: { rollout: { on: 10, off: 90 } } }),
  },
  {
    name: 'POST /api/v1/flags/:key/press',
    scope: 'killswitch',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/api/v1/flags/sec.button/press', body: { reason: 'drill' } }),
  },
  {
    name: 'POST /api/v1/flags/:key/release',
    scope: 'killswitch',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/api/v1/flags/sec.button/release', body: { reason: 'drill over' } }),
  },
  {
    name: 'GET /api/v1/services',
    scope: ['flags:read', 'killswitch'],
    ok: 200,
    prepare: async () => ({ method: 'GET', path: '/api/v1/services' }),
  },
  {
    name: 'GET /api/v1/export/flagd',
    scope: 'flags:read',
    ok: 200,
    prepare: async () => ({ method: 'GET', path: '/api/v1/export/flagd' }),
  },
  {
    name: 'POST /api/v1/import/flagd',
    scope: 'flags:write',
    ok: 200,
    prepare: async (n) => ({
      method: 'POST',
      path: '/api/v1/import/flagd',
      body: {
        flags: { [`imported.${n}`]: { state: 'ENABLED', variants: { a: 1, b: 2 }, defaultVariant: 'a', metadata: { service: 'sec' } } },
      },
    }),
  },
  {
    name: 'POST /ofrep/v1/evaluate/flags/:key',
    scope: 'flags:read',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/ofrep/v1/evaluate/flags/sec.base', body: { context: { targetingKey: 'u' } } }),
  },
  {
    name: 'POST /ofrep/v1/evaluate/flags',
    scope: 'flags:read',
    ok: 200,
    prepare: async () => ({ method: 'POST', path: '/ofrep/v1/evaluate/flags', body: { context: { targetingKey: 'u' } } }),
  },
  {
    name: 'GET /ofrep/v1/configuration',
    scope: 'flags:read',
    ok: 200,
    prepare: async () => ({ method: 'GET', path: '/ofrep/v1/configuration' }),
  },
];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-security-'));
  server = await startServer({ dataDir: dir, port: 0 });
  adminKey = server.adminKey as string;
  for (const scope of SCOPES)
    keyOf.set(
      scope,
      scope === 'admin' ? adminKey : (await asAdmin('POST', '/api/v1/keys', { name: `only-${scope}`, scopes: [scope] })).key,
    );
  await asAdmin('POST', '/api/v1/flags', flag('sec.base'));
  await asAdmin('POST', '/api/v1/flags', flag('sec.button', 'kill-switch'));
  await asAdmin('POST', '/1/events/sec', { a: 1 });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('every endpoint × no key, wrong key, each scope', () => {
  let n = 0;
  for (const endpoint of ENDPOINTS) {
    it(endpoint.name, async () => {
      const outcomes: Record<string, number> = {};
      const expected: Record<string, number> = { 'no key': 401, 'wrong key': 401, 'revoked key': 401 };
      outcomes['no key'] = await send(await endpoint.prepare(n++), null);
      outcomes['wrong key'] = await send(await endpoint.prepare(n++), `fsk_${'x'.repeat(43)}`);
      const revoked = await asAdmin('POST', '/api/v1/keys', { name: `revoked${n}`, scopes: ['admin'] });
      await asAdmin('DELETE', `/api/v1/keys/${revoked.id}`);
      outcomes['revoked key'] = await send(await endpoint.prepare(n++), revoked.key);
      for (const scope of SCOPES) {
        const granted = Array.isArray(endpoint.scope) ? endpoint.scope.includes(scope) : scope === endpoint.scope;
        expected[scope] = granted || scope === 'admin' ? endpoint.ok : 403;
        outcomes[scope] = await send(await endpoint.prepare(n++), keyOf.get(scope) as string);
      }
      expect(outcomes).toEqual(expected);
    });
  }

  it('GET /api/v1/stream: 401 without a key, 403 without flags:read, an event stream with it', async () => {
    expect(await send({ method: 'GET', path: '/api/v1/stream' }, null)).toBe(401);
    expect(await send({ method: 'GET', path: '/api/v1/stream' }, keyOf.get('killswitch') as string)).toBe(403);
    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/v1/stream`, {
      headers: { authorization: `Bearer ${keyOf.get('flags:read')}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();
  });
});
