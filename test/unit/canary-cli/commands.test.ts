/**
 * The canary commands run in-process (`runCli` with an in-memory context)
 * against a scripted loopback HTTP server that answers the contract of
 * `/api/v1/canaries` with fixtures (the controller's routes are built apart;
 * end-to-end tests against the real server come with them): options parsed and
 * bad ones refused with exit 2 before any request, the requests each command
 * sends, the server's errors as exit codes 3 and 6, and the gate's exit codes
 * 0/10/11 in every format, polling on the context's manual clock.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryView } from '../../../src/api/canaries.js';
import { runCli } from '../../../src/cli/program.js';
import { createMemoryContext, type MemoryContext, type MemoryContextOptions } from '../../support/memory-context.js';
import { evidence, iso, latencyGuard, plan, rateGuard, rolledBack, T0, view } from './fixtures.js';
import { parseXml } from './xml.js';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}
type Handler = (req: Seen, res: ServerResponse) => void;

let server: Server | undefined;
let handler: Handler = (_req, res) => send(res, 500, {});
const seen: Seen[] = [];
let dir: string;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const notFound = (res: ServerResponse): void =>
  send(res, 404, {
    error: { code: 'not_found', message: 'flag checkout-v2 never had a canary', hint: 'start one with `flagscope canary start`' },
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-canary-cli-'));
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry = { method: req.method ?? '', url: req.url ?? '', body: text === '' ? undefined : JSON.parse(text) };
      seen.push(entry);
      handler(entry, res);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
});

afterEach(() => {
  seen.length = 0;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function url(): string {
  return `http://127.0.0.1:${(server?.address() as { port: number } | undefined)?.port}`;
}

function context(options: MemoryContextOptions = {}): MemoryContext {
  return createMemoryContext({ now: T0 + 800_000, cwd: dir, env: { XDG_CONFIG_HOME: '/nonexistent-config', NO_COLOR: '1' }, ...options });
}

async function run(argv: string[], options: MemoryContextOptions = {}, ctx = context(options)) {
  const code = await runCli([...argv, '--api-url', url(), '--api-key', 'k'], ctx);
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText() };
}

/** Runs a command that sleeps on the manual clock, moving the clock on whenever it waits. */
async function runDriven(argv: string[], options: MemoryContextOptions = {}) {
  const ctx = context(options);
  let done = false;
  const running = run(argv, options, ctx).finally(() => {
    done = true;
  });
  while (!done) {
    await Promise.race([ctx.waitForSleep(), running]);
    if (!done) await ctx.advance(1000);
  }
  return running;
}

