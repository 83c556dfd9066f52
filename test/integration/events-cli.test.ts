/**
 * `flagscope events list|tail` on a terminal (an in-memory context with a TTY stdout of a chosen
 * width, the real CLI program) against the real server: the table keeps to the width with the
 * telling columns and says what it left out; the follow's lines are cut to the width, and a
 * Ctrl-C (a raised SIGINT) ends it with exit 0. Also the raw-event shaping of src/output/events.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { chooseColumns, eventLine } from '../../src/output/events.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { stripAnsi, visibleWidth } from '../../src/output/style.js';
import { createMemoryContext } from '../support/memory-context.js';

let dir: string;
let server: RunningServer;
let key: string;
const NOW = Date.now();

function cli(columns: number) {
  return createMemoryContext({
    stdoutTTY: true,
    stderrTTY: true,
    columns,
    now: NOW,
    env: { FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, XDG_CONFIG_HOME: join(dir, 'xdg') },
    homeDir: dir,
    cwd: dir,
  });
}

const WIDE = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`attr_${String(i).padStart(2, '0')}`, `value-${i}`]));

async function batch(dataset: string, items: unknown[]): Promise<void> {
  const res = await fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(items),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-events-cli-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  key = server.adminKey as string;
  await batch(
    'wide',
    Array.from({ length: 12 }, (_, i) => ({
      time: new Date(NOW - (12 - i) * 1000).toISOString(),
      data: { ...WIDE, 'service.name': 'checkout', status_code: 200 + i, duration_ms: 10.5 + i, note: 'x'.repeat(80) },
    })),
  );
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('events list on a terminal', () => {
  it('fits the width with the telling columns first and says how many it shows', async () => {
    const ctx = cli(90);
    expect(await runCli(['events', 'list', 'wide', '--limit', '5'], ctx)).toBe(0);
    const lines = stripAnsi(ctx.stdoutText()).trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^time\s+service\.name\s+status_code\s+duration_ms\s/);
    expect(lines[1]).toMatch(/checkout\s+211\s+21\.5/);
    expect(lines.every((line) => visibleWidth(line) <= 90)).toBe(true);
    expect(ctx.stderrText()).toMatch(/showing \d of 44 columns; choose them with --columns/);
    expect(ctx.stderrText()).toMatch(/5 events of wide in .* more matched/);
  });

  it('says so when nothing matched, with exit 0', async () => {
    const ctx = cli(90);
    expect(await runCli(['events', 'list', 'wide', '--where', 'status_code > 999'], ctx)).toBe(0);
    expect(ctx.stdoutText()).toBe('');
    expect(ctx.stderrText()).toMatch(/no events matched in .*; widen it with --since/);
  });
});

describe('events tail on a terminal', () => {
  it('prints each new event as one line cut to the width, and Ctrl-C ends it with exit 0', async () => {
    const ctx = cli(70);
    const run = runCli(['events', 'tail', 'wide'], ctx);
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (ctx.stderrText().includes('following wide')) resolve();
        else setImmediate(check);
      };
      check();
    });
    await batch('wide', [{ data: { ...WIDE, 'service.name': 'cart', status_code: 503 } }]);
    const text = await ctx.waitForStdout((out) => out.includes('\n'));
    ctx.raiseSignal('SIGINT');
    expect(await run).toBe(0);
    const line = stripAnsi(text).trimEnd();
    expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} service\.name=cart status_code=503 attr_00=val/);
    expect(visibleWidth(line)).toBe(70);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('raw events for the terminal (src/output/events.ts)', () => {
  const event = { time: '2026-01-15T12:00:00.123456Z', samplerate: 1, data: { b: 'x', 'service.name': 'api', msg: 'two words', n: 3 } };

  it('puts the telling columns first, then the others by how many events have them', () => {
    const other = { ...event, data: { b: 'y', c: 1 } };
    expect(chooseColumns([event, other], 200).columns).toEqual(['service.name', 'b', 'msg', 'n', 'c']);
    expect(chooseColumns([event, other], 46).columns).toEqual(['service.name', 'b', 'n', 'c']);
  });

  it('writes a followed event as time and field=value pairs, quoting values with spaces', () => {
    expect(eventLine(event)).toBe('2026-01-15 12:00:00.123 service.name=api b=x msg="two words" n=3');
    expect(eventLine(event, { columns: ['n', 'missing'] })).toBe('2026-01-15 12:00:00.123 n=3');
  });
});
