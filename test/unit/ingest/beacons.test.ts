/**
 * The sessionizer (issue 12, "Beacons"): beacons read from their objects, stitched by execution id
 * within the window, in order, duplicates once, updates appended, conflicts kept under the
 * documented prefix, the window counted from the last beacon, memory bounded, the shutdown flush,
 * and executions put back after a restart. Time moves only with the manual scheduler.
 */
import { describe, expect, it } from 'vitest';
import { type Beacon, decodeBeacon } from '../../../src/ingest/beacons/beacon.js';
import { type ClosedExecution, Sessionizer, type SessionizerOptions } from '../../../src/ingest/beacons/sessionizer.js';
import { orderBeacons, stitchExecution } from '../../../src/ingest/beacons/stitch.js';
import { ManualScheduler } from '../../support/manual-scheduler.js';

const WINDOW = 30_000;

function beacon(fields: Record<string, unknown>, arrivedAt: number, idField = 'execution_id'): Beacon {
  const decoded = decodeBeacon(fields, idField, arrivedAt);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.beacon;
}

function setup(options: Partial<SessionizerOptions> = {}) {
  const scheduler = new ManualScheduler();
  const closed: ClosedExecution[] = [];
  const sessions = new Sessionizer({ scheduler, windowMs: WINDOW, onClose: (batch) => closed.push(...batch), ...options });
  sessions.start();
  const send = (fields: Record<string, unknown>, dataset = 'web') => sessions.accept(dataset, beacon(fields, scheduler.now()));
  const stitched = () => closed.map((c) => ({ ...stitchExecution(c.beacons, c.closedBy), id: c.executionId }));
  return { scheduler, closed, sessions, send, stitched };
}

describe('decodeBeacon', () => {
  it('reads the phase, seq and page time and keeps the rest as the fields', () => {
    const decoded = decodeBeacon(
      { execution_id: 'e1', 'beacon.phase': 'start', 'beacon.seq': 0, 'beacon.time': 1_700_000_000_000, url: '/a' },
      'execution_id',
      5,
    );
    expect(decoded).toEqual({
      ok: true,
      beacon: {
        executionId: 'e1',
        phase: 'start',
        seq: 0,
        pageTime: 1_700_000_000_000,
        arrivedAt: 5,
        fields: '{"execution_id":"e1","url":"/a"}',
      },
    });
  });

  it('refuses a beacon without an execution id, with a bad phase or seq, or that is not an object', () => {
    const problems = [
      decodeBeacon({ 'beacon.phase': 'start' }, 'execution_id', 0),
      decodeBeacon({ execution_id: '', 'beacon.phase': 'start' }, 'execution_id', 0),
      decodeBeacon({ execution_id: 7, 'beacon.phase': 'start' }, 'execution_id', 0),
      decodeBeacon({ execution_id: 'e', 'beacon.phase': 'begin' }, 'execution_id', 0),
      decodeBeacon({ execution_id: 'e' }, 'execution_id', 0),
      decodeBeacon({ execution_id: 'e', 'beacon.phase': 'end', 'beacon.seq': -1 }, 'execution_id', 0),
      decodeBeacon({ execution_id: 'e', 'beacon.phase': 'end', 'beacon.seq': 1.5 }, 'execution_id', 0),
      decodeBeacon({ execution_id: 'e', 'beacon.phase': 'end', 'beacon.time': 'noon' }, 'execution_id', 0),
      decodeBeacon({ execution_id: 'x'.repeat(257), 'beacon.phase': 'end' }, 'execution_id', 0),
      decodeBeacon([1], 'execution_id', 0),
      decodeBeacon({ execution_id: 'e', 'beacon.phase': 'start', n: Number.POSITIVE_INFINITY }, 'execution_id', 0),
    ];
    for (const problem of problems) expect(problem.ok).toBe(false);
    expect(problems[0]).toEqual({ ok: false, error: 'beacon has no execution id: field "execution_id" is missing' });
  });

  it('takes the execution id from the dataset’s own field', () => {
    const decoded = decodeBeacon({ 'page.view_id': 'v9', 'beacon.phase': 'end' }, 'page.view_id', 0);
    expect(decoded.ok && decoded.beacon.executionId).toBe('v9');
    expect(decodeBeacon({ execution_id: 'e', 'beacon.phase': 'end' }, 'page.view_id', 0).ok).toBe(false);
  });
});

