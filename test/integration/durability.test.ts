import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const childScript = fileURLToPath(new URL('../fixtures/serve-child.mjs', import.meta.url));
const builtServer = fileURLToPath(new URL('../../dist/server/index.js', import.meta.url));
const CLIENTS = 4;
const EVENTS_PER_BATCH = 250;
const KILL_AFTER_ACKS = 24;

const children: ChildProcess[] = [];
let dir: string | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Starts the built server on `dataDir` in a child process; resolves once it prints its address. */
async function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string; adminKey: string | null }> {
  const child = spawn(process.execPath, [childScript, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code} before listening: ${stderr}`)));
  });
  lines.close();
  const { url, adminKey } = JSON.parse(first) as { url: string; adminKey: string | null };
  return { child, url, adminKey };
}

describe('durability', () => {
  it('keeps every acknowledged event across a SIGKILL mid-load', async () => {
    expect(existsSync(builtServer), 'run `npm run build` before this test').toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'flagscope-durability-'));
    const first = await startChild(dir);
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

    const second = await startChild(dir);
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
      expect(stored.get(batchId), `acknowledged batch ${batchId}`).toMatchObject({ COUNT: EVENTS_PER_BATCH, 'COUNT_DISTINCT(id)': EVENTS_PER_BATCH });
    }
    // Batches in flight at the kill may or may not be stored, but never partly.
    for (const row of stored.values()) expect(row.COUNT).toBe(EVENTS_PER_BATCH);
    expect(stored.size).toBeLessThanOrEqual(attempted);

    second.child.kill('SIGTERM');
    await new Promise<void>((resolve) => second.child.once('exit', () => resolve()));
    expect(second.child.exitCode).toBe(0);
  }, 120_000);
});
