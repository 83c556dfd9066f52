import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openEventStore } from '../../src/store/duckdb/event-store.js';

const builtStore = fileURLToPath(new URL('../../dist/store/duckdb/event-store.js', import.meta.url));
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-store-crash-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A child process ingests batches as fast as it can and prints the number of
 * each batch once `ingest()` has resolved; the test kills it with SIGKILL in
 * the middle of the load. Every acknowledged batch must be there after reopen.
 */
it('keeps every acknowledged event after SIGKILL mid-load', async () => {
  // The child runs plain Node, so it loads the built store (`npm test` builds first).
  const storeModule = pathToFileURL(builtStore).href;
  const script = join(dir, 'writer.mjs');
  await writeFile(
    script,
    `
import { openEventStore } from ${JSON.stringify(storeModule)};
const store = await openEventStore({ path: ${JSON.stringify(join(dir, 'events.duckdb'))} });
let batch = 0;
const send = async (n) => {
  const events = Array.from({ length: 200 }, (_, i) => ({
    time: 1767225600000 + n * 1000 + i,
    samplerate: 1,
    data: { batch: n, i, text: 'event ' + n + '/' + i, ['field_' + (n % 50)]: n * 0.5 },
  }));
  await store.ingest('crash', events);
  process.stdout.write('acked ' + n + '\\n');
};
// Four concurrent writers, so group commits are in flight when the kill lands.
await Promise.all(Array.from({ length: 4 }, async () => { for (;;) await send(batch++); }));
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const acked = new Set<number>();
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  await new Promise<void>((done, fail) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      acked.add(Number(line.split(' ')[1]));
      if (acked.size === 40) {
        child.kill('SIGKILL');
        done();
      }
    });
    child.on('exit', (code) => fail(new Error(`writer exited early with ${code}: ${stderr}`)));
  });
  await exited;

  const store = await openEventStore({ path: join(dir, 'events.duckdb') });
  try {
    const table = store.tableOf('crash')!;
    const rows = await store.execute(`SELECT batch, count(*) FROM ${table} GROUP BY batch`);
    const stored = new Map(rows.map(([batch, count]) => [Number(batch), Number(count)]));
    for (const batch of acked) expect(stored.get(batch)).toBe(200);
    // Batches are all-or-nothing: a group commit either landed whole or not at all.
    for (const count of stored.values()) expect(count).toBe(200);
    const [info] = await store.listDatasets();
    expect(info?.rows).toBe([...stored.values()].reduce((a, b) => a + b, 0));
  } finally {
    await store.close();
  }
});