describe('stitching', () => {
  it('stitches start, update and end of one execution into one event; other executions apart', async () => {
    const { scheduler, send, stitched } = setup();
    const t0 = scheduler.now();
    expect(send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0, url: '/checkout', 'flag.new_cart': 'on' })).toEqual({
      status: 'accepted',
      generation: 1,
    });
    send({ execution_id: 'b', 'beacon.phase': 'start', 'beacon.seq': 0, url: '/home' });
    await scheduler.advance(2_000);
    send({ execution_id: 'a', 'beacon.phase': 'update', 'beacon.seq': 1, hidden_ms: 120 });
    await scheduler.advance(3_000);
    send({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 2, lcp: 1800, inp: 90 });
    await scheduler.advance(WINDOW);
    const events = stitched();
    expect(events.map((e) => e.id)).toEqual(['b', 'a']);
    const a = events.find((e) => e.id === 'a');
    expect(a?.time).toBe(t0);
    expect(a?.data).toEqual({
      execution_id: 'a',
      url: '/checkout',
      'flag.new_cart': 'on',
      hidden_ms: 120,
      lcp: 1800,
      inp: 90,
      duration_ms: 5_000,
      'meta.beacon_count': 3,
      'meta.incomplete': false,
      'meta.missing_start': false,
      'meta.closed_by': 'window',
    });
    const b = events.find((e) => e.id === 'b');
    expect(b?.data).toMatchObject({ url: '/home', duration_ms: 0, 'meta.beacon_count': 1, 'meta.incomplete': true });
  });

  it('keeps the page’s own duration_ms, else measures start to last on the page clock when both sent it', () => {
    const start = beacon({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.time': 1_000 }, 50_000);
    const end = beacon({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.time': 4_250 }, 58_000);
    expect(stitchExecution([start, end], 'window').data.duration_ms).toBe(3_250);
    const own = beacon({ execution_id: 'a', 'beacon.phase': 'end', duration_ms: 777 }, 58_000);
    expect(stitchExecution([start, own], 'window').data.duration_ms).toBe(777);
    const bare = beacon({ execution_id: 'a', 'beacon.phase': 'end' }, 58_000);
    expect(stitchExecution([start, bare], 'window').data.duration_ms).toBe(8_000);
  });

  it('orders by beacon.seq when every beacon has one, whatever the arrival order; else by arrival', () => {
    const end = beacon({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 2, step: 'end' }, 10);
    const update = beacon({ execution_id: 'a', 'beacon.phase': 'update', 'beacon.seq': 1, step: 'update' }, 20);
    const start = beacon({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0, step: 'start' }, 30);
    expect(orderBeacons([end, update, start]).map((b) => b.phase)).toEqual(['start', 'update', 'end']);
    const event = stitchExecution([end, update, start], 'window');
    expect(event.data).toMatchObject({ step: 'end', 'beacon.earlier.step': 'update' });
    expect(event.time).toBe(30);
    const unnumbered = beacon({ execution_id: 'a', 'beacon.phase': 'update' }, 25);
    expect(orderBeacons([end, unnumbered, start]).map((b) => b.arrivedAt)).toEqual([10, 25, 30]);
  });

  it('a field sent again with another value keeps the latest; the earlier goes under beacon.earlier.', () => {
    const event = stitchExecution(
      [
        beacon({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0, route: '/cart', user: 'u1', tags: [1] }, 0),
        beacon({ execution_id: 'a', 'beacon.phase': 'update', 'beacon.seq': 1, route: '/pay', user: 'u1', tags: [1] }, 1),
        beacon({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 2, route: '/done' }, 2),
      ],
      'window',
    );
    expect(event.data).toMatchObject({ route: '/done', 'beacon.earlier.route': '/pay', user: 'u1', tags: [1] });
    expect(event.data).not.toHaveProperty('beacon.earlier.user');
    const named = stitchExecution([beacon({ execution_id: 'a', 'beacon.phase': 'start', constructor: 'x', toString: 1 }, 0)], 'window');
    expect(named.data).toMatchObject({ constructor: 'x', toString: 1 });
    expect(Object.keys(named.data).filter((k) => k.startsWith('beacon.earlier.'))).toEqual([]);
    expect(event.data).not.toHaveProperty('beacon.earlier.tags');
  });

  it('stores an end without a start, marked', async () => {
    const { scheduler, send, stitched } = setup();
    await scheduler.advance(500);
    const arrived = scheduler.now();
    send({ execution_id: 'lost-start', 'beacon.phase': 'end', lcp: 900 });
    await scheduler.advance(WINDOW + 1_000);
    const [event] = stitched();
    expect(event?.data).toMatchObject({ lcp: 900, 'meta.missing_start': true, 'meta.incomplete': false, 'meta.beacon_count': 1 });
    expect(event?.data).not.toHaveProperty('duration_ms');
    expect(event?.time).toBe(arrived);
  });
});

describe('duplicates', () => {
  it('the same beacon.seq twice is kept once, even with other fields', async () => {
    const { scheduler, send, stitched, sessions } = setup();
    send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0, n: 1 });
    expect(send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0, n: 1 })).toEqual({ status: 'duplicate', generation: 1 });
    expect(send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0, n: 2 }).status).toBe('duplicate');
    send({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 1 });
    expect(send({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 1 }).status).toBe('duplicate');
    await scheduler.advance(WINDOW);
    expect(stitched()).toHaveLength(1);
    expect(stitched()[0]?.data).toMatchObject({ n: 1, 'meta.beacon_count': 2 });
    expect(sessions.stats().duplicates).toBe(3);
  });

  it('without beacon.seq an identical body is a duplicate and a different one is not', async () => {
    const { scheduler, send, stitched } = setup();
    send({ execution_id: 'a', 'beacon.phase': 'start', url: '/' });
    expect(send({ execution_id: 'a', 'beacon.phase': 'start', url: '/' }).status).toBe('duplicate');
    expect(send({ execution_id: 'a', 'beacon.phase': 'update', hidden: true }).status).toBe('accepted');
    expect(send({ execution_id: 'a', 'beacon.phase': 'update', hidden: false }).status).toBe('accepted');
    await scheduler.advance(WINDOW);
    expect(stitched()[0]?.data).toMatchObject({ 'meta.beacon_count': 3, hidden: false, 'beacon.earlier.hidden': true });
  });

  it('the same execution id in two datasets is two executions', async () => {
    const { scheduler, send, closed } = setup();
    send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0 }, 'web');
    expect(send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0 }, 'mobile').status).toBe('accepted');
    await scheduler.advance(WINDOW);
    expect(closed.map((c) => c.dataset).sort()).toEqual(['mobile', 'web']);
  });
});

