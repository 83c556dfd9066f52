/**
 * `flagscope datasets delete` on a terminal, in-process with an in-memory context (stdin and stdout
 * as TTYs, the typed text from stdin) against the real server: the name typed back deletes, a
 * different name or the end of input deletes nothing and exits 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { runOnTerminal } from '../support/terminal-cli.js';

let dir: string;
let server: RunningServer;
let key: string;

function run(argv: string[], stdin: string) {
  return runOnTerminal(argv, stdin, { dir, apiUrl: server.url, apiKey: key });
}

async function names(): Promise<string[]> {
  const res = await fetch(`${server.url}/api/v1/datasets`, { headers: { authorization: `Bearer ${key}` } });
  return ((await res.json()) as { datasets: Array<{ name: string }> }).datasets.map((d) => d.name);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-cli-datasets-delete-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  key = server.adminKey ?? '';
  for (const dataset of ['keepme', 'doomed']) {
    const res = await fetch(`${server.url}/1/batch/${dataset}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ data: { a: 1 } }, { data: { a: 2 } }]),
    });
    await res.arrayBuffer();
  }
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('datasets delete on a terminal', () => {
  it('deletes nothing and exits 2 when another name is typed', async () => {
    const r = await run(['datasets', 'delete', 'keepme'], 'keep\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('This deletes dataset keepme: 2 events');
    expect(r.stderr).toContain('the name was not typed back');
    expect(await names()).toContain('keepme');
  });

  it('deletes nothing and exits 2 when the input ends first', async () => {
    const r = await run(['datasets', 'delete', 'keepme'], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cancelled');
    expect(await names()).toContain('keepme');
  });

  it('exits 3 with "did you mean" before asking, for an unknown dataset', async () => {
    const r = await run(['datasets', 'delete', 'doomd'], 'doomd\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('did you mean "doomed"');
  });

  it('deletes when the name is typed back', async () => {
    const r = await run(['datasets', 'delete', 'doomed'], 'doomed\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('deleted dataset doomed: 2 events\n');
    expect(await names()).toEqual(['keepme']);
  });
});
