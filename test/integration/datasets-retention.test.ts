/**
 * Datasets as a whole against a real server (free loopback port, temp data dir, real DuckDB):
 * size and time span in `GET /api/v1/datasets`, `DELETE /api/v1/datasets/{dataset}` (admin scope,
 * 404 with "did you mean", safe against ingest running at the same time, queries after it get a
 * clear 404), `PUT /api/v1/datasets/{dataset}/retention`, and the retention job driven by a manual
 * scheduler: it deletes whole hours older than the retention, logs what it removed, and the
 * deleted rows' blocks become free blocks of the file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { openEventStore } from '../../src/store/duckdb/event-store.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 5, 9, 30, 0);

let dir: string;
let server: RunningServer;
let scheduler: ManualScheduler;
let admin: string;
let lines: string[];
let waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }>;

async function start(options: { retentionMs?: number } = {}): Promise<void> {
  server = await startServer({
    port: 0,
    dataDir: dir,
    scheduler,
    log: (line) => {
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    },
    retentionSweepMs: HOUR,
    ...options,
  });
  admin = server.adminKey ?? admin;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-datasets-'));
  scheduler = new ManualScheduler(T0);
  lines = [];
  waiters = [];
});

afterEach(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves with the first log line (already written or to come) that matches. */
function logLine(pattern: RegExp): Promise<string> {
  const seen = lines.find((line) => pattern.test(line));
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => waiters.push({ pattern, resolve }));
}

async function call(method: string, path: string, body?: unknown, key = admin): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

/** `count` events spread over the hour that starts at `at`. */
async function send(dataset: string, at: number, count: number, extra: Record<string, unknown> = {}): Promise<number[]> {
  const batch = Array.from({ length: count }, (_, i) => ({
    time: new Date(at + Math.floor((i * HOUR) / count)).toISOString(),
    data: { service: 'api', duration_ms: i % 97, route: `/r/${i % 13}`, ...extra },
  }));
  const answer = await call('POST', `/1/batch/${dataset}`, batch);
  expect(answer.status).toBe(200);
  return (answer.json as Array<{ status: number }>).map((o) => o.status);
}

async function datasets(): Promise<any> {
  const answer = await call('GET', '/api/v1/datasets');
  expect(answer.status).toBe(200);
  return answer.json;
}

async function count(dataset: string): Promise<number> {
  const answer = await call('POST', `/api/v1/query/${dataset}`, { calculations: [{ op: 'COUNT' }], time_range: 400 * 86_400 });
  expect(answer.status).toBe(200);
  return Number(answer.json.data.results[0]?.data.COUNT ?? 0);
}

async function keyWith(scopes: string[]): Promise<string> {
  const answer = await call('POST', '/api/v1/keys', { name: `k-${scopes.join('-')}`, scopes });
  expect(answer.status).toBe(201);
  return answer.json.key as string;
}

describe('GET /api/v1/datasets: size on disk and time span', () => {
  it('gives each dataset its oldest and newest event, its size and retention, and the file as a whole', async () => {
    await start({ retentionMs: 30 * DAY });
    await send('shop', T0 - 10 * DAY, 500);
    await send('shop', T0 - 2 * HOUR, 500);
    await send('tiny', T0 - HOUR, 3);
    const before = await datasets();
    expect(before.default_retention_ms).toBe(30 * DAY);
    const shop = before.datasets.find((d: any) => d.name === 'shop');
    expect(shop).toMatchObject({ rows: 1000, retention_ms: null, effective_retention_ms: 30 * DAY });
    expect(shop.first_event_time).toBe(new Date(T0 - 10 * DAY).toISOString());
    expect(Date.parse(shop.last_event_time)).toBeGreaterThan(T0 - 2 * HOUR);
    expect(before.storage.wal_bytes).toBeGreaterThan(0);
    // Nothing is checkpointed yet: the events are in the WAL, and the size counts checkpointed blocks.
    expect(shop.size_bytes).toBe(0);
    // A checkpoint (here: a close and a restart) puts them in blocks of the file.
    await server.close();
    await start({ retentionMs: 30 * DAY });
    const after = await datasets();
    const shopAfter = after.datasets.find((d: any) => d.name === 'shop');
    expect(shopAfter.size_bytes).toBeGreaterThan(0);
    expect(shopAfter.size_bytes % 262_144).toBe(0);
    expect(after.storage.file_bytes).toBeGreaterThanOrEqual(shopAfter.size_bytes);
  });
});

