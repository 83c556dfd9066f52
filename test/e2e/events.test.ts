/**
 * End-to-end: `flagscope events list` and `flagscope events tail` of the built binary (run
 * `npm run build` first) against a real server (free loopback port, temp data dir): the list in
 * every output format (and its NDJSON sent back by `events send`), the follow receiving the
 * events sent after it started, each once, and ending with exit 0 on SIGINT; usage errors first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'flagscope');
const NOW = Date.now();

let server: RunningServer;
let dir: string;
let key: string;

function environment(): Record<string, string> {
  return { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, NO_COLOR: '1' };
}

async function flagscope(args: string[], input?: string) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    env: environment(),
    extendEnv: false,
    stripFinalNewline: false,
    ...(input === undefined ? {} : { input }),
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function batch(dataset: string, items: unknown[]): Promise<void> {
  const res = await fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(items),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-events-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  key = server.adminKey as string;
  await batch(
    'shop',
    Array.from({ length: 30 }, (_, i) => ({
      time: new Date(NOW - (30 - i) * 60_000).toISOString(),
      data: {
        n: i,
        'service.name': i % 2 === 0 ? 'api' : 'web',
        status_code: i % 10 === 0 ? 500 : 200,
        note: i === 29 ? 'a, "quoted" note' : undefined,
      },
    })),
  );
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flagscope events list (built binary)', () => {
  it('--json prints the API answer, newest first, filtered as query filters', async () => {
    const result = await flagscope(['events', 'list', 'shop', '--where', 'status_code >= 500', '--json']);
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.events.map((e: { data: { n: number } }) => e.data.n)).toEqual([20, 10, 0]);
    expect(answer.cursor).toMatch(/^ds_\d+\.\d+$/);
  });

  it('--format csv has a header and quotes as RFC 4180 says', async () => {
    const result = await flagscope(['events', 'list', 'shop', '--limit', '2', '--columns', 'n,note', '--format', 'csv']);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\r\n');
    expect(lines[0]).toBe('time,samplerate,n,note');
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z,1,29,"a, ""quoted"" note"$/);
    expect(lines[2]).toMatch(/,1,28,$/);
  });

  it('--format ndjson prints one event per line, which `events send` takes back', async () => {
    const result = await flagscope(['events', 'list', 'shop', '--format', 'ndjson']);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(30);
    expect(JSON.parse(lines[0]!)).toMatchObject({ samplerate: 1, data: { n: 29, 'service.name': 'web' } });
    const sent = await flagscope(['events', 'send', 'copy', '-'], result.stdout);
    expect(sent.exitCode).toBe(0);
    const copy = await flagscope(['events', 'list', 'copy', '--format', 'ndjson']);
    expect(copy.stdout).toBe(result.stdout);
  });

  it('piped, prints tab-separated rows of the time and the columns, without a header', async () => {
    const result = await flagscope(['events', 'list', 'shop', '--limit', '3', '--columns', 'service.name,n']);
    expect(result.exitCode).toBe(0);
    expect(
      result.stdout
        .split('\n')
        .slice(0, 3)
        .map((l) => l.split('\t').slice(1)),
    ).toEqual([
      ['web', '29'],
      ['api', '28'],
      ['web', '27'],
    ]);
    expect(result.stderr).toMatch(/3 events of shop in .*more matched/);
  });

  it('refuses an unknown column (exit 2, with the nearest name), an unknown dataset (exit 3), a bad limit (exit 2)', async () => {
    const column = await flagscope(['events', 'list', 'shop', '--columns', 'servce.name']);
    expect(column.exitCode).toBe(2);
    expect(column.stderr).toMatch(/unknown column "servce.name"/);
    expect(column.stderr).toMatch(/service\.name/);
    expect((await flagscope(['events', 'list', 'nosuch'])).exitCode).toBe(3);
    expect((await flagscope(['events', 'list', 'shop', '--limit', '0'])).exitCode).toBe(2);
    const range = await flagscope(['events', 'tail', 'shop', '--since', '1h']);
    expect(range.exitCode).toBe(2);
    expect(range.stderr).toMatch(/unknown option '--since'/);
  });
});

describe('flagscope events tail (built binary)', () => {
  it('prints each event sent after it started once, as NDJSON lines, and exits 0 on SIGINT', async () => {
    const child = execaNode(BIN, ['events', 'tail', 'shop', '--format', 'ndjson', '--where', 'service.name = "api"'], {
      reject: false,
      cwd: dir,
      env: environment(),
      extendEnv: false,
    });
    const lines: string[] = [];
    let buffered = '';
    let wanted = 0;
    let reached: (() => void) | undefined;
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length >= wanted) reached?.();
    });
    const until = (count: number): Promise<void> =>
      new Promise((resolve) => {
        wanted = count;
        reached = resolve;
        if (lines.length >= count) resolve();
      });
    await new Promise<void>((resolve) => {
      let text = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('following shop')) resolve();
      });
    });
    // 3 batches of 200 events in the same millisecond, half of them matching, sent at once.
    const time = new Date(NOW).toISOString();
    await Promise.all(
      [0, 1, 2].map((b) =>
        batch(
          'shop',
          Array.from({ length: 200 }, (_, i) => ({ time, data: { b, i, 'service.name': i % 2 === 0 ? 'api' : 'web' } })),
        ),
      ),
    );
    await until(300);
    // One more, late, with an old timestamp: printed when it arrives.
    await batch('shop', [{ time: new Date(NOW - 86_400_000).toISOString(), data: { b: 9, i: 0, 'service.name': 'api' } }]);
    await until(301);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    const events = lines.map((line) => JSON.parse(line) as { data: { b: number; i: number; 'service.name': string } });
    expect(events).toHaveLength(301);
    expect(events.every((e) => e.data['service.name'] === 'api')).toBe(true);
    const keys = events.map((e) => `${e.data.b}/${e.data.i}`);
    expect(new Set(keys).size).toBe(301);
    expect(keys[300]).toBe('9/0');
  });

  it('with --last N prints the newest N first, oldest of them first, as lines of field=value', async () => {
    const child = execaNode(BIN, ['events', 'tail', 'copy', '--last', '3', '--columns', 'n'], {
      reject: false,
      cwd: dir,
      env: environment(),
      extendEnv: false,
    });
    await new Promise<void>((resolve) => {
      let text = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('following copy')) resolve();
      });
    });
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(
      String(result.stdout)
        .trim()
        .split('\n')
        .map((line) => line.replace(/^\S+ \S+ /, '')),
    ).toEqual(['n=27', 'n=28', 'n=29']);
  });
});
