/**
 * INCOMPLETE everywhere, against a real server: stitched executions (`meta.incomplete`) with a
 * flag × browser combination whose executions go quiet, queried (`--calc INCOMPLETE`, the spec's
 * `{"op": "INCOMPLETE"}`), compared (`--metric INCOMPLETE`, the report's incomplete line) and
 * explained (`--incomplete`), each checked against the shares computed here from the events sent;
 * and a dataset without beacons, where each says why INCOMPLETE cannot be had.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareReport, ExplainReport } from '../../src/api/analysis.js';
import { runCli } from '../../src/cli/program.js';
import type { QueryResult } from '../../src/query/spec.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { createMemoryContext } from '../support/memory-context.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const USERS = 600;
const BROWSERS = ['Safari', 'Chrome', 'Firefox'] as const;

interface SentEvent {
  time: number;
  samplerate: number;
  data: Record<string, string | number | boolean>;
}

/**
 * 6,000 executions of 600 users. Users with new_cart=on on Safari lose the end of two in seven
 * executions; everyone else one in 53. Completed executions fail and take as long whoever sends
 * them, so their error rate and latency look alike in every cohort. One in five has sample rate 3.
 */
function executions(): SentEvent[] {
  return Array.from({ length: 6000 }, (_, i) => {
    const user = i % USERS;
    const cart = user % 2 === 0 ? 'on' : 'off';
    const browser = BROWSERS[Math.floor(user / 2) % 3]!;
    const quiet = cart === 'on' && browser === 'Safari';
    const incomplete = quiet ? i % 7 < 2 : i % 53 === 0;
    const data: SentEvent['data'] = {
      'user.id': `u${user}`,
      'flag.new_cart': cart,
      'flag.dark_mode': Math.floor(user / 6) % 2 === 0 ? 'on' : 'off',
      browser,
      country: ['DE', 'FR', 'US', 'JP'][Math.floor(user / 7) % 4]!,
      'meta.incomplete': incomplete,
    };
    if (!incomplete) {
      data.duration_ms = 80 + ((i * 37) % 120);
      data.error = i % 41 === 0;
      data.status_code = i % 41 === 0 ? 500 : 200;
    }
    return { time: NOW - 60_000 - i * 500, samplerate: i % 5 === 0 ? 3 : 1, data };
  });
}

const sent = executions();

/** The weighted share of incomplete executions among `events`. */
function incompleteShare(events: SentEvent[]): number {
  const all = events.reduce((s, e) => s + e.samplerate, 0);
  return events.filter((e) => e.data['meta.incomplete'] === true).reduce((s, e) => s + e.samplerate, 0) / all;
}

function where(predicate: (e: SentEvent) => boolean): SentEvent[] {
  return sent.filter(predicate);
}