describe('DELETE /api/v1/datasets/{dataset}', () => {
  it('needs the admin scope, says "did you mean" for an unknown dataset, and deletes events and columns', async () => {
    await start();
    await send('checkout', T0 - HOUR, 50, { only_here: 'x' });
    const query = await keyWith(['query', 'ingest']);
    const forbidden = await call('DELETE', '/api/v1/datasets/checkout', undefined, query);
    expect(forbidden.status).toBe(403);
    const missing = await call('DELETE', '/api/v1/datasets/chekout');
    expect(missing.status).toBe(404);
    expect(missing.json.error.hint).toContain('did you mean "checkout"');
    const invalid = await call('DELETE', '/api/v1/datasets/..%2F');
    expect([400, 404]).toContain(invalid.status);

    const deleted = await call('DELETE', '/api/v1/datasets/checkout');
    expect(deleted).toEqual({ status: 200, json: { dataset: 'checkout', deleted_events: 50 } });
    expect(lines.some((line) => /dataset "checkout" deleted by key .*: 50 events/.test(line))).toBe(true);
    expect((await datasets()).datasets).toEqual([]);
    const after = await call('POST', '/api/v1/query/checkout', { calculations: [{ op: 'COUNT' }], time_range: 7200 });
    expect(after.status).toBe(404);
    const again = await call('DELETE', '/api/v1/datasets/checkout');
    expect(again.status).toBe(404);

    // Events sent afterwards create it anew, with none of the old columns.
    await send('checkout', T0 - HOUR, 5);
    const columns = await call('GET', '/api/v1/datasets/checkout/columns');
    expect(columns.json.columns.map((c: any) => c.name)).not.toContain('only_here');
    expect(await count('checkout')).toBe(5);

    // It survives a restart: the delete is committed.
    await server.close();
    await start();
    expect((await datasets()).datasets.map((d: any) => [d.name, d.rows])).toEqual([['checkout', 5]]);
  });

  it('under concurrent ingest: every acknowledged event is either deleted entirely (before) or kept (after), never half', async () => {
    await start();
    await send('busy', T0 - HOUR, 200);
    // Batches that race with the delete, each with a marker of its own.
    const sends = Array.from({ length: 12 }, (_, i) => send('busy', T0 - HOUR, 100, { batch: i, [`new_col_${i % 3}`]: i }));
    const deletion = call('DELETE', '/api/v1/datasets/busy');
    const more = Array.from({ length: 12 }, (_, i) => send('busy', T0 - HOUR, 100, { batch: 100 + i }));
    const statuses = await Promise.all([...sends, ...more]);
    for (const batch of statuses) expect(batch.every((s) => s === 202)).toBe(true);
    const deleted = await deletion;
    expect(deleted.status).toBe(200);
    // The batches that survive are whole: each batch's marker has 0 or 100 events.
    const answer = await call('POST', '/api/v1/query/busy', {
      calculations: [{ op: 'COUNT' }],
      breakdowns: ['batch'],
      time_range: 7200,
    });
    const results = answer.status === 404 ? [] : (answer.json.data.results as Array<{ data: Record<string, unknown> }>);
    // Every surviving batch of the race is whole (the 200 sent before are gone or whole too).
    for (const row of results) if (row.data.batch !== null) expect(Number(row.data.COUNT)).toBe(100);
    const surviving = results.filter((row) => row.data.batch !== null).length;
    const unmarked = Number(results.find((row) => row.data.batch === null)?.data.COUNT ?? 0);
    expect([0, 200]).toContain(unmarked);
    // Nothing acknowledged is lost: deleted_events + what remains = everything sent.
    const remaining = answer.status === 404 ? 0 : await count('busy');
    expect(deleted.json.deleted_events + remaining).toBe(200 + 24 * 100);
    expect(remaining).toBe(surviving * 100 + unmarked);
    // The 200 acknowledged before the delete began are deleted.
    expect(unmarked).toBe(0);
  });

  it('a query running while its dataset is deleted gets a clear 404 or 409, never a 5xx', async () => {
    await start();
    await send('q', T0 - HOUR, 2000);
    const spec = { calculations: [{ op: 'P99', column: 'duration_ms' }, { op: 'COUNT' }], breakdowns: ['route'], time_range: 7200 };
    const queries = Array.from({ length: 4 }, () => call('POST', '/api/v1/query/q', spec));
    const deleted = await call('DELETE', '/api/v1/datasets/q');
    expect(deleted.status).toBe(200);
    const answers = await Promise.all(queries);
    // 429 when the analysis queue is full is the admission's answer, not the delete's.
    for (const a of answers) expect([200, 404, 409, 429]).toContain(a.status);
  });
});

