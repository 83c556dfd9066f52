/**
 * Files are private (issue 9): `flagscope serve` started under umask 022 keeps its data
 * directory 0700 and every file in it 0600, the WALs that appear after writes included, and
 * tightens a directory and files an earlier start left open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/flagscope', import.meta.url));
const builtMain = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const children: ChildProcess[] = [];
let home: string | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

/** `flagscope serve` under `umask 022`, as a shell would start it; resolves with its URL. */
async function serveUnderUmask022(dataDir: string, configHome: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    '/bin/sh',
    ['-c', 'umask 022 && exec "$0" "$@"', process.execPath, bin, 'serve', '--port', '0', '--data-dir', dataDir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: configHome, FLAGSCOPE_PROFILE: '', CI: '1' },
    },
  );
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
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
  };
}

/** Permission bits of the directory and of everything in it, by name. */
async function modes(dataDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { '.': ((await stat(dataDir)).mode & 0o777).toString(8) };
  for (const name of await readdir(dataDir)) out[name] = ((await stat(join(dataDir, name))).mode & 0o777).toString(8);
  return out;
}

function expectPrivate(found: Record<string, string>): void {
  for (const [name, mode] of Object.entries(found)) {
    const file = (name.includes('.duckdb') && !name.endsWith('.tmp')) || name.startsWith('beacons.wal');
    expect(mode, `${name} is ${mode}`).toBe(file ? '600' : '700');
  }
}

describe('the data directory is private whatever the umask', () => {
  it('is 0700 with 0600 files, WALs after writes included, and tightens what an earlier start left open', async () => {
    expect(existsSync(builtMain), 'run `npm run build` before this test').toBe(true);
    home = await mkdtemp(join(tmpdir(), 'flagscope-modes-'));
    const dataDir = join(home, 'data');
    // A directory left world-readable, as `mkdir` under umask 022 makes it.
    await mkdir(dataDir, { mode: 0o755 });
    await chmod(dataDir, 0o755);
    const configHome = join(home, 'config');

    const first = await serveUnderUmask022(dataDir, configHome);
    const { readConfig, configPath } = await import('../../src/config/config.js');
    const key = (await readConfig(configPath({ XDG_CONFIG_HOME: configHome }, home))).profiles['default']?.api_key as string;
    expect(key).toMatch(/^fsk_/);
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const batch = await fetch(`${first.url}/1/batch/web`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify([{ data: { a: 1 } }, { data: { a: 2 } }]),
    });
    expect(batch.status).toBe(200);
    const created = await fetch(`${first.url}/api/v1/keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'ci', scopes: ['query'] }),
    });
    expect(created.status).toBe(201);
    const running = await modes(dataDir);
    // Both databases and, after the writes, both WALs exist while the server runs.
    expect(Object.keys(running)).toEqual(
      expect.arrayContaining(['events.duckdb', 'control.duckdb', 'events.duckdb.wal', 'control.duckdb.wal']),
    );
    expectPrivate(running);
    await first.stop();
    expectPrivate(await modes(dataDir));

    // Files and a directory an older start left open are tightened on the next start.
    await chmod(dataDir, 0o755);
    for (const name of await readdir(dataDir)) await chmod(join(dataDir, name), 0o644);
    const second = await serveUnderUmask022(dataDir, configHome);
    expectPrivate(await modes(dataDir));
    await second.stop();
  });
});
