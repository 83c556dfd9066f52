/**
 * Browser beacons through the real server (docs/api.md, "Beacons"): a server on a free loopback
 * port over a temp data dir, real DuckDB, the beacon window on a manual scheduler (a window
 * closes when the test advances the clock past it; the test then reads the health counters
 * until the flush has committed). Stitching, `?key=` with ingest-only keys, CORS, per-dataset
 * execution id fields, bounded memory, the shutdown flush, and bad input.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import type { ServerLimits } from '../../src/server/limits.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const WINDOW = 30_000;
const PAGE = 'http://127.0.0.1:5173';

let dir: string;
let scheduler: ManualScheduler;
let server: RunningServer;
let admin: string;

interface Answer {
  status: number;
  json: any;
  headers: Headers;
}

async function boot(limits: Partial<ServerLimits> = {}): Promise<void> {
  scheduler ??= new ManualScheduler(T0);
  server = await startServer({ dataDir: dir, port: 0, scheduler, limits });
  admin = server.adminKey ?? admin;
}

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(server.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined, headers: res.headers };
}

const asAdmin = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${admin}`, ...extra });

/** Sends beacons as `navigator.sendBeacon` does: text/plain, the key in the URL. */
function sendBeacon(dataset: string, key: string, beacons: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return call('POST', `/1/beacons/${dataset}?key=${encodeURIComponent(key)}`, JSON.stringify(beacons), {
    'content-type': 'text/plain;charset=UTF-8',
    ...headers,
  });
}

async function createKey(name: string, scopes: string[]): Promise<string> {
  const answer = await call('POST', '/api/v1/keys', JSON.stringify({ name, scopes }), asAdmin({ 'content-type': 'application/json' }));
  expect(answer.status).toBe(201);
  return answer.json.key as string;
}

async function health(): Promise<any> {
  return (await call('GET', '/healthz')).json.beacons;
}

/** Moves the clock past the window and waits until the flush has stored `events` stitched events in all. */
async function closeWindowAndStore(events: number): Promise<void> {
  await scheduler.advance(WINDOW + 1_000);
  for (let i = 0; i < 500 && (await health()).stored_events < events; i++) await new Promise((r) => setTimeout(r, 10));
  expect((await health()).stored_events).toBe(events);
}

