/**
 * `flagscope compare` and `flagscope explain` run in-process against a real
 * server, with an in-memory context: a terminal case and a piped case each,
 * a fixed clock, and the request builders' option handling.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCompareRequest } from '../../src/cli/compare/run-compare.js';
import { buildExplainRequest } from '../../src/cli/explain/run-explain.js';
import { createMemoryContext } from '../support/memory-context.js';
import { runCli } from '../../src/cli/program.js';
import { startServer, type RunningServer } from '../../src/server/index.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
let dir: string;
let server: RunningServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-compare-cli-'));
  server = await startServer({ port: 0, dataDir: dir, now: () => NOW });
  let state = 5;
  const rand = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const events = Array.from({ length: 8000 }, (_, i) => {
    const variant = rand() < 0.5 ? 'on' : 'off';
    return {
      time: new Date(NOW - 60_000 - i * 300).toISOString(),
      data: {
        'flag.checkout': variant,
        browser: rand() < 0.3 ? 'Safari' : 'Chrome',
        error: rand() < (variant === 'on' ? 0.08 : 0.02),
        duration_ms: 50 + rand() * 100,
      },
    };
  });
  const res = await fetch(`${server.url}/1/batch/shop`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function context(tty: boolean) {
  return createMemoryContext({
    now: NOW,
    stdoutTTY: tty,
    columns: 140,
    env: { FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey!, NO_COLOR: '1', XDG_CONFIG_HOME: join(dir, 'xdg') },
  });
}

describe('flagscope compare in-process', () => {
  it('draws the report on a terminal', async () => {
    const ctx = context(true);
    expect(await runCli(['compare', 'checkout', '--dataset', 'shop', '--since', '1h', '--expect', 'on=50,off=50'], ctx)).toBe(0);
    const out = ctx.stdoutText();
    expect(out).toContain('checkout on shop · control checkout=off');
    expect(out).toMatch(/RATE\(error = true\)\s+off\s+[\d,]+\s+\d\.\d\d%\s+control/);
    expect(out).toMatch(/on\s+[\d,]+\s+\d\.\d\d%\s+\+\d\.\d\dpp\s+\[\+\d\.\d\dpp, \+\d\.\d\dpp\]\s+<0\.001\s+worse/);
    expect(out).toMatch(/sample ratio checkout \(events\): off \d+\.\d% · on \d+\.\d% vs expected off 50\.0% · on 50\.0% \(--expect\)/);
    expect(ctx.stderrText()).toBe('');
  });

  it('prints tab-separated rows when piped', async () => {
    const ctx = context(false);
    expect(await runCli(['compare', 'checkout', '--dataset', 'shop', '--since', '1h', '--metric', 'AVG(duration_ms)'], ctx)).toBe(0);
    const rows = ctx
      .stdoutText()
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(rows.map((r) => [r[0], r[1], r[9]])).toEqual([
      ['AVG(duration_ms)', 'off', 'control'],
      ['AVG(duration_ms)', 'on', 'no detectable difference'],
    ]);
    expect(ctx.stderrText()).toContain('sample ratio checkout: off');
    expect(ctx.stderrText()).toContain('no configured split to test against');
  });

  it('builds the request from the options, checked before contacting the server', () => {
    const body = buildCompareRequest(
      'checkout',
      {
        dataset: 'shop',
        with: ['cart'],
        metric: ['P99(duration_ms)'],
        control: 'off',
        expect: 'on=1,off=3',
        where: ['service.name = "checkout"'],
        since: '24h',
        alpha: '0.01',
      },
      NOW,
    );
    expect(body).toEqual({
      flags: [{ flag: 'checkout', control: 'off', expect: { on: 1, off: 3 } }, { flag: 'cart' }],
      metrics: ['P99(duration_ms)'],
      filters: [{ column: 'service.name', op: '=', value: 'checkout' }],
      filter_combination: 'AND',
      time_range: 86_400,
      alpha: 0.01,
    });
    expect(buildCompareRequest('x', { dataset: 'd', unit: 'none' }, NOW).unit).toBeNull();
    expect(buildCompareRequest('x', { dataset: 'd', unit: 'account.id' }, NOW).unit).toBe('account.id');
    expect(() => buildCompareRequest('x', { dataset: 'd', alpha: '2' }, NOW)).toThrow(/--alpha 2/);
    expect(() => buildCompareRequest('x', { dataset: 'd', since: '1h', start: '-2h' }, NOW)).toThrow(/--since/);
  });
});

describe('flagscope explain in-process', () => {
  it('draws bars on a terminal and prints rows when piped', async () => {
    const tty = context(true);
    expect(await runCli(['explain', 'shop', '--where', 'error = true', '--since', '1h'], tty)).toBe(0);
    expect(tty.stdoutText()).toContain('what sets error = true apart in shop');
    expect(tty.stdoutText()).toMatch(/flag\.checkout=on\s+█+\S*\s+\d+\.\d%\s+█+\S*\s+\d+\.\d%\s+\+\d+\.\dpp\s+<0\.001/);
    const piped = context(false);
    expect(await runCli(['explain', 'shop', '--where', 'error = true', '--since', '1h', '--limit', '3'], piped)).toBe(0);
    const rows = piped
      .stdoutText()
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(rows).toHaveLength(3);
    expect(rows[0]!.slice(0, 4)).toEqual(['1', 'value', 'flag.checkout', 'on']);
    expect(rows[0]![9]).toBe('true');
  });

  it('builds the request: selection, population and time range', () => {
    expect(buildExplainRequest({ where: ['error = true'], population: ['browser = "Safari"'], start: '-2h', limit: '20' }, NOW)).toEqual({
      selection: [{ column: 'error', op: '=', value: true }],
      selection_combination: 'AND',
      filters: [{ column: 'browser', op: '=', value: 'Safari' }],
      filter_combination: 'AND',
      start_time: NOW / 1000 - 7200,
      end_time: NOW / 1000,
      limit: 50,
    });
    expect(() => buildExplainRequest({ where: ['error = true'], limit: '0' }, NOW)).toThrow(/--limit 0/);
  });
});
