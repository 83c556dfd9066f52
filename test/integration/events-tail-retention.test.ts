/**
 * `events tail` across a retention run (docs/storage.md, "Retention and the storage order"),
 * against the real server over HTTP with the retention job on a manual scheduler: a retention
 * sweep that deletes more than a row group of old events lets DuckDB's checkpoint compact the table
 * and renumber every later row. Cursors taken before it (caught up, part-way through the events
 * stored after it, and at its start) must still give each event stored after them exactly once, in
 * order; cursors of the new epoch go on from there; a cursor of an epoch the server cannot
 * translate is answered as a reset, never as a silent skip.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventsResponse } from '../../src/api/events.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { callApi } from '../support/api-call.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 11, 5, 9, 30, 0);
/** More old events than one DuckDB row group (122,880 rows), so the checkpoint after their deletion compacts the table. */
const OLD = 130_000;

let dir: string;
let server: RunningServer;
let scheduler: ManualScheduler;
let admin: string;
let lines: string[];
let waiting: (line: string) => void = () => undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-tail-retention-'));
  scheduler = new ManualScheduler(T0);
  lines = [];
  server = await startServer({
    port: 0,
    dataDir: dir,
    scheduler,
    retentionMs: DAY,
    retentionSweepMs: HOUR,
    log: (line) => {
      lines.push(line);
      waiting(line);
    },
  });
  admin = server.adminKey as string;
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return callApi(server.url, admin, method, path, body);
}

async function send(items: Array<{ time: number; data: Record<string, unknown> }>): Promise<void> {
  for (let from = 0; from < items.length; from += 40_000) {
    const answer = await api(
      'POST',
      '/1/batch/shop',
      items.slice(from, from + 40_000).map((item) => ({ time: new Date(item.time).toISOString(), data: item.data })),
    );
    expect(answer.status).toBe(200);
    expect((answer.json as Array<{ status: number }>).every((o) => o.status === 202)).toBe(true);
  }
}

/** `count` new events named `label-0`… (their event times recent, so retention keeps them). */
function named(label: string, count: number): Array<{ time: number; data: Record<string, unknown> }> {
  return Array.from({ length: count }, (_, i) => ({ time: T0 - 60_000 + i, data: { name: `${label}-${i}`, service: 'api' } }));
}

async function readAfter(cursor: string): Promise<EventsResponse> {
  const answer = await api('POST', '/api/v1/events/shop', { after: cursor, limit: 1000, columns: ['name'] });
  expect(answer.status).toBe(200);
  return answer.json as EventsResponse;
}

/** Every event after `cursor` until nothing more comes: their names, the last cursor, and whether an answer was a reset. */
async function follow(cursor: string): Promise<{ names: string[]; cursor: string; reset: boolean }> {
  const names: string[] = [];
  let reset = false;
  for (;;) {
    const answer = await readAfter(cursor);
    reset ||= answer.meta.reset === true;
    names.push(...answer.events.map((e) => String(e.data.name)));
    cursor = answer.cursor;
    if (answer.events.length === 0) return { names, cursor, reset };
  }
}

/** Runs the retention job once (an hour of the manual clock) and resolves when its last log line is written. */
async function sweep(): Promise<void> {
  const done = new Promise<void>((resolve) => {
    waiting = (line) => {
      if (line.startsWith('retention: checkpoint')) resolve();
    };
  });
  await scheduler.advance(HOUR);
  await done;
  expect(lines.find((l) => l.startsWith('retention: deleted'))).toMatch(/^retention: deleted 130000 events of "shop"/);
}

describe('events tail across a retention deletion that compacts the table', () => {
  it('gives every event stored after each cursor exactly once, in order, through the new epoch', async () => {
    await send(Array.from({ length: OLD }, (_, i) => ({ time: T0 - 3 * DAY + i, data: { name: `old-${i}`, service: 'api' } })));
    await send(named('kept', 100));
    const atStart = (await readAfter('end')).cursor;
    await send(named('a', 10));
    const partWay = await follow(atStart);
    expect(partWay.names).toEqual(Array.from({ length: 10 }, (_, i) => `a-${i}`));
    const halfWay = await (async () => {
      const answer = await api('POST', '/api/v1/events/shop', { after: atStart, limit: 4, columns: ['name'] });
      return (answer.json as EventsResponse).cursor;
    })();

    await sweep();
    await send(named('b', 10));

    const a = Array.from({ length: 10 }, (_, i) => `a-${i}`);
    const b = Array.from({ length: 10 }, (_, i) => `b-${i}`);
    const fromStart = await follow(atStart);
    expect(fromStart).toMatchObject({ names: [...a, ...b], reset: false });
    expect(fromStart.cursor).toMatch(/^ds_\d+\.e1\.g\d+\.f\d+\.\d+$/);
    expect(await follow(halfWay)).toMatchObject({ names: [...a.slice(4), ...b], reset: false });
    expect(await follow(partWay.cursor)).toMatchObject({ names: b, reset: false });

    // The new epoch's cursors go on from there, and a restart keeps the epoch.
    await send(named('c', 3));
    const c = Array.from({ length: 3 }, (_, i) => `c-${i}`);
    expect(await follow(fromStart.cursor)).toMatchObject({ names: c, reset: false });
    await server.close();
    server = await startServer({ port: 0, dataDir: dir, scheduler, retentionMs: DAY, retentionSweepMs: HOUR });
    expect(await follow(fromStart.cursor)).toMatchObject({ names: c, reset: false });
    // The translation of the old epoch lived in the stopped server: its cursors are now a reset, not a skip.
    const lost = await readAfter(atStart);
    expect(lost.meta.reset).toBe(true);
    expect(lost.events).toEqual([]);
  });
});
