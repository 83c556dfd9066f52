/**
 * Following raw events (`POST /api/v1/events/{dataset}` after a cursor, what `events tail` does)
 * sees every committed event exactly once, with all its fields, against the real server over
 * HTTP and the real DuckDB store (free loopback port, temp data dir):
 * - a follow statement compiled before a commit that adds columns, and run after it, returns
 *   that commit's events with their new fields (the store's `execute` is held at the point a
 *   statement waits for admission, so the commit lands in between: no sleeps);
 * - batches sent at once, on both writer lanes and through the ingest workers' fast path, some
 *   adding columns, each reach a follower exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventsResponse } from '../../src/api/events.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { openStores, type OpenedStores } from '../../src/store/factory.js';
import type { EventStore } from '../../src/store/types.js';

const NOW = Date.now();

interface Held {
  /** Resolves when the next raw-event statement has been compiled and waits to run. */
  reached: Promise<void>;
  /** Lets it run. */
  release(): void;
}

/** The real event store, whose next raw-event statement can be held before it runs. */
function holdable(store: EventStore): { store: EventStore; hold(): Held } {
  let armed: { reached: () => void; released: Promise<void> } | undefined;
  const execute: EventStore['execute'] = async (sql, params, options) => {
    const held = armed;
    if (held !== undefined && sql.startsWith('WITH newest')) {
      armed = undefined;
      held.reached();
      await held.released;
    }
    return store.execute(sql, params, options);
  };
  const wrapped = new Proxy(store, {
    get(target, property) {
      if (property === 'execute') return execute;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    store: wrapped,
    hold() {
      let reached!: () => void;
      let release!: () => void;
      const reachedPromise = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      armed = { reached, released };
      return { reached: reachedPromise, release };
    },
  };
}

let dir: string | undefined;
let server: RunningServer | undefined;
let stores: OpenedStores | undefined;

afterEach(async () => {
  await server?.close();
  await stores?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  server = undefined;
  stores = undefined;
  dir = undefined;
});

async function start(options: { ingestWorkers?: number } = {}): Promise<{ url: string; key: string; hold: () => Held }> {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-events-follow-'));
  stores = await openStores(`duckdb:${join(dir, 'data')}`, { ingestWorkers: options.ingestWorkers ?? 0, ingestWorkerMinBytes: 1 });
  const events = holdable(stores.events);
  server = await startServer({ port: 0, stores: { events: events.store, control: stores.control } });
  return { url: server.url, key: server.adminKey as string, hold: events.hold };
}

async function post(url: string, key: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

describe('following raw events after a cursor', () => {
  it('returns the events of a commit that added columns with those columns, though the statement was compiled before it', async () => {
    const { url, key, hold } = await start();
    const seed = await post(url, key, '/1/batch/shop', [{ time: new Date(NOW).toISOString(), data: { n: 0, service: 'api' } }]);
    expect(seed.status).toBe(200);
    const start0 = await post(url, key, '/api/v1/events/shop', { after: 'end' });
    const held = hold();
    const reading = post(url, key, '/api/v1/events/shop', { after: start0.json.cursor, wait_ms: 0, limit: 1000 });
    await held.reached;
    // The statement is compiled against columns n and service; this commit adds b and i.
    const items = Array.from({ length: 20 }, (_, i) => ({ time: new Date(NOW).toISOString(), data: { b: 1, i, service: 'api' } }));
    const sent = await post(url, key, '/1/batch/shop', items);
    expect(sent.json.every((o: { status: number }) => o.status === 202)).toBe(true);
    held.release();
    const answer = (await reading).json as EventsResponse;
    expect(answer.events.map((e) => e.data)).toEqual(items.map((item) => item.data));
    const again = await post(url, key, '/api/v1/events/shop', { after: answer.cursor, wait_ms: 0 });
    expect(again.json.events).toEqual([]);
  });

  it('sees every event of batches sent at once, on both writer lanes and through the ingest workers, exactly once', async () => {
    const { url, key } = await start({ ingestWorkers: 2 });
    await post(url, key, '/1/batch/shop', [{ time: new Date(NOW).toISOString(), data: { b: -1, i: 0, service: 'api' } }]);
    let cursor = (await post(url, key, '/api/v1/events/shop', { after: 'end' })).json.cursor as string;
    const seen: string[] = [];
    const batches = 24;
    const size = 250;
    let sending = true;
    const follow = (async () => {
      // Follows until every event arrived, or until the sends are over and one more read found nothing.
      for (;;) {
        const done = !sending;
        const answer = (await post(url, key, '/api/v1/events/shop', { after: cursor, limit: 97 })).json as EventsResponse;
        for (const event of answer.events) seen.push(`${event.data.b}/${event.data.i}/${event.data[`x${event.data.b}`] ?? '-'}`);
        cursor = answer.cursor;
        if (seen.length >= batches * size || (done && answer.events.length === 0 && !answer.meta.more)) return;
      }
    })();
    await Promise.all(
      Array.from({ length: batches }, async (_, b) => {
        // Every third batch brings a column of its own (a schema change); the others fit the columns.
        const extra = b % 3 === 0 ? { [`x${b}`]: b } : {};
        const items = Array.from({ length: size }, (_, i) => ({
          time: new Date(NOW).toISOString(),
          data: { b, i, service: 'api', ...extra },
        }));
        const answer = await post(url, key, '/1/batch/shop', items);
        expect(answer.status).toBe(200);
      }),
    );
    sending = false;
    await follow;
    const expected = Array.from({ length: batches }, (_, b) =>
      Array.from({ length: size }, (_, i) => `${b}/${i}/${b % 3 === 0 ? b : '-'}`),
    ).flat();
    expect(seen).toHaveLength(expected.length);
    expect(new Set(seen).size).toBe(expected.length);
    expect([...seen].sort()).toEqual([...expected].sort());
  });
});
