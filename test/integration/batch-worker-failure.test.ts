/**
 * A batch whose ingest worker dies mid-scan: the body sits in shared memory, so the server
 * parses it on the main thread instead and answers as if no worker had been involved. The
 * real app (router, stores on DuckDB, the store's worker pool) runs on a loopback port; the worker is
 * terminated as the batch is handed to it, which the pool sees exactly as a crash (an exit
 * with the job pending). The workers load dist/: run `npm run build` first.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRouter, createRequestListener, type AppDependencies } from '../../src/server/app.js';
import { IngestPool } from '../../src/store/duckdb/ingest-pool.js';
import { generateApiKey, generateKeyId, hashApiKey, KeyRing } from '../../src/server/keys/key-ring.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/server/limits.js';
import { openControlStore } from '../../src/store/duckdb/control-store.js';
import { openEventStore, type DuckDbEventStore } from '../../src/store/duckdb/event-store.js';

const NOW = Date.UTC(2026, 0, 1, 12);

let dir: string;
let events: DuckDbEventStore;
let close: () => Promise<void>;
let url: string;
let key: string;
let pool: IngestPool;
const logged: string[] = [];
let killNextScan = false;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-worker-failure-'));
  pool = IngestPool.create(1)!;
  // Kill the worker as a batch is handed to it, when asked to.
  const scan = pool.scan.bind(pool);
  pool.scan = (...args) => {
    if (killNextScan) {
      killNextScan = false;
      // The pool learns of it only from the worker's exit, after the batch was handed over.
      void (pool as unknown as { workers: Array<{ worker: { terminate(): Promise<number> } }> }).workers[0]!.worker.terminate();
    }
    return scan(...args);
  };
  events = await openEventStore({
    path: join(dir, 'events.duckdb'),
    now: () => NOW,
    bodyScanner: pool,
    ingestWorkerMinBytes: 0,
    log: (line) => logged.push(line),
  });
  const control = await openControlStore({ path: join(dir, 'control.duckdb') });
  key = generateApiKey();
  const record = await control.createApiKey({
    id: generateKeyId(),
    name: 'admin',
    hash: hashApiKey(key),
    scopes: ['admin'],
    created_at: NOW,
    created_by: null,
  });
  const deps: AppDependencies = {
    events,
    control,
    keys: new KeyRing([record]),
    limits: DEFAULT_SERVER_LIMITS,
    now: () => NOW,
    version: 'test',
    log: (line) => logged.push(line),
    verbose: false,
  };
  const server: Server = createServer(createRequestListener(deps, buildRouter(deps)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Closing the event store closes its worker pool.
    await Promise.all([events.close(), control.close()]);
  };
});

afterAll(async () => {
  await close();
  await rm(dir, { recursive: true, force: true });
});

async function sendBatch(items: unknown[]): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/1/batch/shop`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-honeycomb-team': key },
    body: JSON.stringify(items),
  });
  return { status: response.status, body: await response.json() };
}

function items(from: number, count: number): unknown[] {
  return Array.from({ length: count }, (_, n) => ({
    time: new Date(NOW - (from + n) * 1000).toISOString(),
    ...(n === 3 ? { samplerate: 0 } : {}),
    data: { 'service.name': `svc-${(from + n) % 3}`, duration_ms: from + n, note: `a long enough note number ${from + n}` },
  }));
}

describe('a batch whose ingest worker dies', () => {
  it('is parsed on the main thread instead, with the same answers, and the pool carries on', async () => {
    // Creates the dataset (the object path: no columns to scan against yet), then one scanned batch.
    expect((await sendBatch(items(0, 50))).status).toBe(200);
    const scanned = await sendBatch(items(50, 50));
    expect(scanned.status).toBe(200);

    killNextScan = true;
    const survived = await sendBatch(items(100, 50));
    expect(survived.status).toBe(200);
    const outcomes = survived.body as Array<{ status: number; error?: string }>;
    expect(outcomes).toHaveLength(50);
    expect(outcomes[3]).toEqual({ status: 400, error: 'samplerate must be a positive integer, not number 0' });
    expect(outcomes.filter((o) => o.status === 202)).toHaveLength(49);
    expect(logged.some((line) => line.startsWith('ingest worker failed'))).toBe(true);

    // The replacement worker takes the next batch.
    expect((await sendBatch(items(150, 50))).status).toBe(200);
    const [[count, sum]] = (await events.execute(`SELECT count(*), sum(duration_ms) FROM ${events.tableOf('shop')}`)) as [[bigint, bigint]];
    const stored = [0, 50, 100, 150].flatMap((from) => Array.from({ length: 50 }, (_, n) => from + n).filter((_, n) => n !== 3));
    expect(Number(count)).toBe(stored.length);
    expect(Number(sum)).toBe(stored.reduce((a, b) => a + b, 0));
  });
});