describe('refusals before any request (exit 2)', () => {
  const cases: [string[], RegExp][] = [
    [['canary', 'start', 'checkout-v2'], /^error: required option '--dataset <dataset>' not specified/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--steps', '5,1,100'], /^error: steps must ascend, but 1 follows 5/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--steps', '1,5,50'], /^error: the last step must be 100, got 50/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--steps', '1,x,100'], /^error: --steps must be a percentage/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--guard', 'FOO(x) <= 3'], /^error: invalid guard "FOO\(x\) <= 3"/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--interval', '10q'], /^error: --interval: invalid duration "10q"/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--min-sample', 'many'], /^error: --min-sample must be a whole number/],
    [['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--approve-at', '30'], /^error: --approve-at 30 is not one of the steps/],
    [
      ['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--interval', '1h', '--max-wait', '10m'],
      /^error: --max-wait \(600s\) is shorter than the interval/,
    ],
    [['canary', 'ramp', 'checkout-v2'], /^error: required option '--to <percent>' not specified/],
    [['canary', 'ramp', 'checkout-v2', '--to', '0'], /^error: --to must be a percentage above 0 and at most 100, got "0"/],
    [['canary', 'ramp', 'checkout-v2', '--to', '50', '--force'], /^error: `--force` needs `--reason TEXT`/],
    [['canary', 'abort', 'checkout-v2'], /^error: required option '--reason <text>' not specified/],
    [['canary', 'abort', 'checkout-v2', '--reason', '  '], /^error: an abort needs a reason/],
    [['canary', 'pause', 'checkout-v2', '--reason', ''], /^error: --reason of pause needs a reason/],
    [['canary', 'gate', 'checkout-v2', '--wait', 'soon'], /^error: --wait: invalid duration "soon"/],
    [['canary', 'gate', 'checkout-v2', '--step', '120'], /^error: --step must be a percentage/],
    [['canary', 'gate', 'checkout-v2', '--format', 'csv'], /^error: `canary gate` does not print csv/],
    [['canary', 'status', 'checkout-v2', '--format', 'junit'], /^error: `--format junit` is only for `canary gate`/],
    [['canaries', '--format', 'github'], /^error: `--format github` is only for `canary gate`/],
    [['canary', 'status', 'checkout-v2', '--interval', '5s'], /^error: `--interval` is the refresh of `--watch`/],
    [['canary', 'status', 'checkout-v2', '--format', 'csv'], /^error: `--format csv` does not fit `canary status`/],
    [['canary', 'frobnicate', 'checkout-v2'], /^error: unknown command 'frobnicate'/],
    [['canary', 'status'], /^error: missing required argument 'flag'/],
  ];
  it.each(cases)('%j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\nhint: /);
    expect(r.stdout).toBe('');
    expect(seen).toEqual([]);
  });

  it('gives errors as JSON on stderr with --json', async () => {
    const r = await run(['canary', 'ramp', 'checkout-v2', '--to', '50', '--force', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'invalid_input', message: '`--force` needs `--reason TEXT`' });
    const both = await run(['canary', 'gate', 'checkout-v2', '--json', '--format', 'junit']);
    expect(both.code).toBe(2);
    expect(JSON.parse(both.stderr).error).toMatchObject({ code: 'usage', message: '`--json` and `--format junit` disagree' });
    expect(seen).toEqual([]);
  });
});