describe('retention', () => {
  it('PUT /api/v1/datasets/{dataset}/retention sets, shows and clears a dataset retention; bad values are 400 and change nothing', async () => {
    await start({ retentionMs: 30 * DAY });
    await send('shop', T0 - HOUR, 10);
    const set = await call('PUT', '/api/v1/datasets/shop/retention', { retention: '7d' });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ name: 'shop', retention_ms: 7 * DAY, effective_retention_ms: 7 * DAY });
    for (const bad of [{ retention: '5m' }, { retention: 'soon' }, { retention: 7 }, { days: 7 }, '[]']) {
      const refused = await call('PUT', '/api/v1/datasets/shop/retention', bad);
      expect(refused.status).toBe(400);
      expect(refused.json.error.code).toBe('invalid_input');
    }
    expect((await datasets()).datasets[0]).toMatchObject({ retention_ms: 7 * DAY });
    const missing = await call('PUT', '/api/v1/datasets/shpo/retention', { retention: '7d' });
    expect(missing.status).toBe(404);
    expect(missing.json.error.hint).toContain('did you mean "shop"');
    const forever = await call('PUT', '/api/v1/datasets/shop/retention', { retention: 'forever' });
    expect(forever.json).toMatchObject({ retention_ms: 0, effective_retention_ms: null });
    // Kept across a restart.
    await server.close();
    await start({ retentionMs: 30 * DAY });
    expect((await datasets()).datasets[0]).toMatchObject({ retention_ms: 0, effective_retention_ms: null });
    const back = await call('PUT', '/api/v1/datasets/shop/retention', { retention: 'default' });
    expect(back.json).toMatchObject({ retention_ms: null, effective_retention_ms: 30 * DAY });
  });

  it('the job deletes whole hours older than the retention, logs it, and frees the blocks', async () => {
    await start({ retentionMs: 30 * DAY });
    // 40 days of data, one hour a day, 3,000 events an hour; a second dataset kept forever.
    for (let day = 40; day >= 1; day--) await send('shop', T0 - day * DAY, 3000);
    await send('keep', T0 - 60 * DAY, 100);
    await call('PUT', '/api/v1/datasets/keep/retention', { retention: 'forever' });
    // Checkpoint so the events sit in blocks of the file (a restart checkpoints at close).
    await server.close();
    await start({ retentionMs: 30 * DAY });
    const before = await datasets();
    const shopBefore = before.datasets.find((d: any) => d.name === 'shop');
    expect(shopBefore.rows).toBe(120_000);

    await scheduler.advance(HOUR);
    const removed = await logLine(/retention: deleted \d+ events of "shop"/);
    const cutoff = Math.floor((T0 + HOUR - 30 * DAY) / HOUR) * HOUR;
    expect(removed).toContain(`older than ${new Date(cutoff).toISOString()} (retention 30d)`);
    const checkpoint = await logLine(/retention: checkpoint/);
    const after = await datasets();
    const shopAfter = after.datasets.find((d: any) => d.name === 'shop');
    // Days 40..31 are gone (10 × 3,000 events), and of day 30's events (09:30-10:30) those of the
    // whole hour 09:00-10:00 before the cutoff (1,500).
    expect(shopAfter.rows).toBe(120_000 - 10 * 3000 - 1500);
    expect(Date.parse(shopAfter.first_event_time)).toBeGreaterThanOrEqual(cutoff);
    expect(after.datasets.find((d: any) => d.name === 'keep').rows).toBe(100);
    expect(lines.some((l) => /"keep"/.test(l) && /retention: deleted/.test(l))).toBe(false);
    // Never more blocks after a delete. (Blocks become free only when whole row groups of 122,880
    // rows go; these 120,000 events are one row group, so the figures are in bench/RESULTS.md.)
    expect(checkpoint).toMatch(/checkpoint (done|deferred)/);
    expect(after.storage.free_bytes).toBeGreaterThanOrEqual(before.storage.free_bytes);
    expect(shopAfter.size_bytes).toBeLessThanOrEqual(shopBefore.size_bytes);
    // The next sweep, an hour later, moves the cutoff by that hour: the rest of day 30 (10:00-10:30,
    // 1,500 events) goes, and nothing else. (Wait for its log line: the sweep runs after the advance.)
    const deletions = lines.filter((l) => /retention: deleted/.test(l)).length;
    await scheduler.advance(HOUR);
    for (let i = 0; i < 1_000 && lines.filter((l) => /retention: deleted/.test(l)).length === deletions; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(lines.filter((l) => /retention: deleted/.test(l)).length).toBe(deletions + 1);
    const later = await datasets();
    expect(later.datasets.find((d: any) => d.name === 'shop').rows).toBe(120_000 - 10 * 3000 - 3000);
    expect(later.datasets.find((d: any) => d.name === 'keep').rows).toBe(100);
  });

  it('events older than the retention are accepted and removed by the next sweep', async () => {
    await start({ retentionMs: 2 * DAY });
    const statuses = await send('late', T0 - 5 * DAY, 10);
    expect(statuses.every((s) => s === 202)).toBe(true);
    await send('late', T0 - HOUR, 10);
    await scheduler.advance(HOUR);
    await logLine(/retention: deleted 10 events of "late"/);
    expect((await datasets()).datasets[0].rows).toBe(10);
  });
});

