/**
 * Beacons acknowledged but still in their window survive a SIGKILL (docs/storage.md, "Beacons"):
 * the built server in a child process takes the start beacons of some executions and the end
 * beacons of half of them, is killed, and once restarted stores every one of them from its
 * write-ahead file: the ended ones complete, the others incomplete, each exactly once.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startServeChild } from '../support/serve-child.js';

const builtServer = fileURLToPath(new URL('../../dist/server/index.js', import.meta.url));
const EXECUTIONS = 40;

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('beacon durability', () => {
  it('stores every acknowledged beacon of executions open at a SIGKILL, once, after the restart', async () => {
    expect(existsSync(builtServer), 'run `npm run build` before this test').toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'flagscope-beacon-durability-'));
    dirs.push(dir);
    // A window far longer than the test: nothing is stored before the kill.
    const first = await startServeChild(dir, children, { beaconWindowMs: 3_600_000 });
    const key = first.adminKey as string;
    const post = async (url: string, body: unknown): Promise<unknown> => {
      const res = await fetch(`${url}/1/beacons/pages`, {
        method: 'POST',
        headers: { 'x-honeycomb-team': key, 'content-type': 'text/plain' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(202);
      return res.json();
    };
    for (let i = 0; i < EXECUTIONS; i++) {
      expect(await post(first.url, { execution_id: `pv-${i}`, 'beacon.phase': 'start', 'beacon.seq': 0, n: i })).toEqual([{ status: 202 }]);
    }
    for (let i = 0; i < EXECUTIONS; i += 2) {
      await post(first.url, [
        { execution_id: `pv-${i}`, 'beacon.phase': 'update', 'beacon.seq': 1, hidden: true },
        { execution_id: `pv-${i}`, 'beacon.phase': 'end', 'beacon.seq': 2, lcp: 1000 + i },
      ]);
    }
    const before = (await (await fetch(`${first.url}/healthz`)).json()) as { beacons: { open_executions: number; stored_events: number } };
    expect(before.beacons).toMatchObject({ open_executions: EXECUTIONS, stored_events: 0 });
    const exited = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    first.child.kill('SIGKILL');
    await exited;
    expect(first.child.signalCode).toBe('SIGKILL');

    // Restarted with a short window: the executions read back close at once, their window long past.
    const second = await startServeChild(dir, children, { beaconWindowMs: 1_000 });
    let stored = 0;
    for (let i = 0; i < 1_000 && stored < EXECUTIONS; i++) {
      stored = ((await (await fetch(`${second.url}/healthz`)).json()) as { beacons: { stored_events: number } }).beacons.stored_events;
      if (stored < EXECUTIONS) await new Promise((r) => setTimeout(r, 20));
    }
    expect(stored).toBe(EXECUTIONS);
    const now = Math.floor(Date.now() / 1000);
    const res = await fetch(`${second.url}/api/v1/query/pages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        start_time: now - 3600,
        end_time: now + 3600,
        calculations: [{ op: 'COUNT' }, { op: 'COUNT_DISTINCT', column: 'execution_id' }, { op: 'SUM', column: 'meta.beacon_count' }],
        breakdowns: ['meta.incomplete'],
      }),
    });
    const body = (await res.json()) as { data: { results: Array<{ data: Record<string, unknown> }> } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    const rows = Object.fromEntries(body.data.results.map((r) => [String(r.data['meta.incomplete']), r.data]));
    expect(rows.false).toMatchObject({
      COUNT: EXECUTIONS / 2,
      'COUNT_DISTINCT(execution_id)': EXECUTIONS / 2,
      'SUM(meta.beacon_count)': (EXECUTIONS / 2) * 3,
    });
    expect(rows.true).toMatchObject({
      COUNT: EXECUTIONS / 2,
      'COUNT_DISTINCT(execution_id)': EXECUTIONS / 2,
      'SUM(meta.beacon_count)': EXECUTIONS / 2,
    });

    // A clean stop after that leaves nothing to read back: a third start stores nothing more.
    const stopped = new Promise<void>((resolve) => second.child.once('exit', () => resolve()));
    second.child.kill('SIGTERM');
    await stopped;
    expect(second.child.exitCode).toBe(0);
    const third = await startServeChild(dir, children, { beaconWindowMs: 1_000 });
    const health = (await (await fetch(`${third.url}/healthz`)).json()) as {
      beacons: { open_executions: number; pending_executions: number };
    };
    expect(health.beacons).toMatchObject({ open_executions: 0, pending_executions: 0 });
    const stoppedThird = new Promise<void>((resolve) => third.child.once('exit', () => resolve()));
    third.child.kill('SIGTERM');
    await stoppedThird;
  }, 120_000);
});