describe('requests and answers', () => {
  it('start sends the checked plan and prints the plan and schedule', async () => {
    handler = (_req, res) => send(res, 201, view({ stepIndex: 0, percent: 1, evidence: null, timeline: [], startedAt: iso(T0 + 800_000) }));
    const r = await run([
      'canary',
      'start',
      'checkout-v2',
      '--dataset',
      'shop',
      '--steps',
      '1, 5,25,50,100',
      '--interval',
      '10m',
      '--guard',
      'RATE(status_code >= 500) <= +0.5pp',
      '--guard',
      'P95(duration_ms) <= +10%',
      '--approve-at',
      '50',
      '--min-sample',
      '1000',
      '--reason',
      'release 4.2',
    ]);
    expect(r.code).toBe(0);
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/v1/canaries',
        body: {
          flag: 'checkout-v2',
          dataset: 'shop',
          steps: [1, 5, 25, 50, 100],
          interval: '10m',
          guards: ['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10%'],
          approveAt: [50],
          minSample: 1000,
          reason: 'release 4.2',
          dryRun: false,
        },
      },
    ]);
    expect(r.stdout.split('\n')[0]).toBe('started canary cn_7f3a of checkout-v2: 1% of traffic on variant on (running)');
    expect(r.stdout).toMatch(/^ +4 +50% +2026-01-15T12:53:20Z \(in 40m\) +passes if healthy, then waits for `canary promote`$/m);
  });

  it('start --dry-run sends dryRun and prints the schedule the server answers', async () => {
    const schedule = [1, 5, 25, 50, 100].map((percent, step) => ({
      step,
      percent,
      earliestAt: iso(T0 + (step + 1) * 600_000),
      approval: percent === 50,
    }));
    handler = (_req, res) => send(res, 200, { dryRun: true, plan, schedule });
    const r = await run(['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--dry-run']);
    expect(r.code).toBe(0);
    expect(seen[0]?.body).toEqual({ flag: 'checkout-v2', dataset: 'shop', dryRun: true });
    expect(r.stdout).toContain('canary plan for checkout-v2 (dry run: nothing started)');
    const json = await run(['canary', 'start', 'checkout-v2', '--dataset', 'shop', '--dry-run', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ dryRun: true, plan, schedule });
  });

  it('status prints the report, or the view itself with --json', async () => {
    handler = (req, res) => (req.url === '/api/v1/canaries/checkout-v2' ? send(res, 200, view()) : notFound(res));
    const r = await run(['canary', 'status', 'checkout-v2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('canary checkout-v2 cn_7f3a  running  step 2 of 5 · 5% of traffic');
    expect(r.stdout).toContain('sample ratio (events)');
    expect(JSON.parse((await run(['canary', 'status', 'checkout-v2', '--json'])).stdout)).toEqual(view());
  });

  it('maps an unknown canary to exit 3 and a conflict to exit 6, with the server message and hint', async () => {
    handler = (_req, res) => notFound(res);
    const missing = await run(['canary', 'status', 'nope']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe('error: flag checkout-v2 never had a canary\nhint: start one with `flagscope canary start`\n');
    expect(seen.at(-1)?.url).toBe('/api/v1/canaries/nope');
    handler = (_req, res) =>
      send(res, 409, {
        error: {
          code: 'conflict',
          message: 'a guard of the canary of checkout-v2 is failing: ramping to 50% would expose more users to it',
          hint: 'to ramp anyway pass --force --reason TEXT',
        },
      });
    const conflict = await run(['canary', 'ramp', 'checkout-v2', '--to', '50']);
    expect(conflict.code).toBe(6);
    expect(conflict.stderr).toContain('--force --reason');
  });

  it('ramp, promote, pause, resume and abort post their bodies to their routes', async () => {
    handler = (req, res) => {
      if (req.url.endsWith('/abort'))
        send(res, 200, { ...view(), status: 'aborted', percent: 0, endedAt: iso(T0 + 800_000), reason: 'error budget' });
      else send(res, 200, view());
    };
    expect((await run(['canary', 'ramp', 'checkout-v2', '--to', '25', '--force', '--reason', 'flaky guard'])).code).toBe(0);
    expect((await run(['canary', 'promote', 'checkout-v2'])).code).toBe(0);
    expect((await run(['canary', 'pause', 'checkout-v2', '--reason', 'freeze'])).code).toBe(0);
    expect((await run(['canary', 'resume', 'checkout-v2'])).code).toBe(0);
    const abort = await run(['canary', 'abort', 'checkout-v2', '--reason', 'error budget']);
    expect(abort.code).toBe(0);
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['POST', '/api/v1/canaries/checkout-v2/ramp', { to: 25, force: true, reason: 'flaky guard' }],
      ['POST', '/api/v1/canaries/checkout-v2/promote', {}],
      ['POST', '/api/v1/canaries/checkout-v2/pause', { reason: 'freeze' }],
      ['POST', '/api/v1/canaries/checkout-v2/resume', {}],
      ['POST', '/api/v1/canaries/checkout-v2/abort', { reason: 'error budget' }],
    ]);
    expect(abort.stdout).toBe('aborted canary of checkout-v2: aborted, step 2 of 5 · 0% of traffic (error budget)\n');
    expect(abort.stderr).toContain('serves on to 0% now');
  });

  it('canaries lists them as a table, rows, CSV or JSON, and asks for ?all=true with --all', async () => {
    handler = (_req, res) => send(res, 200, { canaries: [view()] });
    const tty = await run(['canaries'], { stdoutTTY: true });
    expect(tty.stdout).toMatch(/^FLAG +SERVICE +STATUS/);
    expect((await run(['canaries'])).stdout).toBe('checkout-v2\tcheckout\trunning\t2/5\t5%\tno harm seen\t2026-01-15T12:13:30.000Z\n');
    expect((await run(['canaries', '--format', 'csv'])).stdout.split(/\r?\n/)[0]).toBe(
      'flag,service,status,step,steps,percent,next_decision_at,id',
    );
    expect(JSON.parse((await run(['canaries', '--all', '--json'])).stdout)).toEqual({ canaries: [view()] });
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/canaries', '/api/v1/canaries', '/api/v1/canaries', '/api/v1/canaries?all=true']);
    handler = (_req, res) => send(res, 200, { canaries: [] });
    const none = await run(['canaries']);
    expect([none.code, none.stdout, none.stderr]).toEqual([0, '', 'no canary in flight; `flagscope canaries --all` lists ended ones\n']);
  });

  it('status --watch off a terminal prints a line per refresh until the canary ends', async () => {
    let gets = 0;
    handler = (_req, res) => {
      gets++;
      send(res, 200, gets < 3 ? view() : { ...view(), status: 'completed', stepIndex: 3, percent: 100, endedAt: iso(T0 + 900_000) });
    };
    const r = await runDriven(['canary', 'status', 'checkout-v2', '--watch', '--interval', '2s']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^2026-01-15T12:13:20Z checkout-v2 running step 2 of 5/);
    expect(lines[1]).toMatch(/^2026-01-15T12:13:22Z checkout-v2 running/);
    expect(lines[2]).toMatch(/^2026-01-15T12:13:24Z checkout-v2 completed all 5 steps passed · 100% of traffic · ended /);
  });
});

