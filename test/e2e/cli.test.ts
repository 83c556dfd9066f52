/**
 * End-to-end: the built `bin/flagscope` (run `npm run build` first) against a
 * real server started in the test, asserting exit code, stdout and stderr
 * separately. Each test gets its own XDG_CONFIG_HOME.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/index.js';
import type { RunningServer } from '../../src/server/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'flagscope');

let server: RunningServer;
let dir: string;
let key: string;

async function isolatedConfig(profile?: { api_url: string; api_key: string }): Promise<string> {
  const xdg = await mkdtemp(join(dir, 'xdg-'));
  if (profile !== undefined) {
    await mkdir(join(xdg, 'flagscope'), { recursive: true });
    await writeFile(join(xdg, 'flagscope', 'config.json'), JSON.stringify({ current_profile: 'default', profiles: { default: profile } }), {
      mode: 0o600,
    });
  }
  return xdg;
}

async function flagscope(args: string[], env: Record<string, string> = {}, input?: string) {
  const xdg = env.XDG_CONFIG_HOME ?? (await isolatedConfig());
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    input,
    env: { XDG_CONFIG_HOME: xdg, FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, NO_COLOR: '1', ...env },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-e2e-cli-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  key = server.adminKey ?? '';
  const now = Date.now();
  const lines = Array.from({ length: 40 }, (_, i) =>
    JSON.stringify({
      data: { 'service.name': i % 2 === 0 ? 'api' : 'web', duration_ms: 100 + i, status_code: i % 8 === 0 ? 503 : 200 },
      time: new Date(now - 60_000 * (i + 1)).toISOString(),
    }),
  );
  lines.splice(10, 0, '{"broken": ');
  await writeFile(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flagscope (built binary)', () => {
  it('sends events from a file, reports the bad line and exits 2', async () => {
    const r = await flagscope(['events', 'send', 'shop', 'events.ndjson']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('sent 40 events to shop: 40 accepted, 0 rejected; 1 invalid line not sent\n');
    expect(r.stderr).toMatch(
      /^line 11: not sent: invalid JSON: .+\nerror: 1 of 41 lines were not stored\nhint: fix the lines reported above and send them again\n$/,
    );
  });

  it('lists datasets and columns as tab-separated rows when piped', async () => {
    const datasets = await flagscope(['datasets']);
    expect(datasets.exitCode).toBe(0);
    // name, events, columns, oldest and newest event, bytes on disk, retention
    expect(datasets.stdout).toMatch(/^shop\t40\t3\t\d{4}-\d\d-\d\dT[\d:.]+Z\t\d{4}-\d\d-\d\dT[\d:.]+Z\t\d+\t[\w.]+\n$/);
    expect(datasets.stderr).toBe('');
    const columns = await flagscope(['columns', 'shop']);
    expect(columns.exitCode).toBe(0);
    expect(
      columns.stdout
        .split('\n')
        .map((l) => l.split('\t').slice(0, 2).join(' '))
        .filter(Boolean)
        .sort(),
    ).toEqual(['duration_ms integer', 'service.name string', 'status_code integer']);
  });

  it('queries as a table, as JSON and as CSV', async () => {
    const args = [
      'query',
      'shop',
      '--calc',
      'COUNT',
      '--calc',
      'MAX(duration_ms)',
      '--by',
      'service.name',
      '--order',
      'service.name',
      '--since',
      '2h',
    ];
    const table = await flagscope(args);
    expect(table).toEqual({ exitCode: 0, stdout: 'api\t20\t138\nweb\t20\t139\n', stderr: '' });
    const json = await flagscope([...args, '--json']);
    expect(json.exitCode).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result.data.results).toEqual([
      { data: { 'service.name': 'api', COUNT: 20, 'MAX(duration_ms)': 138 } },
      { data: { 'service.name': 'web', COUNT: 20, 'MAX(duration_ms)': 139 } },
    ]);
    expect(result.meta.calculations).toEqual(['COUNT', 'MAX(duration_ms)']);
    const csv = await flagscope([...args, '--format', 'csv']);
    expect(csv.stdout).toBe('service.name,COUNT,MAX(duration_ms)\r\napi,20,138\r\nweb,20,139\r\n');
  });

  it('uses the URL and key of the config profile when nothing else is given', async () => {
    const xdg = await isolatedConfig({ api_url: server.url, api_key: key });
    const r = await flagscope(['query', 'shop', '--where', 'status_code >= 500'], {
      XDG_CONFIG_HOME: xdg,
      FLAGSCOPE_API_URL: '',
      FLAGSCOPE_API_KEY: '',
    });
    expect(r).toEqual({ exitCode: 0, stdout: '5\n', stderr: '' });
  });

  it('exits 2 on a usage error, with a hint', async () => {
    const r = await flagscope(['query', 'shop', '--calcs', 'COUNT']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("error: unknown option '--calcs'\nhint: did you mean --calc? run `flagscope query --help`\n");
  });

  it('refuses a bad --ingest-workers before starting a server', async () => {
    for (const bad of ['-1', '1.5', 'many', '65']) {
      const r = await flagscope(['serve', '--port', '0', '--ingest-workers', bad]);
      expect(r.exitCode, bad).toBe(2);
      expect(r.stdout, bad).toBe('');
      expect(r.stderr, bad).toBe(
        `error: \`--ingest-workers ${bad}\` is not a number of threads\nhint: pass a whole number from 0 (parse batches on the main thread) to 64\n`,
      );
    }
  });

  it('refuses a malformed or unknown --store before opening anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--store', './data'], /^error: `\.\/data` is not a store URL\nhint: pass `--store duckdb:DIR`/],
      [['--store', 'postgres://db/x'], /^error: unknown store engine "postgres" in `postgres:\/\/db\/x`\nhint: the engines are duckdb;/],
      [['--store', 'duckdb:'], /^error: store URL `duckdb:` names no directory\n/],
      [
        ['--store', 'duckdb:./a', '--data-dir', './b'],
        /^error: `--store` and `--data-dir` both say where the data is\nhint: pass one of them\n$/,
      ],
    ];
    for (const [args, stderr] of cases) {
      const r = await flagscope(['serve', '--port', '0', ...args]);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(stderr);
    }
  });

  it('exits 3 for an unknown dataset', async () => {
    const r = await flagscope(['query', 'nope']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: dataset "nope" does not exist\nhint: .+\n$/);
  });

  it('exits 4 for a wrong key, and prints a JSON error object with --json', async () => {
    const r = await flagscope(['datasets', '--json'], { FLAGSCOPE_API_KEY: 'fsk_not_a_key' });
    expect(r.exitCode).toBe(4);
    expect(r.stdout).toBe('');
    const body = JSON.parse(r.stderr);
    expect(body.error).toMatchObject({
      code: 'unauthenticated',
      hint: 'pass `--api-key`, set FLAGSCOPE_API_KEY, or choose a profile with `--profile`',
    });
    expect(body.error.message).toContain(`the flagscope API at ${server.url} refused the request`);
  });

  it('exits 5 when the server is unreachable', async () => {
    const port = await closedPort();
    const r = await flagscope(['datasets', '--api-url', `http://127.0.0.1:${port}`]);
    expect(r).toEqual({
      exitCode: 5,
      stdout: '',
      stderr: `error: cannot reach the flagscope API at http://127.0.0.1:${port}: connection refused\nhint: start it with \`flagscope serve\` or pass \`--api-url\`\n`,
    });
  });

  it('ends quietly with exit 0 when the reader of its output goes away', async () => {
    const r = await execa('bash', ['-c', `"${process.execPath}" "${BIN}" completion bash | head -1; echo "status \${PIPESTATUS[0]}"`], {
      reject: false,
    });
    expect(r.stdout).toMatch(/^# bash completion for flagscope.*\nstatus 0$/);
    expect(r.stderr).toBe('');
  });

  it('shows examples in help and prints completion scripts', async () => {
    const help = await flagscope(['events', 'send', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Examples:\n  $ flagscope events send checkout events.ndjson');
    const bash = await flagscope(['completion', 'bash']);
    expect(bash.stdout).toContain('complete -F _flagscope flagscope');
  });
});