describe('the store: a delete and a schema change of the same dataset', () => {
  it('a delete begun while a schema change of the dataset runs waits for it, then deletes its events too', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = false;
    const store = await openEventStore({
      path: join(dir, 'events.duckdb'),
      beforeSchemaChange: async () => {
        if (!holding) return;
        await held;
      },
    });
    try {
      await store.ingest('d', [{ time: T0 - HOUR, samplerate: 1, data: { a: 1 } }]);
      holding = true;
      // A new column: a schema change, held open by the hook.
      const widening = store.ingest('d', [{ time: T0 - HOUR, samplerate: 1, data: { a: 2, b: 'new' } }]);
      await new Promise((resolve) => setImmediate(resolve));
      const deletion = store.deleteDataset('d');
      // Ingest that arrives while both run waits, then creates the dataset anew.
      const later = store.ingest('d', [{ time: T0 - HOUR, samplerate: 1, data: { c: true } }]);
      release();
      expect(await widening).toEqual([{ status: 202 }]);
      expect(await deletion).toEqual({ rows: 2 });
      expect(await later).toEqual([{ status: 202 }]);
      const schema = await store.getSchema('d');
      expect(schema?.columns.map((c) => c.name)).toEqual(['c']);
      expect((await store.listDatasets())[0]?.rows).toBe(1);
    } finally {
      release();
      await store.close();
    }
  });
});