describe('buttons', () => {
  it('shows each canary in flight as an abort button of its service', async () => {
    const services = {
      configVersion: 7,
      services: [
        {
          name: 'checkout',
          flags: 3,
          buttons: [],
          canaries: [{ flag: 'checkout-v2', status: 'running', percent: 5, stepIndex: 1, steps: [1, 5, 25, 50, 100] }],
        },
        { name: 'search', flags: 1, buttons: [] },
      ],
    };
    handler = (_req, res) => send(res, 200, services);
    const tty = await run(['buttons'], { stdoutTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stdout).toBe(
      'checkout\n  checkout-v2  canary  running at 5% (step 2 of 5): abort serves it to 0% at once\n    abort flagscope canary abort checkout-v2 --reason TEXT\n',
    );
    const piped = await run(['buttons']);
    expect(piped.stdout).toBe('checkout\tcheckout-v2\tcanary\trunning at 5% (step 2 of 5): abort serves it to 0% at once\t\t\t\t\t\n');
    expect(JSON.parse((await run(['buttons', '--json'])).stdout).services[0].canaries).toEqual(services.services[0]?.canaries);
  });
});

describe('gate', () => {
  /** The canary at step 2 until the clock reaches `at`, then as `after` says. */
  function scripted(after: (v: CanaryView) => CanaryView, at = T0 + 810_000): void {
    handler = (_req, res) => send(res, 200, currentNow() < at ? view() : after(view()));
  }
  let clock: MemoryContext | undefined;
  const currentNow = (): number => clock?.now() ?? 0;

  async function gate(argv: string[], options: MemoryContextOptions = {}) {
    const ctx = context(options);
    clock = ctx;
    let done = false;
    const running = run(['canary', 'gate', 'checkout-v2', ...argv], options, ctx).finally(() => {
      done = true;
    });
    while (!done) {
      await Promise.race([ctx.waitForSleep(), running]);
      if (!done) await ctx.advance(1000);
    }
    return running;
  }

  it('exits 0 when the step passes, after waiting on the clock', async () => {
    scripted((v) => ({ ...v, stepIndex: 2, percent: 25 }));
    const r = await gate([]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('gate PASS canary checkout-v2 (cn_7f3a), step 5%: step 2 (5%) passed: the canary is at 25% now');
    expect(r.stderr).toBe('waiting for step 2 (5%): running (deadline in 1800s)\n');
    expect(seen.length).toBeGreaterThan(1);
  });

  it('exits 10 on a rollback and prints the evidence of the decision, in every format', async () => {
    scripted(() => rolledBack());
    const table = await gate([]);
    expect(table.code).toBe(10);
    expect(table.stdout).toMatch(/^RATE\(status_code >= 500\) <= \+0\.5pp +0\.52% +2\.50% +\+1\.98pp .* fail$/m);
    const json = await gate(['--json']);
    expect(json.code).toBe(10);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.gate).toMatchObject({ result: 'regression', exitCode: 10, step: 5 });
    expect(parsed.timeline.at(-1).kind).toBe('rollback');
    const junit = await gate(['--format', 'junit']);
    expect(junit.code).toBe(10);
    const suite = parseXml(junit.stdout).children[0];
    expect(suite?.attributes).toMatchObject({ name: 'canary checkout-v2', failures: '2' });
    const summary = join(dir, 'summary.md');
    await writeFile(summary, '# earlier step\n');
    const github = await gate(['--format', 'github'], {
      env: { XDG_CONFIG_HOME: '/nonexistent-config', NO_COLOR: '1', GITHUB_STEP_SUMMARY: summary },
    });
    expect(github.code).toBe(10);
    expect(github.stdout).toMatch(/^::error title=canary checkout-v2%3A RATE/);
    const md = await readFile(summary, 'utf8');
    expect(md.startsWith('# earlier step\n### ❌ canary `checkout-v2`: gate REGRESSION at step 5%')).toBe(true);
  });

  it('exits 10 when a guard pauses the canary', async () => {
    scripted((v) => ({ ...v, status: 'paused', pause: { cause: 'guard', reason: 'P95 shows harm', at: iso(T0 + 810_000) } }));
    const r = await gate(['--json']);
    expect([r.code, JSON.parse(r.stdout).gate.result]).toEqual([10, 'regression']);
  });

  it('exits 11 at the deadline, for no traffic and for an abort, saying why', async () => {
    scripted((v) => v);
    const late = await gate(['--wait', '20s']);
    expect(late.code).toBe(11);
    expect(late.stdout.split('\n')[0]).toMatch(
      /^gate INCONCLUSIVE canary checkout-v2 \(cn_7f3a\), step 5%: the deadline passed before step 2 \(5%\) was decided: sample 12345/,
    );
    scripted((v) => ({ ...v, status: 'paused', pause: { cause: 'no-traffic', reason: 'no events for 1h', at: iso(T0) } }), 0);
    expect((await gate([])).code).toBe(11);
    scripted((v) => ({ ...v, status: 'aborted', percent: 0, endedAt: iso(T0), reason: 'error budget spent' }), 0);
    const aborted = await gate(['--format', 'github']);
    expect(aborted.code).toBe(11);
    expect(aborted.stdout).toContain(
      '::warning title=canary checkout-v2%3A gate INCONCLUSIVE::the canary was aborted by a person (error budget spent)',
    );
  });

  it('gates on a given step, refusing one that is not a step', async () => {
    scripted((v) => ({ ...v, stepIndex: 3, percent: 50, status: 'waiting-approval' }));
    expect((await gate(['--step', '25', '--json'])).code).toBe(0);
    const bad = await gate(['--step', '30']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'error: --step 30 is not a step of the canary of checkout-v2\nhint: its steps are 1, 5, 25, 50, 100; pass one of them, or leave --step out to gate on the current step\n',
    );
  });

  it('exits 3 for a flag without a canary', async () => {
    handler = (_req, res) => notFound(res);
    expect((await gate([])).code).toBe(3);
  });

  it('shows a healthy pass with every guard in the junit output passing', async () => {
    const healthy = (v: CanaryView): CanaryView => ({
      ...v,
      stepIndex: 2,
      percent: 25,
      evidence: evidence({ guards: [rateGuard(), latencyGuard({ verdict: 'pass' })] }),
    });
    scripted(healthy);
    const r = await gate(['--format', 'junit']);
    expect(r.code).toBe(0);
    expect(parseXml(r.stdout).children[0]?.attributes).toMatchObject({ tests: '4', failures: '0', skipped: '0' });
  });
});