describe('the window', () => {
  it('is counted from the last beacon: each beacon keeps its execution open another window', async () => {
    const { scheduler, send, closed } = setup();
    send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0 });
    await scheduler.advance(WINDOW - 1_000);
    send({ execution_id: 'a', 'beacon.phase': 'update', 'beacon.seq': 1 });
    await scheduler.advance(WINDOW - 1_000);
    expect(closed).toHaveLength(0);
    send({ execution_id: 'a', 'beacon.phase': 'end', 'beacon.seq': 2 });
    await scheduler.advance(WINDOW - 1);
    expect(closed).toHaveLength(0);
    await scheduler.advance(1_000);
    expect(closed).toHaveLength(1);
    expect(closed[0]?.beacons).toHaveLength(3);
    expect(closed[0]?.closedBy).toBe('window');
  });

  it('an execution whose end never came is closed incomplete with what it sent; its id later opens a new one', async () => {
    const { scheduler, send, stitched } = setup();
    send({ execution_id: 'crashed', 'beacon.phase': 'start', 'beacon.seq': 0, url: '/pay' });
    await scheduler.advance(4_000);
    send({ execution_id: 'crashed', 'beacon.phase': 'update', 'beacon.seq': 1, hidden_ms: 10 });
    await scheduler.advance(WINDOW + 1_000);
    expect(stitched()).toHaveLength(1);
    expect(stitched()[0]?.data).toMatchObject({ url: '/pay', hidden_ms: 10, 'meta.incomplete': true, duration_ms: 4_000 });
    expect(send({ execution_id: 'crashed', 'beacon.phase': 'end', 'beacon.seq': 2 })).toEqual({ status: 'accepted', generation: 2 });
    await scheduler.advance(WINDOW + 1_000);
    expect(stitched()[1]?.data).toMatchObject({ 'meta.missing_start': true, 'meta.beacon_count': 1 });
  });

  it('honours a window of another length', async () => {
    const { scheduler, send, closed } = setup({ windowMs: 2_000 });
    send({ execution_id: 'a', 'beacon.phase': 'start' });
    await scheduler.advance(1_999);
    expect(closed).toHaveLength(0);
    await scheduler.advance(1_000);
    expect(closed).toHaveLength(1);
  });
});