/** Every stored event of a dataset, oldest first, by the raw-events API. */
async function storedEvents(dataset: string): Promise<Array<Record<string, unknown>>> {
  const answer = await call(
    'POST',
    `/api/v1/events/${dataset}`,
    JSON.stringify({ start_time: T0 / 1000 - 3600, end_time: T0 / 1000 + 7200, limit: 1000 }),
    asAdmin({ 'content-type': 'application/json' }),
  );
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return (answer.json.events as Array<{ time: string; data: Record<string, unknown> }>).map((e) => ({ ...e.data, _time: e.time }));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-beacons-'));
  scheduler = new ManualScheduler(T0);
  await boot();
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('POST /1/beacons/{dataset}', () => {
  it('stitches the beacons of each execution into one event; one that never ended is stored incomplete', async () => {
    const key = await createKey('web-beacons', ['ingest']);
    const start = await sendBeacon('web', key, { execution_id: 'pv-1', 'beacon.phase': 'start', 'beacon.seq': 0, url: '/cart' });
    expect(start.status).toBe(202);
    expect(start.json).toEqual([{ status: 202 }]);
    await sendBeacon('web', key, [
      { execution_id: 'pv-2', 'beacon.phase': 'start', 'beacon.seq': 0, url: '/pay' },
      { execution_id: 'pv-2', 'beacon.phase': 'update', 'beacon.seq': 1, hidden: true },
    ]);
    await scheduler.advance(1_500);
    const end = await call(
      'POST',
      '/1/beacons/web',
      JSON.stringify({ execution_id: 'pv-1', 'beacon.phase': 'end', 'beacon.seq': 1, lcp: 1200, 'flag.new_cart': 'on' }),
      { 'x-honeycomb-team': key, 'content-type': 'application/json' },
    );
    expect(end.json).toEqual([{ status: 202 }]);
    const again = await sendBeacon('web', key, { execution_id: 'pv-1', 'beacon.phase': 'end', 'beacon.seq': 1, lcp: 1200 });
    expect(again.json).toEqual([{ status: 202, duplicate: true }]);
    expect(await health()).toMatchObject({ open_executions: 2, duplicates: 1 });

    await closeWindowAndStore(2);
    const events = await storedEvents('web');
    const byId = new Map(events.map((e) => [e.execution_id, e]));
    expect(byId.get('pv-1')).toMatchObject({
      url: '/cart',
      lcp: 1200,
      'flag.new_cart': 'on',
      duration_ms: 1_500,
      'meta.beacon_count': 2,
      'meta.incomplete': false,
      'meta.missing_start': false,
    });
    expect(new Date(byId.get('pv-1')?._time as string).getTime()).toBe(T0);
    expect(byId.get('pv-2')).toMatchObject({ url: '/pay', hidden: true, 'meta.beacon_count': 2, 'meta.incomplete': true });
    expect(events).toHaveLength(2);
    expect(await health()).toMatchObject({ open_executions: 0, pending_executions: 0 });
  });

  it('takes the execution id from the dataset’s own field', async () => {
    const put = await call(
      'PUT',
      '/api/v1/datasets/shop/beacons',
      JSON.stringify({ execution_id_field: 'page.view_id' }),
      asAdmin({ 'content-type': 'application/json' }),
    );
    expect(put.json).toEqual({ dataset: 'shop', allowed_origins: [], execution_id_field: 'page.view_id' });
    const answer = await call(
      'POST',
      '/1/beacons/shop',
      JSON.stringify([
        { 'page.view_id': 'v1', 'beacon.phase': 'start' },
        { execution_id: 'v2', 'beacon.phase': 'start' },
      ]),
      asAdmin(),
    );
    expect(answer.status).toBe(202);
    expect(answer.json[0]).toEqual({ status: 202 });
    expect(answer.json[1]).toEqual({ status: 400, error: 'beacon has no execution id: field "page.view_id" is missing' });
    await closeWindowAndStore(1);
    expect((await storedEvents('shop')).map((e) => e['page.view_id'])).toEqual(['v1']);
  });

  it('flushes every open execution on shutdown; past the most open executions the oldest is stored early and counted', async () => {
    await server.close();
    await boot({ maxOpenExecutions: 2 });
    for (const id of ['a', 'b', 'c']) {
      expect((await call('POST', '/1/beacons/web', JSON.stringify({ execution_id: id, 'beacon.phase': 'start' }), asAdmin())).status).toBe(
        202,
      );
    }
    for (let i = 0; i < 500 && (await health()).stored_events < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await health()).toMatchObject({ open_executions: 2, closed_for_memory: 1, stored_events: 1 });
    await server.close();
    await boot();
    const events = await storedEvents('web');
    expect(events.map((e) => [e.execution_id, e['meta.closed_by'], e['meta.incomplete']]).sort()).toEqual([
      ['a', 'memory', true],
      ['b', 'shutdown', true],
      ['c', 'shutdown', true],
    ]);
  });
});

describe('keys in the URL', () => {
  it('refuses a key with more than the ingest scope in ?key= (403), and an unknown one (401)', async () => {
    const both = await createKey('too-broad', ['ingest', 'query']);
    const refused = await sendBeacon('web', both, { execution_id: 'x', 'beacon.phase': 'start' });
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/must hold the "ingest" scope alone/);
    expect((await sendBeacon('web', admin, { execution_id: 'x', 'beacon.phase': 'start' })).status).toBe(403);
    expect((await sendBeacon('web', 'fsk_nope', { execution_id: 'x', 'beacon.phase': 'start' })).status).toBe(401);
    expect((await call('POST', '/1/beacons/web', '{}')).status).toBe(401);
    expect((await health()).open_executions).toBe(0);
  });

  it('an ingest-only key cannot query (403)', async () => {
    const key = await createKey('pages', ['ingest']);
    const answer = await call('POST', '/api/v1/query/web', JSON.stringify({ calculations: [{ op: 'COUNT' }] }), {
      authorization: `Bearer ${key}`,
    });
    expect(answer.status).toBe(403);
    expect(answer.json.error.code).toBe('forbidden');
  });
});

