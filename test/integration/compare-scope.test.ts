/**
 * A flag's configuration is for keys that may read flags (issue 9): compare with `query` alone
 * uses neither the configured split nor the default variant, so its answer (expected split,
 * chi-square, control) gives none of it away, and says so in `notes`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let queryKey: string;
let readerKey: string;
const nowSeconds = Math.floor(Date.now() / 1000);
const window = { start_time: nowSeconds - 3600, end_time: nowSeconds + 60 };

async function call(method: string, path: string, body: unknown, key = server.adminKey as string): Promise<{ status: number; body: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: JSON.parse(await res.text()) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-compare-scope-'));
  server = await startServer({ dataDir: dir, port: 0 });
  queryKey = (await call('POST', '/api/v1/keys', { name: 'analyst', scopes: ['query'] })).body.key;
  readerKey = (await call('POST', '/api/v1/keys', { name: 'owner', scopes: ['query', 'flags:read'] })).body.key;
  // The flag is configured 10/90 with default `b`; the traffic is 60/40.
  const flag = {
    key: 'exp',
    service: 'shop',
    kind: 'experiment',
    variants: { a: 'a', b: 'b' },
    defaultVariant: 'b',
    rollout: { a: 10, b: 90 },
  };
  expect((await call('POST', '/api/v1/flags', flag)).status).toBe(201);
  const events = Array.from({ length: 400 }, (_, i) => ({
    data: { 'flag.exp': i % 5 < 3 ? 'a' : 'b', 'user.id': `u${i}`, error: i % 7 === 0, duration_ms: 10 + (i % 13) },
    time: nowSeconds - 60,
  }));
  const batch = await call('POST', '/1/batch/shop', events);
  expect(batch.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('compare and the flags:read scope', () => {
  it('with flags:read, uses the configured split and default variant', async () => {
    const res = await call('POST', '/api/v1/compare/shop', { flags: ['exp'], ...window }, readerKey);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.control).toEqual({ exp: 'b' });
    expect(res.body.sampleRatio[0]).toMatchObject({ source: 'flag', expected: { a: 0.1, b: 0.9 }, mismatch: true });
    expect(res.body.notes.join(' ')).not.toContain('flags:read');
  });

  it('with query alone, echoes no flag configuration and says why', async () => {
    const res = await call('POST', '/api/v1/compare/shop', { flags: ['exp'], ...window }, queryKey);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The control is picked from the traffic (the heavier variant), not the flag's default.
    expect(res.body.control).toEqual({ exp: 'a' });
    expect(res.body.sampleRatio[0]).toMatchObject({ source: null, expected: null, chiSquare: null, pValue: null });
    expect(res.body.notes.join(' ')).toContain('lacks the flags:read scope');
    expect(JSON.stringify(res.body)).not.toMatch(/0\.9\b|"expected":\{/);
  });

  it('with query alone, tests the split the request gives', async () => {
    const res = await call(
      'POST',
      '/api/v1/compare/shop',
      { flags: [{ flag: 'exp', control: 'b', expect: { a: 60, b: 40 } }], ...window },
      queryKey,
    );
    expect(res.status).toBe(200);
    expect(res.body.control).toEqual({ exp: 'b' });
    expect(res.body.sampleRatio[0]).toMatchObject({ source: 'expect', mismatch: false });
    expect(res.body.notes.join(' ')).not.toContain('flags:read');
  });
});
