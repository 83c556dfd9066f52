/**
 * The server's lifecycle over real DuckDB stores: stores from a store URL or injected (and then
 * left open), background jobs started after listening and stopped before the stores close,
 * and the stream heartbeat on an injected scheduler.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { type BackgroundJob, parseStoreUrl, periodicJob, startServer } from '../../src/server/index.js';
import { openStores } from '../../src/store/factory.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

let root: string;
let n = 0;
const freshDir = (): string => join(root, `data-${n++}`);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flagscope-lifecycle-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('stores by URL', () => {
  it('reads duckdb:DIR and duckdb://DIR, and refuses anything else with a usage error', () => {
    expect(parseStoreUrl('duckdb:./data')).toEqual({ engine: 'duckdb', dir: './data' });
    expect(parseStoreUrl('duckdb:///var/lib/flagscope')).toEqual({ engine: 'duckdb', dir: '/var/lib/flagscope' });
    for (const [url, message] of [
      ['./data', /is not a store URL/],
      ['duckdb:', /names no directory/],
      ['postgres://db/flagscope', /unknown store engine "postgres"/],
    ] as const) {
      let error: unknown;
      try {
        parseStoreUrl(url);
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(FlagscopeError);
      expect((error as FlagscopeError).code).toBe('usage');
      expect((error as FlagscopeError).message).toMatch(message);
    }
  });

  it('starts on a store URL and keeps its data across restarts', async () => {
    const store = `duckdb:${freshDir()}`;
    const first = await startServer({ store, port: 0 });
    const admin = first.adminKey as string;
    expect(
      (await fetch(`${first.url}/1/events/kept`, { method: 'POST', headers: { 'x-honeycomb-team': admin }, body: '{"a":1}' })).status,
    ).toBe(200);
    await first.close();
    const second = await startServer({ store, port: 0 });
    expect(second.adminKey).toBeUndefined();
    expect(second.isValidKey(admin)).toBe(true);
    const datasets = await fetch(`${second.url}/api/v1/datasets`, { headers: { authorization: `Bearer ${admin}` } });
    expect(((await datasets.json()) as { datasets: Array<{ name: string }> }).datasets.map((d) => d.name)).toEqual(['kept']);
    await second.close();
  });

  it('refuses two places for its stores', async () => {
    await expect(startServer({ store: `duckdb:${freshDir()}`, dataDir: freshDir(), port: 0 })).rejects.toThrow(/one place/);
  });

  it('leaves injected stores open: whoever opened them closes them', async () => {
    const stores = await openStores(`duckdb:${freshDir()}`);
    const server = await startServer({ stores, port: 0 });
    await server.close();
    expect((await stores.control.listApiKeys()).map((k) => k.name)).toEqual(['admin']);
    expect(await stores.events.listDatasets()).toEqual([]);
    await stores.close();
  });
});

describe('background jobs', () => {
  it('start once the server listens and stop, awaited, before the stores close', async () => {
    const order: string[] = [];
    const job: BackgroundJob = {
      name: 'recorder',
      start: () => {
        order.push('start');
      },
      stop: async () => {
        order.push('stop');
        // The stores are still open while a job stops: a last flush can write.
        await Promise.resolve();
        order.push(`stores open: ${(await contextSeen?.control.listApiKeys())?.length} key`);
      },
    };
    let contextSeen: Parameters<BackgroundJob['start']>[0] | undefined;
    const seeing: BackgroundJob = { name: 'context', start: (context) => void (contextSeen = context), stop: () => undefined };
    const server = await startServer({ dataDir: freshDir(), port: 0, jobs: [seeing, job] });
    expect(order).toEqual(['start']);
    await server.close();
    expect(order).toEqual(['start', 'stop', 'stores open: 1 key']);
    await expect(contextSeen?.control.listApiKeys()).rejects.toThrow();
  });

  it('never start when the server cannot listen', async () => {
    const first = await startServer({ dataDir: freshDir(), port: 0 });
    let started = false;
    const job: BackgroundJob = { name: 'never', start: () => void (started = true), stop: () => undefined };
    await expect(startServer({ dataDir: freshDir(), port: first.port, jobs: [job] })).rejects.toThrow(/already in use/);
    expect(started).toBe(false);
    await first.close();
  });

  it('run on the injected scheduler: hours of a periodic job against the real stores, no sleeping', async () => {
    const scheduler = new ManualScheduler();
    const counts: number[] = [];
    let ran: () => void = () => undefined;
    const job = periodicJob('key-count', 10 * 60_000, async ({ control }) => {
      counts.push((await control.listApiKeys()).length);
      ran();
    });
    const server = await startServer({ dataDir: freshDir(), port: 0, scheduler, jobs: [job] });
    const started = performance.now();
    for (let tick = 0; tick < 18; tick++) {
      // Each run queries DuckDB; the next ten minutes pass once it has finished.
      const finished = new Promise<void>((resolve) => (ran = resolve));
      await scheduler.advance(10 * 60_000);
      await finished;
    }
    expect(counts).toEqual(new Array(18).fill(1));
    expect(performance.now() - started).toBeLessThan(30_000);
    await server.close();
  });
});

describe('the stream heartbeat', () => {
  it('is written on the injected scheduler', async () => {
    const scheduler = new ManualScheduler();
    const server = await startServer({ dataDir: freshDir(), port: 0, scheduler });
    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/v1/stream`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
      signal: controller.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toContain('event: hello');
    await scheduler.advance(14_999);
    await scheduler.advance(1);
    while (!text.includes(': keep-alive')) text += decoder.decode((await reader.read()).value);
    expect(text.match(/: keep-alive/g)?.length).toBe(1);
    controller.abort();
    await server.close();
  });
});
