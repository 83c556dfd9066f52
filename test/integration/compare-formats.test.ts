/**
 * `flagscope compare` and `explain` in-process against a real server (issue 11, items 6 and 7):
 * a metric that cannot be computed is named with its reason (table, piped, `--json` notes), a flag
 * without events is not found (exit 3) with a suggestion, `--format csv|ndjson` give one record
 * per metric and cohort or per finding, and machine output carries no float noise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { mulberry32 } from '../fixtures/random.js';
import { createMemoryContext } from '../support/memory-context.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
let dir: string;
let server: RunningServer;

async function send(dataset: string, events: unknown[]): Promise<void> {
  const res = await fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-compare-formats-'));
  server = await startServer({ port: 0, dataDir: dir, now: () => NOW });
  const rand = mulberry32(17);
  const events = (durationAsText: boolean) =>
    Array.from({ length: 4000 }, (_, i) => {
      const variant = rand() < 0.5 ? 'on' : 'off';
      const duration = Math.round((50 + rand() * 100) * 1000) / 1000;
      return {
        time: new Date(NOW - 60_000 - i * 500).toISOString(),
        data: {
          'flag.checkout_v2': variant,
          'flag.dark_mode': rand() < 0.5 ? 'on' : 'off',
          browser: rand() < 0.3 ? 'Firefox' : 'Chrome',
          error: rand() < (variant === 'on' ? 0.1 : 0.02),
          // Prices of one decimal: their sums and means are where float noise shows.
          price: Math.round(rand() * 1000) / 10,
          duration_ms: durationAsText ? `${duration} ms` : duration,
        },
      };
    });
  await send('shop', events(false));
  await send('texty', events(true));
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function context(tty: boolean) {
  return createMemoryContext({
    now: NOW,
    stdoutTTY: tty,
    columns: 160,
    env: { FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey!, NO_COLOR: '1', XDG_CONFIG_HOME: join(dir, 'xdg') },
  });
}

/** Every non-integer number in `text` has at most 15 significant digits. */
function noFloatNoise(text: string): void {
  for (const match of text.matchAll(/-?\d+\.\d+(?:e[-+]?\d+)?/gi)) {
    const mantissa = match[0].replace(/e.*$/i, '').replace(/[-.]/g, '').replace(/^0+/, '');
    expect(mantissa.length, match[0]).toBeLessThanOrEqual(15);
  }
}

const P95_NOTE = 'P95(duration_ms) not computed: duration_ms is a string column and a percentile needs numbers';

describe('compare says which metric it did not compute, and why', () => {
  it('in the table on a terminal', async () => {
    const ctx = context(true);
    expect(await runCli(['compare', 'checkout_v2', '--dataset', 'texty', '--since', '1h'], ctx)).toBe(0);
    expect(ctx.stdoutText()).toContain(`note: ${P95_NOTE}`);
    expect(ctx.stdoutText()).toContain('RATE(error = true)');
  });

  it('on stderr when piped, and in --json notes', async () => {
    const piped = context(false);
    expect(await runCli(['compare', 'checkout_v2', '--dataset', 'texty', '--since', '1h'], piped)).toBe(0);
    expect(piped.stderrText()).toContain(`note: ${P95_NOTE}`);
    expect(piped.stdoutText()).not.toContain('P95');
    const json = context(false);
    expect(await runCli(['compare', 'checkout_v2', '--dataset', 'texty', '--since', '1h', '--json'], json)).toBe(0);
    const report = JSON.parse(json.stdoutText());
    expect(report.notes.some((n: string) => n.startsWith(P95_NOTE))).toBe(true);
    expect(report.metrics.map((m: { name: string }) => m.name)).toEqual(['RATE(error = true)']);
  });
});

