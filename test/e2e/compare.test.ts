/**
 * End-to-end: `flagscope compare` and `flagscope explain` of the built
 * binary (run `npm run build` first) against a real server with generated
 * events whose regression is known: checkout=on AND cart=on on Safari fails
 * ten times as often.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'flagscope');

let server: RunningServer;
let dir: string;
let key: string;

async function flagscope(args: string[], env: Record<string, string> = {}) {
  const xdg = await mkdtemp(join(dir, 'xdg-'));
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    env: { XDG_CONFIG_HOME: xdg, FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, NO_COLOR: '1', ...env },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-compare-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  key = server.adminKey!;
  let state = 42;
  const rand = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const now = Date.now();
  const browsers = ['Chrome', 'Safari', 'Firefox'];
  const events = Array.from({ length: 12_000 }, () => {
    const checkout = rand() < 0.5 ? 'on' : 'off';
    const cart = rand() < 0.5 ? 'on' : 'off';
    const browser = browsers[Math.floor(rand() * 3)]!;
    const bad = checkout === 'on' && cart === 'on' && browser === 'Safari';
    return {
      time: new Date(now - Math.floor(rand() * 3_600_000)).toISOString(),
      data: {
        'flag.checkout': checkout,
        'flag.cart': cart,
        browser,
        error: rand() < (bad ? 0.25 : 0.02),
        duration_ms: Math.round(100 * Math.exp(0.4 * (rand() + rand() + rand() - 1.5)) * (bad ? 1.5 : 1)),
      },
    };
  });
  for (let i = 0; i < events.length; i += 4000) {
    const res = await fetch(`${server.url}/1/batch/shop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(events.slice(i, i + 4000)),
    });
    expect(res.status).toBe(200);
  }
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flagscope compare (built binary)', () => {
  it('prints tab-separated results when piped, with the regression marked worse', async () => {
    const result = await flagscope([
      'compare',
      'checkout',
      '--dataset',
      'shop',
      '--with',
      'cart',
      '--since',
      '2h',
      '--expect',
      'on=50,off=50',
    ]);
    expect(result.stderr).toContain('sample ratio checkout');
    expect(result.exitCode).toBe(0);
    const rows = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'));
    const regression = rows.find((r) => r[0] === 'RATE(error = true)' && r[1] === 'checkout=on cart=on');
    expect(regression?.[9]).toBe('worse');
    const control = rows.find((r) => r[0] === 'RATE(error = true)' && r[1] === 'checkout=off cart=off');
    expect(control?.[9]).toBe('control');
    expect(rows.some((r) => r[1]!.startsWith('interaction checkout=on × cart=on') && r[9] === 'worse')).toBe(true);
  });

  it('prints the API report with --json', async () => {
    const result = await flagscope(['compare', 'checkout', '--dataset', 'shop', '--metric', 'P95(duration_ms)', '--json']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    expect(report.flags).toEqual(['checkout']);
    expect(report.metrics.map((m: { name: string }) => m.name)).toEqual(['P95(duration_ms)']);
    expect(report.results).toHaveLength(2);
    expect(report.sampleRatio[0].observed).toHaveProperty('on');
  });

  it('exits 2 with a hint for a metric it cannot compare, and 3 for an unknown dataset', async () => {
    const bad = await flagscope(['compare', 'checkout', '--dataset', 'shop', '--metric', 'HEATMAP(duration_ms)']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('HEATMAP');
    const missing = await flagscope(['compare', 'checkout', '--dataset', 'nope']);
    expect(missing.exitCode).toBe(3);
  });
});

describe('flagscope compare and explain: formats and a flag without events (built binary, issue 11, items 6 and 7)', () => {
  it('exits 3 about a flag without events, suggesting the nearest flag that has events', async () => {
    const result = await flagscope(['compare', 'checkuot', '--dataset', 'shop']);
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('error: flag "checkuot" has no events in dataset "shop" (no column flag.checkuot)');
    expect(result.stderr).toContain('hint: did you mean "checkout"?');
  });

  it('prints compare as CSV and explain as NDJSON, without float noise', async () => {
    const csv = await flagscope(['compare', 'checkout', '--dataset', 'shop', '--metric', 'AVG(duration_ms)', '--format', 'csv']);
    expect(csv.exitCode).toBe(0);
    const lines = csv.stdout.split('\r\n').filter(Boolean);
    expect(lines[0]).toBe('kind,metric,cohort,count,value,difference,scale,ci_low,ci_high,p,q,verdict');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 3))).toEqual([
      ['result', 'AVG(duration_ms)', 'off'],
      ['result', 'AVG(duration_ms)', 'on'],
    ]);
    for (const n of csv.stdout.match(/\d+\.\d+/g) ?? []) expect(n.replace(/^0\.0*|\./g, '').length).toBeLessThanOrEqual(15);
    const ndjson = await flagscope(['explain', 'shop', '--where', 'error = true', '--limit', '2', '--format', 'ndjson']);
    expect(ndjson.exitCode).toBe(0);
    const records = ndjson.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => r.rank)).toEqual([1, 2]);
    expect(new Set(records[0].columns)).toEqual(new Set(['flag.checkout', 'flag.cart', 'browser']));
  });
});

describe('flagscope explain (built binary)', () => {
  it('ranks the planted combination first', async () => {
    const result = await flagscope(['explain', 'shop', '--where', 'error = true', '--since', '2h']);
    expect(result.exitCode).toBe(0);
    const first = result.stdout.split('\n')[0]!.split('\t');
    expect(first[0]).toBe('1');
    expect(new Set(first[2]!.split(','))).toEqual(new Set(['flag.checkout', 'flag.cart', 'browser']));
    expect(first[9]).toBe('true');
  });

  it('prints every number with --json', async () => {
    const json = await flagscope(['explain', 'shop', '--where', 'error = true', '--json']);
    expect(json.exitCode).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.findings[0].qValue).toBeLessThan(0.05);
    expect(report.selected.rows).toBeGreaterThan(0);
  });

  it('needs --where', async () => {
    const result = await flagscope(['explain', 'shop']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--where');
  });
});
