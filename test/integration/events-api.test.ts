/**
 * Raw events (issue 11, "What users reach for": `events list` and `events tail`), against the real
 * server (free loopback port, temp data dir, real DuckDB) over HTTP:
 * - a list is newest first, filtered exactly as a query filters, limited, with chosen columns,
 *   and refuses bad requests with a 400 naming the field;
 * - after a cursor, the events stored since come back in the order they were stored, whatever
 *   their event time; concurrent batches, many events in the same millisecond, are each seen once;
 * - a waiting request (`wait_ms`) is answered as soon as a matching event is committed, ends empty
 *   with the same cursor when nothing comes, and filters apply while waiting;
 * - a cursor of another table (a dataset deleted and created again) reads the new table from its start.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsResponse } from '../../src/api/events.js';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let key: string;
const NOW = Date.now();

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function events(dataset: string, body: unknown): Promise<EventsResponse> {
  const answer = await post(`/api/v1/events/${dataset}`, body);
  if (answer.status !== 200) throw new Error(`${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json as EventsResponse;
}

async function batch(dataset: string, items: unknown[]): Promise<void> {
  const answer = await post(`/1/batch/${dataset}`, items);
  expect(answer.status).toBe(200);
  expect((answer.json as Array<{ status: number }>).every((o) => o.status === 202)).toBe(true);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-events-api-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  key = server.adminKey as string;
  // shop: 50 events a minute apart, the newest one minute ago; every 5th a 500.
  await batch(
    'shop',
    Array.from({ length: 50 }, (_, i) => ({
      time: new Date(NOW - (50 - i) * 60_000).toISOString(),
      samplerate: i === 49 ? 4 : 1,
      data: { n: i, service: i % 2 === 0 ? 'api' : 'web', status_code: i % 5 === 0 ? 500 : 200, duration_ms: i + 0.5 },
    })),
  );
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('POST /api/v1/events/{dataset}: a list', () => {
  it('gives the newest events first, with time, sample rate and the fields that have a value', async () => {
    const answer = await events('shop', { limit: 3 });
    expect(answer.events.map((e) => e.data.n)).toEqual([49, 48, 47]);
    expect(answer.events[0]).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      samplerate: 4,
      data: { n: 49, service: 'web', status_code: 200, duration_ms: 49.5 },
    });
    expect(Date.parse(answer.events[0]!.time)).toBe(NOW - 60_000);
    expect(answer.meta).toMatchObject({ dataset: 'shop', order: 'newest-first', limit: 3, more: true });
    expect(answer.cursor).toMatch(/^ds_\d+\.49$/);
  });

  it('filters as a query does, over the time range, with the columns asked for', async () => {
    const answer = await events('shop', {
      filters: [
        { column: 'status_code', op: '>=', value: '500' },
        { column: 'service', op: '=', value: 'api' },
      ],
      time_range: 1800,
      columns: ['n', 'service'],
    });
    // Within the last 30 minutes (n ≥ 20, but a minute boundary may take n = 20 in or out), n % 10 = 0.
    expect(answer.events.map((e) => e.data.n)).toEqual(expect.arrayContaining([40, 30]));
    expect(answer.events.every((e) => Object.keys(e.data).join() === 'n,service' && e.data.service === 'api')).toBe(true);
    expect(answer.meta.more).toBe(false);
    const count = await post('/api/v1/query/shop', {
      filters: [
        { column: 'status_code', op: '>=', value: 500 },
        { column: 'service', op: '=', value: 'api' },
      ],
      start_time: answer.meta.start_time,
      end_time: answer.meta.end_time,
    });
    expect(count.json.data.results[0].data.COUNT).toBe(answer.events.length);
  });

  it('takes an empty body as the defaults: the last 2 hours, at most 100 events', async () => {
    const answer = await post('/api/v1/events/shop', '');
    expect(answer.status).toBe(200);
    expect(answer.json.events).toHaveLength(50);
    expect(answer.json.meta.end_time - answer.json.meta.start_time).toBe(7200);
  });

  it('refuses bad requests with a 400 naming the field, and an unknown dataset with a 404', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ columns: ['servce'] }, /columns\[0\]: unknown column "servce"/],
      [{ filters: [{ column: 'nope', op: 'exists' }] }, /filters\[0\]\.column: unknown column/],
      [{ limit: 5000 }, /limit: 5000 is outside 0\.\.1000/],
      [{ limt: 5 }, /limt: unknown field/],
      [{ after: 'garbage' }, /after: "garbage" is not a cursor/],
      [{ wait_ms: 100 }, /wait_ms: waiting needs a cursor/],
      [{ after: 'end', time_range: 60 }, /time_range: a time range does not apply after a cursor/],
      [{ after: 'end', wait_ms: 60_000 }, /wait_ms: 60000 is outside 0\.\.30000/],
    ];
    for (const [body, message] of cases) {
      const answer = await post('/api/v1/events/shop', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json.error.code).toBe('invalid_input');
      expect(answer.json.error.message).toMatch(message);
      expect(answer.json.error.hint).toBeTruthy();
    }
    const missing = await post('/api/v1/events/nosuch', {});
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('not_found');
  });

  it('needs a key with the query scope', async () => {
    const res = await fetch(`${server.url}/api/v1/events/shop`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });
});

describe('POST /api/v1/events/{dataset}: after a cursor', () => {
  it('gives the events stored after it in the order they were stored, whatever their event time', async () => {
    const start = await events('stream1', { after: 'end' }).catch(() => undefined);
    expect(start).toBeUndefined(); // no such dataset yet
    await batch('stream1', [{ data: { n: 0 } }]);
    const { cursor } = await events('stream1', { after: 'end' });
    // Event times out of order: stored order wins.
    await batch('stream1', [
      { time: new Date(NOW - 3_600_000).toISOString(), data: { n: 1 } },
      { time: new Date(NOW).toISOString(), data: { n: 2 } },
      { time: new Date(NOW - 86_400_000).toISOString(), data: { n: 3 } },
    ]);
    const next = await events('stream1', { after: cursor });
    expect(next.events.map((e) => e.data.n)).toEqual([1, 2, 3]);
    expect(next.meta).toMatchObject({ order: 'stored', more: false });
    const again = await events('stream1', { after: next.cursor });
    expect(again.events).toEqual([]);
    expect(again.cursor).toBe(next.cursor);
  });

  it('pages by the limit without losing or repeating an event', async () => {
    const { cursor: start } = await events('stream2', { after: 'end' }).catch(async () => {
      await batch('stream2', [{ data: { n: -1 } }]);
      return events('stream2', { after: 'end' });
    });
    await batch(
      'stream2',
      Array.from({ length: 25 }, (_, n) => ({ data: { n } })),
    );
    const seen: number[] = [];
    let cursor = start;
    for (let pages = 0; pages < 10; pages++) {
      const page = await events('stream2', { after: cursor, limit: 7 });
      seen.push(...page.events.map((e) => e.data.n as number));
      cursor = page.cursor;
      if (!page.meta.more) break;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, n) => n));
  });

  it('sees each of many events stored at once in the same millisecond exactly once, by concurrent batches', async () => {
    await batch('burst', [{ data: { batch: -1, i: -1 } }]);
    const { cursor: start } = await events('burst', { after: 'end' });
    const time = new Date(NOW).toISOString();
    const batches = 20;
    const perBatch = 500;
    const follower = (async () => {
      const seen: string[] = [];
      let cursor = start;
      while (seen.length < batches * perBatch) {
        const page = await events('burst', { after: cursor, limit: 1000, wait_ms: 5_000 });
        seen.push(...page.events.map((e) => `${e.data.batch}/${e.data.i}`));
        cursor = page.cursor;
        if (page.events.length === 0) break;
      }
      return seen;
    })();
    await Promise.all(
      Array.from({ length: batches }, (_, b) =>
        batch(
          'burst',
          Array.from({ length: perBatch }, (_, i) => ({ time, data: { batch: b, i } })),
        ),
      ),
    );
    const seen = await follower;
    expect(seen).toHaveLength(batches * perBatch);
    expect(new Set(seen).size).toBe(batches * perBatch);
    // Each batch's events in the order they were sent.
    for (let b = 0; b < batches; b++) {
      const mine = seen.filter((s) => s.startsWith(`${b}/`)).map((s) => Number(s.split('/')[1]));
      expect(mine).toEqual(Array.from({ length: perBatch }, (_, i) => i));
    }
  });

  it('waits for a matching event and answers when it is committed; filters apply while it waits', async () => {
    await batch('waiting', [{ data: { level: 'info' } }]);
    const { cursor } = await events('waiting', { after: 'end' });
    const pending = events('waiting', { after: cursor, wait_ms: 20_000, filters: [{ column: 'level', op: '=', value: 'error' }] });
    // An event that does not match wakes the wait, which looks, finds nothing and waits on.
    await batch('waiting', [{ data: { level: 'info' } }]);
    await batch('waiting', [{ data: { level: 'error', n: 7 } }]);
    const answer = await pending;
    expect(answer.events.map((e) => e.data)).toEqual([{ level: 'error', n: 7 }]);
  });

  it('ends a wait with nothing new empty, with the same cursor', async () => {
    await batch('quiet', [{ data: { n: 1 } }]);
    const { cursor } = await events('quiet', { after: 'end' });
    const answer = await events('quiet', { after: cursor, wait_ms: 300 });
    expect(answer.events).toEqual([]);
    expect(answer.cursor).toBe(cursor);
  });

  it('reads a cursor of another table from the start of this one', async () => {
    await batch('other', [{ data: { n: 1 } }, { data: { n: 2 } }]);
    const answer = await events('other', { after: 'ds_999999.5' });
    expect(answer.events.map((e) => e.data.n)).toEqual([1, 2]);
  });

  it('answers a waiting request at once, empty with its cursor, when the server closes', async () => {
    const other = await startServer({ port: 0, dataDir: join(dir, 'closing') });
    try {
      const call = async (body: unknown): Promise<EventsResponse> => {
        const res = await fetch(`${other.url}/api/v1/events/c`, {
          method: 'POST',
          headers: { authorization: `Bearer ${other.adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(200);
        return (await res.json()) as EventsResponse;
      };
      const ingest = await fetch(`${other.url}/1/batch/c`, {
        method: 'POST',
        headers: { authorization: `Bearer ${other.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify([{ data: { n: 1 } }]),
      });
      expect(ingest.status).toBe(200);
      const { cursor } = await call({ after: 'end' });
      const waiting = call({ after: cursor, wait_ms: 30_000 });
      // Once /healthz has answered, the waiting request has reached the server; closing ends its wait whether it has begun or not.
      await fetch(`${other.url}/healthz`);
      const closed = other.close();
      const answer = await waiting;
      expect(answer.events).toEqual([]);
      expect(answer.cursor).toBe(cursor);
      await closed;
    } finally {
      await other.close();
    }
  });
});