describe('compare of a flag without events', () => {
  it('exits 3 about the flag, with the nearest flag that has events', async () => {
    const ctx = context(false);
    expect(await runCli(['compare', 'checkout_v3', '--dataset', 'shop', '--since', '1h'], ctx)).toBe(3);
    expect(ctx.stdoutText()).toBe('');
    expect(ctx.stderrText()).toContain('flag "checkout_v3" has no events in dataset "shop" (no column flag.checkout_v3)');
    expect(ctx.stderrText()).toContain('did you mean "checkout_v2"?');
    const none = context(false);
    expect(await runCli(['compare', 'nosuchflag', '--dataset', 'shop', '--since', '1h'], none)).toBe(3);
    expect(none.stderrText()).toContain('flags with events in "shop": checkout_v2, dark_mode');
  });
});

describe('compare and explain in every format', () => {
  it('compare --format csv: a header, then one row per metric and cohort and per interaction', async () => {
    const ctx = context(false);
    const args = ['compare', 'checkout_v2', '--dataset', 'shop', '--with', 'dark_mode', '--metric', 'AVG(price)', '--since', '1h'];
    expect(await runCli([...args, '--format', 'csv'], ctx)).toBe(0);
    const lines = ctx.stdoutText().split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('kind,metric,cohort,count,value,difference,scale,ci_low,ci_high,p,q,verdict');
    const rows = lines.slice(1).map((l) => l.split(','));
    expect(rows.filter((r) => r[0] === 'result')).toHaveLength(4);
    expect(rows.filter((r) => r[0] === 'interaction')).toHaveLength(1);
    expect(rows[0]!.slice(0, 3)).toEqual(['result', 'AVG(price)', 'checkout_v2=off dark_mode=off']);
    expect(rows[0]![11]).toBe('control');
    expect(ctx.stderrText()).toContain('sample ratio checkout_v2');
    noFloatNoise(ctx.stdoutText());
  });

  it('compare --format ndjson: one JSON record per line', async () => {
    const ctx = context(false);
    expect(await runCli(['compare', 'checkout_v2', '--dataset', 'shop', '--since', '1h', '--format', 'ndjson'], ctx)).toBe(0);
    const records = ctx
      .stdoutText()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => [r.metric, r.cohort, r.verdict])).toEqual([
      ['RATE(error = true)', 'off', 'control'],
      ['RATE(error = true)', 'on', 'worse'],
      ['P95(duration_ms)', 'off', 'control'],
      ['P95(duration_ms)', 'on', expect.any(String)],
    ]);
    expect(records[1].ciLow).toBeGreaterThan(0);
  });

  it('explain --format csv and ndjson: one record per finding, ranked, --limit of them', async () => {
    const csv = context(false);
    expect(await runCli(['explain', 'shop', '--where', 'error = true', '--since', '1h', '--limit', '3', '--format', 'csv'], csv)).toBe(0);
    const lines = csv.stdoutText().split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('rank,kind,columns,values,selected_share,rest_share,effect,p,q,significant');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^1,value,flag\.checkout_v2,on,/);
    noFloatNoise(csv.stdoutText());
    const ndjson = context(false);
    expect(
      await runCli(['explain', 'shop', '--where', 'error = true', '--since', '1h', '--limit', '2', '--format', 'ndjson'], ndjson),
    ).toBe(0);
    const records = ndjson
      .stdoutText()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => r.rank)).toEqual([1, 2]);
    expect(records[0]).toMatchObject({ kind: 'value', columns: ['flag.checkout_v2'], values: ['on'], significant: true });
  });

  it('writes no float noise in JSON or tab-separated output', async () => {
    const json = context(false);
    expect(await runCli(['compare', 'checkout_v2', '--dataset', 'shop', '--metric', 'AVG(price)', '--since', '1h', '--json'], json)).toBe(
      0,
    );
    noFloatNoise(json.stdoutText());
    const piped = context(false);
    expect(await runCli(['query', 'shop', '--calc', 'AVG(price)', '--calc', 'SUM(price)', '--by', 'browser', '--since', '1h'], piped)).toBe(
      0,
    );
    noFloatNoise(piped.stdoutText());
    expect(piped.stdoutText()).toMatch(/^(Chrome|Firefox)\t\d+\.?\d*\t\d+\.?\d*$/m);
  });
});
