import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startServeChild } from '../support/serve-child.js';

const builtServer = fileURLToPath(new URL('../../dist/server/index.js', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/flagscope', import.meta.url));
const CLIENTS = 4;
const EVENTS_PER_BATCH = 250;
const KILL_AFTER_ACKS = 24;

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Runs `flagscope serve` from the built binary; resolves with the URL it prints. */
async function startServeCommand(home: string): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', join(home, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), FLAGSCOPE_PROFILE: '', CI: '1' },
  });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^flagscope listening on (\S+)$/.exec(line);
      if (match !== null) resolve(match[1] as string);
    });
    exited.then((code) => reject(new Error(`flagscope serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited };
}

describe('durability', () => {
  it('keeps every acknowledged event across a SIGKILL mid-load', async () => {
    expect(existsSync(builtServer), 'run `npm run build` before this test').toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'flagscope-durability-'));
    dirs.push(dir);
    const first = await startServeChild(dir, children);
    const key = first.adminKey as string;
    expect(key).toMatch(/^fsk_/);

    const acknowledged: string[] = [];
    let attempted = 0;
    const exited = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    let killed = false;

    async function clientLoop(client: number): Promise<void> {
      for (let batch = 0; ; batch++) {
        const batchId = `c${client}-b${batch}`;
        const items = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
          data: { id: `${batchId}-e${i}`, batch: batchId, client, duration_ms: i % 97, note: 'x'.repeat(i % 50) },
        }));
        attempted++;
        let ok = false;
        try {
          const res = await fetch(`${first.url}/1/batch/durable`, {
            method: 'POST',
            headers: { 'x-honeycomb-team': key, 'content-type': 'application/json' },
            body: JSON.stringify(items),
          });
          const body = (await res.json()) as Array<{ status: number }>;
          ok = res.status === 200 && body.length === EVENTS_PER_BATCH && body.every((o) => o.status === 202);
        } catch {
          return; // the server is gone
        }
        if (!ok) throw new Error(`batch ${batchId} was refused while the server was up`);
        acknowledged.push(batchId);
        if (acknowledged.length >= KILL_AFTER_ACKS && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    }

    await Promise.all([...Array.from({ length: CLIENTS }, (_, c) => clientLoop(c)), exited]);
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(attempted, 'some batches were in flight at the kill').toBeGreaterThan(acknowledged.length);

    const second = await startServeChild(dir, children);
    expect(second.adminKey).toBeNull();
    const now = Math.floor(Date.now() / 1000);
    const res = await fetch(`${second.url}/api/v1/query/durable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        start_time: now - 3600,
        end_time: now + 3600,
        calculations: [{ op: 'COUNT' }, { op: 'COUNT_DISTINCT', column: 'id' }],
        breakdowns: ['batch'],
        limit: 1000,
      }),
    });
    const body = (await res.json()) as { data: { results: Array<{ data: Record<string, unknown> }> } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    const stored = new Map(body.data.results.map((r) => [r.data.batch as string, r.data]));
    for (const batchId of acknowledged) {
      expect(stored.get(batchId), `acknowledged batch ${batchId}`).toMatchObject({
        COUNT: EVENTS_PER_BATCH,
        'COUNT_DISTINCT(id)': EVENTS_PER_BATCH,
      });
    }
    // Batches in flight at the kill may or may not be stored, but never partly.
    for (const row of stored.values()) expect(row.COUNT).toBe(EVENTS_PER_BATCH);
    expect(stored.size).toBeLessThanOrEqual(attempted);

    second.child.kill('SIGTERM');
    await new Promise<void>((resolve) => second.child.once('exit', () => resolve()));
    expect(second.child.exitCode).toBe(0);
  }, 120_000);

  it('`flagscope serve` answers a request in flight when SIGTERM arrives, then exits 0', async () => {
    expect(existsSync(builtServer), 'run `npm run build` before this test').toBe(true);
    const home = await mkdtemp(join(tmpdir(), 'flagscope-sigterm-'));
    dirs.push(home);
    const first = await startServeCommand(home);
    const config = JSON.parse(await readFile(join(home, 'config', 'flagscope', 'config.json'), 'utf8')) as {
      profiles: Record<string, { api_key: string }>;
    };
    const key = config.profiles.default?.api_key as string;

    const events = Array.from({ length: 2000 }, (_, i) => ({ data: { i, phase: 'sigterm' } }));
    const body = Buffer.from(JSON.stringify(events));
    const req = request(`${first.url}/1/batch/sigterm`, {
      method: 'POST',
      headers: { 'x-honeycomb-team': key, 'content-type': 'application/json', 'content-length': body.length, expect: '100-continue' },
    });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    // The server has parsed the headers (it sent 100 Continue): the request is in flight.
    await new Promise<void>((resolve) => req.once('continue', resolve));
    first.child.kill('SIGTERM');
    req.end(body);
    const { status, text } = await answer;
    expect(status).toBe(200);
    expect((JSON.parse(text) as Array<{ status: number }>).every((o) => o.status === 202)).toBe(true);
    expect(await first.exited).toBe(0);

    const second = await startServeCommand(home);
    const now = Math.floor(Date.now() / 1000);
    const res = await fetch(`${second.url}/api/v1/query/sigterm`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ start_time: now - 600, end_time: now + 600, calculations: [{ op: 'COUNT' }] }),
    });
    const result = (await res.json()) as { data: { results: Array<{ data: { COUNT: number } }> } };
    expect(result.data.results[0]?.data.COUNT).toBe(2000);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 60_000);
});