let dir: string;
let server: RunningServer;

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-incomplete-'));
  server = await startServer({ port: 0, dataDir: dir, now: () => NOW });
  const items = sent.map((e) => ({ time: new Date(e.time).toISOString(), samplerate: e.samplerate, data: e.data }));
  expect((await post('/1/batch/web', items)).status).toBe(200);
  const plain = sent.slice(0, 500).map((e) => {
    const { 'meta.incomplete': _, ...data } = e.data;
    return { time: new Date(e.time).toISOString(), data };
  });
  expect((await post('/1/batch/plain', plain)).status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function context(tty = false) {
  return createMemoryContext({
    now: NOW,
    stdoutTTY: tty,
    columns: 160,
    env: { FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey!, NO_COLOR: '1', XDG_CONFIG_HOME: join(dir, 'xdg') },
  });
}

async function cli(args: string[], tty = false): Promise<{ code: number; out: string; err: string }> {
  const ctx = context(tty);
  const code = await runCli(args, ctx);
  return { code, out: ctx.stdoutText(), err: ctx.stderrText() };
}

const MISSING_HINT =
  'hint: INCOMPLETE is the share of executions whose end never arrived, which the server marks meta.incomplete = true when it stitches browser beacons (POST /1/beacons/plain); send beacons to this dataset, or query one that receives them (docs/query.md, "INCOMPLETE")\n';

describe('query --calc INCOMPLETE', () => {
  it('gives the weighted share per group, ordered and filtered by it', async () => {
    const run = await cli([
      ...['query', 'web', '--calc', 'COUNT', '--calc', 'INCOMPLETE', '--by', 'flag.new_cart', '--by', 'browser'],
      ...['--order', 'INCOMPLETE desc', '--having', 'INCOMPLETE > 0.01', '--since', '1h', '--json'],
    ]);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.out) as QueryResult;
    expect(result.meta.calculations).toEqual(['COUNT', 'INCOMPLETE']);
    const expected = ['on', 'off']
      .flatMap((cart) => BROWSERS.map((browser) => ({ cart, browser })))
      .map(({ cart, browser }) => {
        const group = where((e) => e.data['flag.new_cart'] === cart && e.data.browser === browser);
        return {
          'flag.new_cart': cart,
          browser,
          COUNT: group.reduce((s, e) => s + e.samplerate, 0),
          INCOMPLETE: incompleteShare(group),
        };
      })
      .filter((g) => g.INCOMPLETE > 0.01)
      // Ties are ordered by the breakdowns, ascending.
      .sort(
        (a, b) => b.INCOMPLETE - a.INCOMPLETE || a['flag.new_cart'].localeCompare(b['flag.new_cart']) || a.browser.localeCompare(b.browser),
      );
    expect(result.data.results.map((r) => r.data)).toEqual(expected.map((g) => ({ ...g, INCOMPLETE: expect.closeTo(g.INCOMPLETE, 12) })));
    expect(result.data.results[0]?.data).toMatchObject({ 'flag.new_cart': 'on', browser: 'Safari' });
    expect(result.data.results[0]?.data.INCOMPLETE).toBeGreaterThan(0.25);
  });

  it('takes {"op": "INCOMPLETE"} in a spec, with a series per time bucket', async () => {
    const res = await post('/api/v1/query/web', {
      calculations: [{ op: 'INCOMPLETE' }],
      granularity: 600,
      start_time: Math.floor(NOW / 1000) - 3600,
      end_time: Math.floor(NOW / 1000),
    });
    expect(res.status).toBe(200);
    const result = (await res.json()) as QueryResult;
    expect(result.data.results[0]?.data.INCOMPLETE).toBeCloseTo(incompleteShare(sent), 12);
    expect(result.data.series?.length).toBeGreaterThan(1);
    for (const row of result.data.series ?? []) {
      const start = Date.parse(row.time);
      const bucket = where((e) => e.time >= start && e.time < start + 600_000);
      expect(row.data.INCOMPLETE, row.time).toBeCloseTo(incompleteShare(bucket), 12);
    }
  });

  it('on a dataset without beacons says what is missing, why and what to do', async () => {
    const run = await cli(['query', 'plain', '--calc', 'COUNT', '--calc', 'INCOMPLETE', '--since', '1h']);
    expect(run.code).toBe(2);
    expect(run.out).toBe('');
    expect(run.err).toBe(
      `error: calculations[1].op: dataset "plain" has no meta.incomplete column, so it has no incomplete executions to count\n${MISSING_HINT}`,
    );
    const res = await post('/api/v1/query/plain', { calculations: [{ op: 'INCOMPLETE' }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 'invalid_input', details: { field: 'calculations[0].op', column: 'meta.incomplete' } },
    });
  });
});

