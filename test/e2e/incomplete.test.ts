/**
 * End-to-end: INCOMPLETE through the built binary (run `npm run build` first) against a real
 * server: `query --calc INCOMPLETE`, `compare --metric INCOMPLETE` and `explain --incomplete` on
 * stitched executions where new_cart=on on Safari loses the end of two executions in seven, and the
 * error each gives on a dataset without beacons. Exit codes, stdout and stderr apart.
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

async function flagscope(args: string[]) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey!, NO_COLOR: '1' },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function send(dataset: string, events: unknown[]): Promise<void> {
  const res = await fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(200);
}

// 4,000 executions of 400 users; two in seven of new_cart=on × Safari never end, one in 61 elsewhere.
let incomplete = { quiet: 0, quietTotal: 0 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-incomplete-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  const now = Date.now();
  const events = Array.from({ length: 4000 }, (_, i) => {
    const user = i % 400;
    const cart = user % 2 === 0 ? 'on' : 'off';
    const browser = ['Safari', 'Chrome', 'Firefox'][Math.floor(user / 2) % 3]!;
    const quiet = cart === 'on' && browser === 'Safari';
    const ended = quiet ? i % 7 >= 2 : i % 61 !== 7;
    if (quiet) incomplete = { quiet: incomplete.quiet + (ended ? 0 : 1), quietTotal: incomplete.quietTotal + 1 };
    const data: Record<string, unknown> = {
      'user.id': `u${user}`,
      'flag.new_cart': cart,
      browser,
      'meta.incomplete': !ended,
    };
    if (ended) Object.assign(data, { error: i % 37 === 0, duration_ms: 90 + (i % 70) });
    return { time: new Date(now - 1000 - i * 400).toISOString(), data };
  });
  await send('web', events);
  await send('plain', [{ time: new Date(now - 1000).toISOString(), data: { 'flag.new_cart': 'on', error: false } }]);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const NO_BEACONS =
  'dataset "plain" has no meta.incomplete column, so it has no incomplete executions to count\nhint: INCOMPLETE is the share of executions whose end never arrived';

describe('INCOMPLETE through the built binary', () => {
  it('query --calc INCOMPLETE: piped rows ordered by it, the quiet combination first', async () => {
    const result = await flagscope([
      ...['query', 'web', '--calc', 'INCOMPLETE', '--calc', 'COUNT', '--by', 'flag.new_cart', '--by', 'browser'],
      ...['--order', '-INCOMPLETE', '--having', 'INCOMPLETE > 0.001', '--since', '1h'],
    ]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const rows = result.stdout.trimEnd().split('\n');
    expect(rows).toHaveLength(6);
    const [cart, browser, share, count] = rows[0]!.split('\t');
    expect([cart, browser, count]).toEqual(['on', 'Safari', String(incomplete.quietTotal)]);
    // Machine output carries 15 significant digits.
    expect(Number(share)).toBeCloseTo(incomplete.quiet / incomplete.quietTotal, 14);
    const shares = rows.map((r) => Number(r.split('\t')[2]));
    expect(shares).toEqual([...shares].sort((a, b) => b - a));
  });

  it('query on a dataset without beacons: exit 2, what and why on stderr', async () => {
    const result = await flagscope(['query', 'plain', '--calc', 'INCOMPLETE', '--since', '1h']);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`error: calculations[0].op: ${NO_BEACONS}`);
  });

  it('compare --metric INCOMPLETE marks the quiet cohort worse; on a dataset without beacons exit 2', async () => {
    const result = await flagscope([
      'compare',
      'new_cart',
      '--dataset',
      'web',
      '--control',
      'off',
      '--metric',
      'INCOMPLETE',
      '--since',
      '1h',
    ]);
    expect(result.exitCode).toBe(0);
    const rows = result.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^INCOMPLETE\toff\t2000\t0\.0\d+\t\t\t\t\t\tcontrol$/);
    const on = rows[1]!.split('\t');
    expect(on.slice(0, 3)).toEqual(['INCOMPLETE', 'on', '2000']);
    expect(Number(on[4])).toBeGreaterThan(0.05);
    expect(on.at(-1)).toBe('worse');
    const refused = await flagscope(['compare', 'new_cart', '--dataset', 'plain', '--metric', 'INCOMPLETE', '--since', '1h']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`error: metric INCOMPLETE: ${NO_BEACONS}`);
  });

  it('explain --incomplete ranks new_cart=on × Safari first; --json is the API report', async () => {
    const result = await flagscope(['explain', 'web', '--incomplete', '--since', '1h', '--json']);
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as {
      selection: string;
      findings: { columns: string[]; values: string[]; significant: boolean }[];
    };
    expect(report.selection).toBe('meta.incomplete = true');
    const top = report.findings.find((f) => f.significant && f.columns.length > 1);
    expect(top && Object.fromEntries(top.columns.map((c, i) => [c, top.values[i]]))).toEqual({ 'flag.new_cart': 'on', browser: 'Safari' });
    const both = await flagscope(['explain', 'web', '--incomplete', '--where', 'error = true']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/^error: `--incomplete` and `--where` both choose the selection\n/);
    const plain = await flagscope(['explain', 'plain', '--incomplete', '--since', '1h']);
    expect(plain.exitCode).toBe(2);
    expect(plain.stderr).toContain(`error: incomplete: ${NO_BEACONS}`);
  });
});
