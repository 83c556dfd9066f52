/**
 * The ingest service over a real DuckDB store: backpressure is asked of the store (`pressure()`)
 * before anything is queued. While the queue is full, a batch is refused whole with `overloaded`
 * and the server's Retry-After in the hint, on the object path and on the prepared path alike;
 * what still fits is stored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IngestService } from '../../src/server/ingest/ingest-service.js';
import { DEFAULT_SERVER_LIMITS } from '../../src/server/limits.js';
import { openEventStore, type DuckDbEventStore } from '../../src/store/duckdb/event-store.js';
import { InThreadScanner } from '../support/in-thread-scanner.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const REFUSED = { code: 'overloaded', hint: 'retry after 7s' };
const NO_METADATA = { time: undefined, samplerate: undefined };

let dir: string;
let store: DuckDbEventStore | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-ingest-service-'));
});

afterEach(async () => {
  await store?.close();
  store = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function open(scanner?: InThreadScanner): Promise<{ events: DuckDbEventStore; service: IngestService }> {
  const events = await openEventStore({
    path: join(dir, 'events.duckdb'),
    now: () => T0,
    limits: { maxQueuedEvents: 10 },
    ...(scanner === undefined ? {} : { bodyScanner: scanner, ingestWorkerMinBytes: 0 }),
  });
  store = events;
  const service = new IngestService({ events, limits: { ...DEFAULT_SERVER_LIMITS, retryAfterSeconds: 7 }, now: () => T0 });
  return { events, service };
}

function batch(count: number, from = 0): Buffer {
  return Buffer.from(JSON.stringify(Array.from({ length: count }, (_, n) => ({ data: { n: from + n, note: 'x' } }))));
}

function queueEight(events: DuckDbEventStore): Promise<unknown> {
  const queued = events.ingest(
    'web',
    Array.from({ length: 8 }, (_, n) => ({ time: T0, samplerate: 1, data: { n: 100 + n, note: 'q' } })),
  );
  expect(events.pressure()).toEqual({ queuedEvents: 8, max: 10 });
  return queued;
}

async function rows(events: DuckDbEventStore): Promise<number> {
  const [[count]] = (await events.execute(`SELECT count(*) FROM ${events.tableOf('web')}`)) as [[bigint]];
  return Number(count);
}

describe('the ingest service under backpressure', () => {
  it('refuses a batch on the object path before queuing it, and takes a single event that fits', async () => {
    const { events, service } = await open();
    expect(await service.ingestBatch('web', batch(2))).toEqual([{ status: 202 }, { status: 202 }]);
    const queued = queueEight(events);
    await expect(service.ingestBatch('web', batch(3))).rejects.toMatchObject(REFUSED);
    await service.ingestEvent('web', { n: 50, note: 'single' }, NO_METADATA, 24);
    await queued;
    expect(await rows(events)).toBe(2 + 8 + 1);
  });

  it('refuses a scanned batch on the prepared path before appending it, and stores one that fits', async () => {
    const scanner = new InThreadScanner();
    const { events, service } = await open(scanner);
    // The first batch creates the dataset (nothing to scan against yet).
    await service.ingestBatch('web', batch(2));
    expect(scanner.counters.prepared).toBe(0);
    const queued = queueEight(events);
    await expect(service.ingestBatch('web', batch(3, 10))).rejects.toMatchObject(REFUSED);
    expect(scanner.counters.prepared).toBe(1);
    expect(await service.ingestBatch('web', batch(2, 20))).toEqual([{ status: 202 }, { status: 202 }]);
    expect(scanner.counters.prepared).toBe(2);
    await queued;
    expect(await rows(events)).toBe(2 + 8 + 2);
    await expect(service.ingestEvent('web', [1], NO_METADATA, 3)).rejects.toMatchObject({ code: 'invalid_input' });
  });
});

describe('the ingest service when the client has gone', () => {
  /** A client that leaves at a point the test chooses: `gone()` is asked at the hand-off to the store. */
  function client(): { gone: () => boolean; leave: () => void; asked: () => number } {
    let left = false;
    let asked = 0;
    return {
      gone: () => {
        asked++;
        return left;
      },
      leave: () => void (left = true),
      asked: () => asked,
    };
  }

  it('stores nothing of a batch or event whose client left before the hand-off, on both batch paths', async () => {
    const scanner = new InThreadScanner();
    const { events, service } = await open(scanner);
    await service.ingestBatch('web', batch(2));
    const left = client();
    left.leave();
    // The prepared path (a scanned body for an existing dataset) and the object path (a new dataset).
    await expect(service.ingestBatch('web', batch(3, 10), left.gone)).rejects.toMatchObject({ message: /nothing was stored/ });
    expect(scanner.counters.prepared).toBe(1);
    await expect(service.ingestBatch('new', batch(3), left.gone)).rejects.toMatchObject({ message: /nothing was stored/ });
    await expect(service.ingestEvent('web', { n: 1 }, NO_METADATA, 8, left.gone)).rejects.toMatchObject({ message: /nothing/ });
    expect(left.asked()).toBe(3);
    expect(await rows(events)).toBe(2);
    expect(events.tableOf('new')).toBeUndefined();
  });

  it('commits a batch handed to the store even when its client leaves while it commits', async () => {
    const { events, service } = await open();
    const leaving = client();
    const pending = service.ingestBatch('web', batch(4), leaving.gone);
    // The hand-off happened in this turn: leaving now changes nothing.
    expect(leaving.asked()).toBe(1);
    leaving.leave();
    expect(await pending).toHaveLength(4);
    expect(await rows(events)).toBe(4);
  });
});

describe('the ingest service admits a body before it is read', () => {
  it('refuses while the queue is full and takes bodies again once it is committed', async () => {
    const { events, service } = await open();
    const queued = Promise.all([
      queueEight(events),
      events.ingest('web', [
        { time: T0, samplerate: 1, data: { n: 9 } },
        { time: T0, samplerate: 1, data: { n: 10 } },
      ]),
    ]);
    expect(events.pressure()).toEqual({ queuedEvents: 10, max: 10 });
    expect(() => service.admitBody(100)).toThrow(expect.objectContaining({ ...REFUSED, message: expect.stringMatching(/queue is full/) }));
    expect(service.bodies.inflight).toBe(0);
    await queued;
    const reservation = service.admitBody(100);
    expect(service.bodies.inflight).toBe(100);
    reservation.release();
    expect(service.bodies.inflight).toBe(0);
  });

  it('refuses a body that does not fit beside those in flight, with the bytes in the message', async () => {
    const { events } = await open();
    const service = new IngestService({
      events,
      limits: { ...DEFAULT_SERVER_LIMITS, retryAfterSeconds: 7, maxInflightBodyBytes: 1_000 },
      now: () => T0,
    });
    const held = service.admitBody(800);
    expect(() => service.admitBody(300)).toThrow(
      expect.objectContaining({ ...REFUSED, message: expect.stringMatching(/800 bytes .*limit 1000.*300 bytes/) }),
    );
    const fits = service.admitBody(200);
    held.release();
    fits.release();
    expect(service.bodies.inflight).toBe(0);
  });
});