describe('compare and INCOMPLETE', () => {
  it('adds INCOMPLETE to the report and finds the cohort whose executions go quiet', async () => {
    const run = await cli(['compare', 'new_cart', '--dataset', 'web', '--control', 'off', '--since', '1h', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out) as CompareReport;
    expect(report.metrics.map((m) => m.name)).toEqual(['RATE(error = true)', 'P95(duration_ms)', 'INCOMPLETE']);
    const rows = report.incomplete ?? [];
    expect(rows.map((r) => r.cohort)).toEqual(['off', 'on']);
    for (const row of rows) {
      expect(row.value, row.cohort).toBeCloseTo(incompleteShare(where((e) => e.data['flag.new_cart'] === row.cohort)), 12);
    }
    expect(rows[1]?.verdict).toBe('worse');
    // The completed executions look alike: their error rate shows no difference.
    expect(report.results.find((r) => r.metric === 'RATE(error = true)' && !r.control)?.verdict).toBe('no detectable difference');
  });

  it('takes INCOMPLETE as text or as {"op": "INCOMPLETE"} over the API, and shows the incomplete line on a terminal', async () => {
    const res = await post('/api/v1/compare/web', {
      flags: [{ flag: 'new_cart', control: 'off' }],
      metrics: [{ op: 'INCOMPLETE' }],
      time_range: 3600,
    });
    expect(res.status).toBe(200);
    const report = (await res.json()) as CompareReport;
    expect(report.metrics.map((m) => m.name)).toEqual(['INCOMPLETE']);
    expect(report.incomplete?.[1]?.value).toBeCloseTo(incompleteShare(where((e) => e.data['flag.new_cart'] === 'on')), 12);
    const tty = await cli(['compare', 'new_cart', '--dataset', 'web', '--control', 'off', '--metric', 'INCOMPLETE', '--since', '1h'], true);
    expect(tty.code).toBe(0);
    expect(tty.out).toMatch(/^INCOMPLETE +off +[\d,]+ +\d+\.\d\d% +control/m);
    expect(tty.out).toMatch(/^incomplete executions: off \d+\.\d\d% · on \d+\.\d\d% \(\+\d+\.\d\dpp worse\)$/m);
  });

  it('refuses --metric INCOMPLETE on a dataset without beacons, saying why', async () => {
    const run = await cli(['compare', 'new_cart', '--dataset', 'plain', '--metric', 'INCOMPLETE', '--since', '1h']);
    expect(run.code).toBe(2);
    expect(run.err).toBe(
      `error: metric INCOMPLETE: dataset "plain" has no meta.incomplete column, so it has no incomplete executions to count\n${MISSING_HINT}`,
    );
    // Without asking for it, a dataset without the column just has no incomplete line.
    const plain = await cli(['compare', 'new_cart', '--dataset', 'plain', '--control', 'off', '--since', '1h', '--json']);
    expect(plain.code).toBe(0);
    expect((JSON.parse(plain.out) as CompareReport).incomplete).toBeNull();
  });
});

describe('explain --incomplete', () => {
  it('ranks the flag × attribute combination whose executions go quiet, not the fields they never sent', async () => {
    const run = await cli(['explain', 'web', '--incomplete', '--since', '1h', '--json']);
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.out) as ExplainReport;
    expect(report.selection).toBe('meta.incomplete = true');
    const selected = where((e) => e.data['meta.incomplete'] === true);
    expect(report.selected.weight).toBe(selected.reduce((s, e) => s + e.samplerate, 0));
    const combination = report.findings.find((f) => f.significant && f.columns.length > 1);
    expect(combination).toBeDefined();
    expect(Object.fromEntries(combination!.columns.map((c, i) => [c, combination!.values[i]]))).toEqual({
      'flag.new_cart': 'on',
      browser: 'Safari',
    });
    // The end fields are consequences of the selection: never combined.
    for (const f of report.findings.filter((x) => x.columns.length > 1)) {
      expect(
        f.columns.some((c) => ['duration_ms', 'error', 'status_code'].includes(c)),
        f.columns.join(','),
      ).toBe(false);
    }
    // The same as selecting meta.incomplete = true by hand.
    const byHand = await cli(['explain', 'web', '--where', 'meta.incomplete = true', '--since', '1h', '--json']);
    const { duration_ms: _a, ...withoutTiming } = report as ExplainReport & { duration_ms?: number };
    const { duration_ms: _b, ...byHandWithoutTiming } = JSON.parse(byHand.out) as ExplainReport & { duration_ms?: number };
    expect(byHandWithoutTiming).toEqual(withoutTiming);
  });

  it('on a terminal: the combination first, the missing end fields on the "only in the selection" line', async () => {
    const run = await cli(['explain', 'web', '--incomplete', '--since', '1h'], true);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^what sets meta\.incomplete = true apart in web/);
    expect(run.out).toMatch(/^1 +(flag\.new_cart=on AND browser=Safari|browser=Safari AND flag\.new_cart=on) /m);
    expect(run.out).toMatch(/^only in the selection: .*status_code=\(missing\)/m);
  });

  it('needs one selection: --incomplete or --where, on a dataset with beacons', async () => {
    const both = await cli(['explain', 'web', '--incomplete', '--where', 'error = true']);
    expect(both.code).toBe(2);
    expect(both.err).toBe(
      'error: `--incomplete` and `--where` both choose the selection\nhint: pass `--incomplete` alone (the selection meta.incomplete = true), and narrow both sides with `--population`\n',
    );
    const none = await cli(['explain', 'web']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^error: explain needs a selection: `--where FILTER` or `--incomplete`\n/);
    const plain = await cli(['explain', 'plain', '--incomplete', '--since', '1h']);
    expect(plain.code).toBe(2);
    expect(plain.err).toBe(
      `error: incomplete: dataset "plain" has no meta.incomplete column, so it has no incomplete executions to count\n${MISSING_HINT}`,
    );
  });
});
