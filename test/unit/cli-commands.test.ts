/**
 * Commands run in-process with an in-memory context against the real server
 * (`startServer` on a free loopback port, DuckDB in a temp directory), with a
 * fixed clock shared by the CLI and the server.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryContext } from '../support/memory-context.js';
import type { MemoryContextOptions } from '../support/memory-context.js';
import { runCli } from '../../src/cli/program.js';
import { startServer } from '../../src/server/index.js';
import type { RunningServer } from '../../src/server/index.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const SERVICES = ['api', 'checkout', 'search'] as const;

interface TestEvent {
  service: string;
  duration: number;
  status: number;
  time: number;
}

/** 90 events over the last hour: service i%3, durations 10..99, every 10th a 500. */
function makeEvents(): TestEvent[] {
  return Array.from({ length: 90 }, (_, i) => ({
    service: SERVICES[i % 3] ?? 'api',
    duration: 10 + i,
    status: i % 10 === 0 ? 500 : 200,
    time: NOW - 3_600_000 + 30_000 + i * 39_000,
  }));
}

let server: RunningServer;
let dir: string;
let key: string;
const events = makeEvents();

async function run(argv: string[], options: MemoryContextOptions = {}) {
  const ctx = createMemoryContext({ now: NOW, cwd: dir, env: { XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' }, ...options });
  const code = await runCli([...argv, '--api-url', server.url, '--api-key', key], ctx);
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-cli-commands-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data'), now: () => NOW });
  key = server.adminKey ?? '';
  const lines = events.map((e) =>
    JSON.stringify({
      data: { 'service.name': e.service, duration_ms: e.duration, status_code: e.status },
      time: new Date(e.time).toISOString(),
    }),
  );
  await writeFile(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
  const sent = await run(['events', 'send', 'shop', 'events.ndjson']);
  expect(sent.code).toBe(0);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('events send', () => {
  it('prints a summary line for a clean file', async () => {
    await writeFile(join(dir, 'two.ndjson'), '{"a": 1, "duration_ms": 5}\n\n{"a": 2}\n');
    const r = await run(['events', 'send', 'scratch', 'two.ndjson']);
    expect(r).toEqual({ code: 0, stdout: 'sent 2 events to scratch: 2 accepted, 0 rejected\n', stderr: '' });
  });

  it('reports invalid and rejected lines by number and exits 2', async () => {
    await writeFile(
      join(dir, 'bad.ndjson'),
      `${['{"a": 1}', '{"a": ', '[1, 2]', '{"data": {"a": 3}, "samplerate": "ten"}', '{"data": {"a": 4}, "samplerate": 4}'].join('\n')}\n`,
    );
    const r = await run(['events', 'send', 'scratch', 'bad.ndjson']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('sent 3 events to scratch: 2 accepted, 1 rejected; 2 invalid lines not sent\n');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^line 2: not sent: invalid JSON: /);
    expect(lines[1]).toBe('line 3: not sent: expected a JSON object, got an array');
    expect(lines[2]).toMatch(/^line 4: rejected: samplerate/);
    expect(lines.slice(3)).toEqual(['error: 3 of 5 lines were not stored', 'hint: fix the lines reported above and send them again']);
  });

  it('maps rejections back to line numbers across concurrent batches', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ data: { n: i + 1 }, samplerate: (i + 1) % 3 === 0 ? 'x' : 1 }));
    await writeFile(join(dir, 'many.ndjson'), `${lines.join('\n')}\n`);
    const r = await run(['events', 'send', 'scratch', 'many.ndjson', '--batch-size', '4', '--concurrency', '3', '--json']);
    expect(r.code).toBe(2);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ sent: 30, accepted: 20, rejected: 10, invalid: 0 });
    expect(summary.errors.map((e: { line: number }) => e.line)).toEqual([3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
    expect(summary.errors.every((e: { status: number }) => e.status === 400)).toBe(true);
  });

  it('gives the per-line outcome as JSON and reads stdin', async () => {
    const r = await run(['events', 'send', 'scratch', '-', '--json'], { stdin: '{"a": 1}\nnot json\n' });
    expect(r.code).toBe(2);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ dataset: 'scratch', sent: 1, accepted: 1, rejected: 0, invalid: 1 });
    expect(summary.errors).toEqual([{ line: 2, status: 0, error: expect.stringMatching(/^invalid JSON/) }]);
    expect(JSON.parse(r.stderr).error.code).toBe('invalid_input');
  });

  it('draws a progress bar only when stderr is a terminal', async () => {
    const tty = await run(['events', 'send', 'scratch', 'events.ndjson'], { stderrTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain('sending [');
    expect(tty.stderr.endsWith('\r\u001b[K')).toBe(true);
  });
});

describe('datasets and columns', () => {
  it('lists datasets as a table on a TTY and as tab-separated ISO rows when piped', async () => {
    const tty = await run(['datasets'], { stdoutTTY: true });
    expect(tty.code).toBe(0);
    const header = tty.stdout.split('\n')[0];
    expect(header).toMatch(/^NAME\s+EVENTS\s+COLUMNS\s+OLDEST EVENT\s+NEWEST EVENT\s+SIZE\s+RETENTION$/);
    expect(tty.stdout).toMatch(/shop\s+90\s+3\s+.+\s+2 minutes ago\s+\d[\d.]* (B|KiB|MiB)\s+forever \(default\)/);
    const piped = await run(['datasets']);
    const iso = (t: number | undefined): string => new Date(t ?? 0).toISOString().replace('.000Z', 'Z');
    const times = events.map((e) => e.time);
    expect(piped.stdout.split('\n').find((l) => l.startsWith('shop\t'))).toMatch(
      new RegExp(`^shop\\t90\\t3\\t${iso(Math.min(...times))}\\t${iso(Math.max(...times))}\\t\\d+\\tforever$`),
    );
  });

  it('colours the TTY table unless NO_COLOR is set', async () => {
    const coloured = await run(['datasets'], { stdoutTTY: true, env: { XDG_CONFIG_HOME: join(dir, 'config') } });
    expect(coloured.stdout.startsWith('\u001b[1mNAME')).toBe(true);
    const plain = await run(['datasets'], { stdoutTTY: true });
    expect(plain.stdout.startsWith('NAME')).toBe(true);
    expect(plain.stdout).not.toContain('\u001b[');
  });

  it('prints the API document with --json and one record per line with ndjson', async () => {
    const json = JSON.parse((await run(['datasets', '--json'])).stdout);
    expect(json.datasets.find((d: { name: string }) => d.name === 'shop')).toMatchObject({ name: 'shop', rows: 90, columns: 3 });
    const ndjson = (await run(['columns', 'shop', '--format', 'ndjson'])).stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(ndjson.map((c: { name: string; type: string }) => [c.name, c.type]).sort()).toEqual([
      ['duration_ms', 'integer'],
      ['service.name', 'string'],
      ['status_code', 'integer'],
    ]);
  });

  it('exits 3 for an unknown dataset', async () => {
    const r = await run(['columns', 'nope']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: .*nope/);
  });

  it('completes dataset names for the shell scripts', async () => {
    const r = await run(['__complete', 'datasets']);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['shop', 'scratch']));
  });
});

