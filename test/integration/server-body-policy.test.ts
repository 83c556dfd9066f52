/**
 * One body policy for every route that reads a body (docs/api.md, "Request bodies"): a content
 * type or encoding outside it is a 400 (OFREP's own PARSE_ERROR on OFREP), a body over the limit
 * a 413, on every such route.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const MAX_BODY_BYTES = 2048;

/** Every route that reads a body; `headers` are what it needs before it reads one. */
const BODY_ROUTES: Array<{ method: string; path: string; headers?: Record<string, string>; ofrep?: true; otlp?: true }> = [
  { method: 'POST', path: '/1/events/pol' },
  { method: 'POST', path: '/1/batch/pol' },
  { method: 'POST', path: '/api/v1/query/pol' },
  { method: 'POST', path: '/api/v1/compare/pol' },
  { method: 'POST', path: '/api/v1/explain/pol' },
  { method: 'POST', path: '/api/v1/keys' },
  { method: 'POST', path: '/api/v1/flags' },
  { method: 'PUT', path: '/api/v1/flags/pol.base', headers: { 'if-match': '"1"' } },
  { method: 'PATCH', path: '/api/v1/flags/pol.base', headers: { 'if-match': '"1"' } },
  { method: 'POST', path: '/api/v1/flags/pol.base/archive' },
  { method: 'PUT', path: '/api/v1/flags/pol.base/rollout' },
  { method: 'POST', path: '/api/v1/flags/pol.button/press' },
  { method: 'POST', path: '/api/v1/flags/pol.button/release' },
  { method: 'POST', path: '/api/v1/import/flagd' },
  { method: 'POST', path: '/api/v1/canaries' },
  { method: 'POST', path: '/api/v1/canaries/pol.base/ramp' },
  { method: 'POST', path: '/api/v1/canaries/pol.base/promote' },
  { method: 'POST', path: '/api/v1/canaries/pol.base/pause' },
  { method: 'POST', path: '/api/v1/canaries/pol.base/resume' },
  { method: 'POST', path: '/api/v1/canaries/pol.base/abort' },
  { method: 'POST', path: '/ofrep/v1/evaluate/flags/pol.base', ofrep: true },
  { method: 'POST', path: '/ofrep/v1/evaluate/flags', ofrep: true },
  { method: 'POST', path: '/v1/traces', otlp: true },
];

let dir: string;
let server: RunningServer;

async function send(
  route: (typeof BODY_ROUTES)[number],
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + route.path, {
    method: route.method,
    headers: { authorization: `Bearer ${server.adminKey}`, ...route.headers, ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-body-policy-'));
  server = await startServer({ dataDir: dir, port: 0, limits: { maxBodyBytes: MAX_BODY_BYTES } });
  const admin = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
  const flag = (key: string, kind: string) => ({
    key,
    service: 'pol',
    kind,
    variants: { on: true, off: false },
    defaultVariant: 'off',
    ...(kind === 'kill-switch' ? { safeVariant: 'off' } : {}),
  });
  for (const body of [flag('pol.base', 'release'), flag('pol.button', 'kill-switch')]) {
    const res = await fetch(`${server.url}/api/v1/flags`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
  }
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the body policy, route by route', () => {
  for (const route of BODY_ROUTES) {
    it(`${route.method} ${route.path}`, async () => {
      const wrongType = await send(route, '{}', { 'content-type': 'multipart/form-data; boundary=x' });
      const wrongEncoding = await send(route, '{}', { 'content-type': 'application/json', 'content-encoding': 'br' });
      const oversize = await send(route, JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }), { 'content-type': 'application/json' });
      expect(wrongType.status).toBe(400);
      expect(wrongEncoding.status).toBe(400);
      if (route.otlp) {
        // OTLP reads its two encodings only; its refusals of a body are google.rpc.Status (docs/api.md, "OTLP traces").
        expect(wrongType.json.error.message).toMatch(/content type "multipart\/form-data" is not an OTLP\/HTTP encoding/);
        expect(wrongEncoding.json.message).toMatch(/content-encoding "br" is not supported/);
        expect(oversize.status).toBe(413);
        expect(oversize.json.details[0].reason).toBe('payload_too_large');
        return;
      }
      if (route.ofrep) {
        expect(wrongType.json.errorCode).toBe('PARSE_ERROR');
        expect(wrongType.json.errorDetails).toMatch(/content type "multipart\/form-data" is not accepted/);
        expect(wrongEncoding.json.errorCode).toBe('PARSE_ERROR');
      } else {
        expect(wrongType.json.error.message).toMatch(/content type "multipart\/form-data" is not accepted/);
        expect(wrongEncoding.json.error.message).toMatch(/content-encoding "br" is not supported/);
      }
      expect(oversize.status).toBe(413);
      expect(oversize.json.error.code).toBe('payload_too_large');
    });
  }

  it('accepts the listed content types on a flags route and on OFREP alike', async () => {
    const ofrep = BODY_ROUTES.find((r) => r.path === '/ofrep/v1/evaluate/flags/pol.base') as (typeof BODY_ROUTES)[number];
    const press = BODY_ROUTES.find((r) => r.path.endsWith('/press')) as (typeof BODY_ROUTES)[number];
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json', 'application/x-ndjson']) {
      expect((await send(ofrep, '{"context": {"targetingKey": "u"}}', { 'content-type': type })).status).toBe(200);
      expect((await send(press, '{"reason": "drill"}', { 'content-type': type })).status).toBe(200);
    }
  });
});