describe('bounded memory', () => {
  it('past the most open executions the least recently seen is closed incomplete and counted', async () => {
    const { scheduler, send, closed, sessions, stitched } = setup({ maxExecutions: 3 });
    for (const id of ['a', 'b', 'c']) {
      send({ execution_id: id, 'beacon.phase': 'start', 'beacon.seq': 0 });
      await scheduler.advance(10);
    }
    send({ execution_id: 'a', 'beacon.phase': 'update', 'beacon.seq': 1 });
    send({ execution_id: 'd', 'beacon.phase': 'start', 'beacon.seq': 0 });
    expect(closed.map((c) => [c.executionId, c.closedBy])).toEqual([['b', 'memory']]);
    expect(stitched()[0]?.data).toMatchObject({ 'meta.incomplete': true, 'meta.closed_by': 'memory' });
    expect(sessions.stats()).toMatchObject({ open_executions: 3, closed_for_memory: 1 });
  });

  it('past the byte bound executions are closed until the text fits', () => {
    const { send, closed, sessions } = setup({ maxBytes: 2_000 });
    for (let i = 0; i < 10; i++) send({ execution_id: `e${i}`, 'beacon.phase': 'start', blob: 'x'.repeat(300) });
    expect(sessions.stats().open_bytes).toBeLessThanOrEqual(2_000);
    expect(closed.length).toBeGreaterThan(0);
    expect(closed.every((c) => c.closedBy === 'memory')).toBe(true);
    expect(closed.length + sessions.stats().open_executions).toBe(10);
  });

  it('refuses a beacon past the most one execution may send', () => {
    const { send } = setup();
    for (let i = 0; i < 100; i++)
      expect(send({ execution_id: 'chatty', 'beacon.phase': 'update', 'beacon.seq': i }).status).toBe('accepted');
    expect(send({ execution_id: 'chatty', 'beacon.phase': 'end', 'beacon.seq': 100 })).toMatchObject({ status: 'refused' });
  });
});

describe('shutdown and restart', () => {
  it('closeAll flushes every open execution, marked shutdown, and nothing stays open', () => {
    const { send, closed, sessions, stitched } = setup();
    send({ execution_id: 'a', 'beacon.phase': 'start' });
    send({ execution_id: 'b', 'beacon.phase': 'start' });
    send({ execution_id: 'b', 'beacon.phase': 'end' });
    expect(sessions.closeAll()).toBe(2);
    expect(closed.map((c) => c.closedBy)).toEqual(['shutdown', 'shutdown']);
    expect(stitched().map((e) => e.data['meta.incomplete'])).toEqual([true, false]);
    expect(sessions.stats().open_executions).toBe(0);
  });

  it('executions restored after a crash keep their generation and arrival times, and close when their window has passed', async () => {
    const first = setup();
    first.send({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0 });
    const started = first.scheduler.now();
    await first.scheduler.advance(5_000);
    first.send({ execution_id: 'b', 'beacon.phase': 'start', 'beacon.seq': 0 });
    const held = [
      { generation: 1, beacon: beacon({ execution_id: 'a', 'beacon.phase': 'start', 'beacon.seq': 0 }, started) },
      { generation: 2, beacon: beacon({ execution_id: 'b', 'beacon.phase': 'start', 'beacon.seq': 0 }, started + 5_000) },
    ];
    // The process dies here; a new one starts 27 s later and puts the beacons back.
    const second = setup();
    await second.scheduler.advance(started + 32_000 - second.scheduler.now());
    for (const { generation, beacon: b } of held) second.sessions.restore('web', generation, b);
    expect(second.send({ execution_id: 'b', 'beacon.phase': 'start', 'beacon.seq': 0 }).status).toBe('duplicate');
    second.send({ execution_id: 'b', 'beacon.phase': 'end', 'beacon.seq': 1 });
    expect(second.send({ execution_id: 'c', 'beacon.phase': 'start' })).toEqual({ status: 'accepted', generation: 3 });
    await second.scheduler.advance(1_000);
    expect(second.closed.map((c) => [c.executionId, c.generation])).toEqual([['a', 1]]);
    await second.scheduler.advance(WINDOW);
    const b = second.stitched().find((e) => e.id === 'b');
    expect(b?.time).toBe(started + 5_000);
    expect(b?.data).toMatchObject({ 'meta.beacon_count': 2, 'meta.incomplete': false, duration_ms: 27_000 });
  });
});