describe('query', () => {
  const expectedCounts = Object.fromEntries(SERVICES.map((s) => [s, events.filter((e) => e.service === s).length]));
  const expectedErrors = Object.fromEntries(SERVICES.map((s) => [s, events.filter((e) => e.service === s && e.status >= 500).length]));
  const expectedMax = Object.fromEntries(
    SERVICES.map((s) => [s, Math.max(...events.filter((e) => e.service === s).map((e) => e.duration))]),
  );

  it('prints breakdown columns then calculations, as an aligned table on a TTY', async () => {
    const r = await run(
      [
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
      ],
      {
        stdoutTTY: true,
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'SERVICE.NAME  COUNT  MAX(duration_ms)\n' +
        SERVICES.map((s) => `${s.padEnd(12)}  ${String(expectedCounts[s]).padStart(5)}  ${String(expectedMax[s]).padStart(16)}`).join(
          '\n',
        ) +
        '\n',
    );
    expect(r.stderr).toMatch(/3 groups · 2026-01-15T10:00:00Z – 2026-01-15T12:00:00Z/);
  });

  it('prints tab-separated rows when piped and RFC 4180 CSV with a header', async () => {
    const args = ['query', 'shop', '--where', 'status_code >= 500', '--by', 'service.name', '--order', 'service.name'];
    const tsv = await run(args);
    expect(tsv.stdout).toBe(SERVICES.map((s) => `${s}\t${expectedErrors[s]}\n`).join(''));
    const csv = await run([...args, '--format', 'csv']);
    expect(csv.stdout).toBe(`service.name,COUNT\r\n${SERVICES.map((s) => `${s},${expectedErrors[s]}\r\n`).join('')}`);
  });

  it('prints the QueryResult with --json, with series when a granularity is given', async () => {
    const r = await run(['query', 'shop', '--calc', 'COUNT', '--granularity', '10m', '--since', '1h', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.meta).toMatchObject({ dataset: 'shop', calculations: ['COUNT'], breakdowns: [] });
    expect(result.data.results).toEqual([{ data: { COUNT: 90 } }]);
    const total = result.data.series.reduce((sum: number, row: { data: { COUNT: number } }) => sum + row.data.COUNT, 0);
    expect(total).toBe(90);
    expect(result.query.granularity).toBe(600);
  });

  it('draws a sparkline per group on a TTY when a granularity is given', async () => {
    const r = await run(['query', 'shop', '--calc', 'AVG(duration_ms)', '--by', 'service.name', '--granularity', '10m', '--since', '1h'], {
      stdoutTTY: true,
    });
    expect(r.code).toBe(0);
    const chart = r.stdout.split('\n\n')[1] ?? '';
    const lines = chart.split('\n');
    expect(lines[0]).toBe('AVG(duration_ms)');
    for (const s of SERVICES)
      expect(lines.find((l) => l.startsWith(s))).toMatch(new RegExp(`^${s}\\s+[▁▂▃▄▅▆▇█ ]+\\s+min \\d+(\\.\\d+)?\\s+max \\d+`));
    expect(chart).toContain(' UTC');
  });

  it('draws a heatmap with a legend for --heatmap', async () => {
    const r = await run(['query', 'shop', '--heatmap', 'duration_ms', '--since', '1h'], { stdoutTTY: true });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('HEATMAP(duration_ms)');
    expect(r.stdout).toMatch(/┤[ ░▒▓█]*[░▒▓█]/);
    expect(r.stdout).toContain('events per cell: ░');
  });

  it('re-runs the query with --watch on a terminal until interrupted', async () => {
    const ctx = createMemoryContext({ now: NOW, cwd: dir, stdoutTTY: true, env: { XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' } });
    const running = runCli(
      ['query', 'shop', '--by', 'service.name', '--watch', '--interval', '1s', '--api-url', server.url, '--api-key', key],
      ctx,
    );
    const clear = '\u001b[2J\u001b[H';
    // The first screen, then a wait of one interval on the context's clock: no test time passes.
    await ctx.waitForSleep();
    expect(ctx.stdoutText().split(clear).length).toBe(2);
    await ctx.advance(1000);
    // Two screens prove the refresh; then Ctrl-C ends the loop, and its wait, with exit 0.
    await ctx.waitForStdout((text) => text.split(clear).length > 2 && text.endsWith('\n'));
    await ctx.waitForSleep();
    ctx.raiseSignal('SIGINT');
    expect(await running).toBe(0);
    const screens = ctx.stdoutText().split(clear).slice(1);
    expect(screens.length).toBeGreaterThanOrEqual(2);
    expect(screens[0]).toMatch(/^shop · every 1s · updated 2026-01-15T12:00:00Z · ctrl-c to stop\n\nSERVICE\.NAME\s+COUNT\n/);
    expect(screens[1]).toMatch(/^shop · every 1s · updated 2026-01-15T12:00:01Z · ctrl-c to stop\n/);
  });

  it('reads a spec file and lets options override its fields', async () => {
    await writeFile(
      join(dir, 'spec.json'),
      JSON.stringify({ calculations: [{ op: 'MAX', column: 'duration_ms' }], breakdowns: ['status_code'], time_range: 7200 }),
    );
    const fromFile = await run(['query', 'shop', '--spec', 'spec.json', '--order', 'status_code', '--format', 'ndjson']);
    expect(
      fromFile.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { status_code: 200, 'MAX(duration_ms)': 99 },
      { status_code: 500, 'MAX(duration_ms)': 90 },
    ]);
    const overridden = await run([
      'query',
      'shop',
      '--spec',
      'spec.json',
      '--calc',
      'COUNT',
      '--by',
      'service.name',
      '--order',
      'service.name',
    ]);
    expect(overridden.stdout).toBe(SERVICES.map((s) => `${s}\t${expectedCounts[s]}\n`).join(''));
  });

  it('maps server errors to exit codes: 3 unknown dataset, 2 unknown column, 4 wrong key', async () => {
    const missing = await run(['query', 'nope']);
    expect(missing.code).toBe(3);
    const column = await run(['query', 'shop', '--calc', 'P99(nope)']);
    expect(column.code).toBe(2);
    expect(column.stderr).toMatch(/^error: .*unknown column "nope"\nhint: /);
    const ctx = createMemoryContext({ now: NOW, env: { XDG_CONFIG_HOME: join(dir, 'config') } });
    const code = await runCli(['datasets', '--api-url', server.url, '--api-key', 'fsk_wrong'], ctx);
    expect(code).toBe(4);
    expect(ctx.stderrText()).toMatch(/hint: pass `--api-key`, set FLAGSCOPE_API_KEY, or choose a profile with `--profile`\n$/);
  });
});