describe('CORS', () => {
  it('answers the preflight and echoes the origin only for allowed origins; refuses others (403)', async () => {
    const key = await createKey('pages', ['ingest']);
    const preflight = { origin: PAGE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' };
    expect((await call('OPTIONS', '/1/beacons/web', undefined, preflight)).status).toBe(403);
    expect((await sendBeacon('web', key, { execution_id: 'x', 'beacon.phase': 'start' }, { origin: PAGE })).json.error.code).toBe(
      'forbidden',
    );

    const put = await call('PUT', '/api/v1/datasets/web/beacons', JSON.stringify({ allowed_origins: [`${PAGE}/`] }), asAdmin());
    expect(put.json.allowed_origins).toEqual([PAGE]);
    const allowed = await call('OPTIONS', '/1/beacons/web', undefined, preflight);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('content-type');
    const sent = await sendBeacon('web', key, { execution_id: 'x', 'beacon.phase': 'start' }, { origin: PAGE });
    expect(sent.status).toBe(202);
    expect(sent.headers.get('access-control-allow-origin')).toBe(PAGE);
    const other = await sendBeacon('web', key, { execution_id: 'y', 'beacon.phase': 'start' }, { origin: 'http://evil.test' });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await health()).open_executions).toBe(1);
  });

  it('shows and checks the settings: an origin must be an origin; settings survive a restart', async () => {
    const bad = await call('PUT', '/api/v1/datasets/web/beacons', JSON.stringify({ allowed_origins: ['http://x.test/path'] }), asAdmin());
    expect(bad.status).toBe(400);
    expect((await call('PUT', '/api/v1/datasets/web/beacons', JSON.stringify({ execution_id_field: 'meta.x' }), asAdmin())).status).toBe(
      400,
    );
    expect((await call('PUT', '/api/v1/datasets/web/beacons', JSON.stringify({ colour: 'red' }), asAdmin())).status).toBe(400);
    await call('PUT', '/api/v1/datasets/web/beacons', JSON.stringify({ allowed_origins: [PAGE], execution_id_field: 'pv' }), asAdmin());
    await server.close();
    await boot();
    expect((await call('GET', '/api/v1/datasets/web/beacons', undefined, asAdmin())).json).toEqual({
      dataset: 'web',
      allowed_origins: [PAGE],
      execution_id_field: 'pv',
    });
  });
});

describe('bad input: a clear error, nothing else lost', () => {
  it('refuses a malformed body (400), an oversize one (413), a body that is not an object or array (400), a bad dataset name (400)', async () => {
    const good = await call('POST', '/1/beacons/web', JSON.stringify({ execution_id: 'keep', 'beacon.phase': 'start' }), asAdmin());
    expect(good.status).toBe(202);
    const malformed = await call('POST', '/1/beacons/web', '{"execution_id": "m", "beacon.phase": ', asAdmin());
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.code).toBe('invalid_input');
    const big = JSON.stringify({ execution_id: 'big', 'beacon.phase': 'start', blob: 'x'.repeat(70_000) });
    const oversize = await call('POST', '/1/beacons/web', big, asAdmin());
    expect(oversize.status).toBe(413);
    expect(oversize.json.error.code).toBe('payload_too_large');
    expect((await call('POST', '/1/beacons/web', '"start"', asAdmin())).status).toBe(400);
    expect((await call('POST', '/1/beacons/web', '[1, null]', asAdmin())).json).toEqual([
      { status: 400, error: 'a beacon must be a JSON object of fields, not a number' },
      { status: 400, error: 'a beacon must be a JSON object of fields, not null' },
    ]);
    expect((await call('POST', '/1/beacons/no%20spaces', '{}', asAdmin())).status).toBe(400);
    const noPhase = await call('POST', '/1/beacons/web', JSON.stringify({ execution_id: 'p' }), asAdmin());
    expect(noPhase.json[0].status).toBe(400);
    expect(await health()).toMatchObject({ open_executions: 1 });
    await closeWindowAndStore(1);
    expect((await storedEvents('web')).map((e) => e.execution_id)).toEqual(['keep']);
  });
});
