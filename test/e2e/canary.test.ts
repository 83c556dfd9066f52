/**
 * End-to-end: the built `bin/flagscope` (run `npm run build` first, or point FLAGSCOPE_BIN at
 * another build) starts, follows, gates and aborts canaries that the controller of a real server
 * ramps, over traffic whose variants come from the server's OFREP endpoint (the canary traffic
 * driver, on the real clock): a healthy canary passes (exit 0), an error regression is rolled
 * back (exit 10), a trickle of traffic leaves the gate inconclusive at its deadline (exit 11),
 * in every output format; the JUnit report is validated by xmllint against a JUnit schema
 * (test/fixtures/junit.xsd).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryListResponse, CanaryView } from '../../src/api/canaries.js';
import { createTrafficDriver, runTraffic } from '../../src/cli/demo/traffic-driver.js';
import { type ApiClient, createApiClient } from '../../src/client/api-client.js';
import { createTrafficGenerator, type VariantOutcomes } from '../../src/demo/traffic.js';
import { timerSleep } from '../../src/scheduler.js';
import { type RunningServer, startServer } from '../../src/server/index.js';

const BIN = process.env.FLAGSCOPE_BIN || join(import.meta.dirname, '..', '..', 'bin', 'flagscope');
const SCHEMA = join(import.meta.dirname, '..', 'fixtures', 'junit.xsd');

// CI installs xmllint (Debian's libxml2-utils, in .ci/run); without it this file cannot check
// the JUnit report, so it fails at once with what to install rather than skipping.
function xmllintVersion(): string {
  try {
    return execFileSync('xmllint', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new Error('xmllint is not installed: install it (Debian/Ubuntu: apt-get install -y libxml2-utils) to run the canary e2e tests');
  }
}

let server: RunningServer;
let dir: string;
let ciKey: string;
let admin: ApiClient;

async function flagscope(args: string[], extraEnv: Record<string, string> = {}) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: ciKey, NO_COLOR: '1', ...extraEnv },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** xmllint's verdict on a JUnit report: exit code and what it printed. */
async function validateJunit(xml: string, name: string): Promise<{ exitCode: number | undefined; output: string }> {
  const file = join(dir, `${name}.xml`);
  await writeFile(file, xml);
  const result = await execa('xmllint', ['--noout', '--schema', SCHEMA, file], { reject: false, all: true });
  return { exitCode: result.exitCode, output: String(result.all) };
}

/** The test cases of a JUnit report as xmllint's XPath sees them: name → outcome. */
async function junitOutcomes(name: string): Promise<Record<string, string>> {
  const file = join(dir, `${name}.xml`);
  const xpath = async (expr: string) =>
    String((await execa('xmllint', ['--xpath', expr, file], { reject: false })).stdout)
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  const outcomes: Record<string, string> = {};
  const count = Number((await xpath('count(//testcase)'))[0]);
  for (let i = 1; i <= count; i++) {
    const [caseName] = await xpath(`string((//testcase)[${i}]/@name)`);
    const [kind] = await xpath(`name((//testcase)[${i}]/*[1])`);
    outcomes[caseName as string] = kind === undefined ? 'pass' : kind;
  }
  return outcomes;
}

async function createReleaseFlag(key: string): Promise<void> {
  const created = await flagscope([
    'flags',
    'create',
    key,
    '--service',
    'checkout',
    '--kind',
    'release',
    '--variants',
    'on=true,off=false',
    '--default',
    'off',
    '--reason',
    'canary e2e',
  ]);
  expect(created.exitCode, created.stderr).toBe(0);
}

/**
 * Canary traffic for `flag` into `dataset` on the real clock, a slice every 200 ms, until
 * `stop()`; `started` resolves once the first events are in (the dataset exists).
 */
function trafficFor(flag: string, dataset: string, options: { ratePerSecond: number; users: number; on?: VariantOutcomes; seed: number }) {
  const generator = createTrafficGenerator(
    {
      flag,
      ratePerSecond: options.ratePerSecond,
      users: options.users,
      baseline: { errorRate: 0.005, medianMs: 120, p95Ms: 300 },
      ...(options.on === undefined ? {} : { variants: { on: options.on } }),
    },
    { seed: options.seed, startMs: Date.now() },
  );
  const driver = createTrafficDriver({ http: admin, dataset, generator, now: () => Date.now() });
  const controller = new AbortController();
  let resolveStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    resolveStarted = resolve;
  });
  const running = runTraffic(driver, {
    sleep: timerSleep,
    everyMs: 200,
    signal: controller.signal,
    onSlice: () => {
      if (Object.keys(driver.totals().sent).length > 0) resolveStarted();
    },
  });
  // A failed slice fails the test that awaits `started` or `stop`.
  const failed = running.then(() => undefined);
  return {
    started: Promise.race([started, failed.then(() => Promise.reject(new Error('traffic stopped before any event was sent')))]),
    stop: async () => {
      controller.abort();
      return running;
    },
  };
}

/** The variant OFREP serves each of `users` ids for `flag`, with how many get each. */
async function servedVariants(flag: string, users: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < users; i++) {
    const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${encodeURIComponent(flag)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ciKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: `user-${i}` } }),
    });
    const body = (await res.json()) as { variant: string };
    counts[body.variant] = (counts[body.variant] ?? 0) + 1;
  }
  return counts;
}

/** Runs `canary gate` in every format at once; the GitHub one appends its summary to a temp file. */
async function gateInEveryFormat(flag: string, extra: string[]) {
  const summary = join(dir, `summary-${flag}.md`);
  await writeFile(summary, '# earlier steps\n');
  const [table, json, junit, github] = await Promise.all([
    flagscope(['canary', 'gate', flag, ...extra]),
    flagscope(['canary', 'gate', flag, ...extra, '--json']),
    flagscope(['canary', 'gate', flag, ...extra, '--format', 'junit']),
    flagscope(['canary', 'gate', flag, ...extra, '--format', 'github'], { GITHUB_STEP_SUMMARY: summary }),
  ]);
  return { table, json, junit, github, summary: await readFile(summary, 'utf8') };
}

beforeAll(async () => {
  xmllintVersion();
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-canary-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0, canaryTickMs: 200 });
  admin = createApiClient({ baseUrl: server.url, apiKey: server.adminKey as string });
  const created = await execaNode(BIN, ['keys', 'create', '--name', 'ci', '--scope', 'flags:read,flags:write', '--json'], {
    reject: false,
    cwd: dir,
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey as string },
    extendEnv: false,
  });
  expect(created.exitCode, String(created.stderr)).toBe(0);
  ciKey = (JSON.parse(String(created.stdout)) as { key: string }).key;
});

afterAll(async () => {
  await admin?.close();
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const GUARDS = ['--guard', 'RATE(status_code >= 500) <= +2pp', '--guard', 'P95(duration_ms) <= +25%'];

describe('flagscope canary against a real server and OFREP traffic', () => {
  it('a healthy canary: --dry-run stores nothing; start, status, canaries; the gate passes (exit 0) in every format', async () => {
    const flag = 'checkout-v2';
    await createReleaseFlag(flag);
    const traffic = trafficFor(flag, 'healthy', { ratePerSecond: 1500, users: 30_000, seed: 1 });
    try {
      await traffic.started;
      const plan = ['--dataset', 'healthy', '--steps', '20,50,100', '--interval', '1s', '--min-sample', '200', ...GUARDS];

      const dry = await flagscope(['canary', 'start', flag, ...plan, '--dry-run']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`canary plan for ${flag} (dry run: nothing started)`);
      expect(dry.stdout).toContain('20% → 50% → 100%, each held 1s');
      expect(dry.stdout).toContain('RATE(status_code >= 500) <= +2pp');
      const none = await flagscope(['canary', 'status', flag]);
      expect(none.exitCode).toBe(3);
      expect(none.stderr).toContain(`flag ${flag} has no canary`);
      expect(JSON.parse((await flagscope(['canaries', '--all', '--json'])).stdout)).toEqual({ canaries: [] });
      expect(await servedVariants(flag, 20)).toEqual({ off: 20 });

      const started = await flagscope(['canary', 'start', flag, ...plan, '--reason', 'release 2.4']);
      expect(started.exitCode, started.stderr).toBe(0);
      expect(started.stdout).toMatch(new RegExp(`^started canary \\S+ of ${flag}: 20% of traffic on variant on \\(running\\)`));
      expect(started.stdout).toContain(`follow it: flagscope canary status ${flag} --watch`);
      const again = await flagscope(['canary', 'start', flag, ...plan]);
      expect(again.exitCode).toBe(6);
      expect(again.stderr).toContain(`flag ${flag} already has a canary in flight`);

      const status = await flagscope(['canary', 'status', flag]);
      expect(status.exitCode, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`^canary ${flag} \\S+ {2}(running|completed) {2}step \\d of 3`));
      expect(status.stdout).toContain('on against off in healthy · steps 20% → 50% → 100% · hold 1s');
      expect(status.stdout).toMatch(/GUARD\s+CONTROL\s+CANARY\s+DIFFERENCE\s+INTERVAL\s+TOLERANCE\s+P\s+VERDICT/);
      expect(status.stdout).toMatch(/AT\s+EVENT\s+TRAFFIC\s+BY\s+REASON/);
      expect(status.stdout).toContain('release 2.4');
      const statusJson = JSON.parse((await flagscope(['canary', 'status', flag, '--json'])).stdout) as CanaryView;
      expect(statusJson).toMatchObject({ flag, plan: { steps: [20, 50, 100], intervalMs: 1000, minSample: 200, dataset: 'healthy' } });
      expect(statusJson.plan.guards.map((g) => g.guard)).toEqual(['RATE(status_code >= 500) <= +2pp', 'P95(duration_ms) <= +25%']);
      expect(statusJson.timeline[0]).toMatchObject({ kind: 'start', from: 0, to: 20, by: 'ci' });
      expect(statusJson.timeline[0]?.reason).toContain('started by ci (release 2.4): steps 20, 50, 100%, 1s each');

      const list = await flagscope(['canaries']);
      expect(list.exitCode, list.stderr).toBe(0);
      const listJson = JSON.parse((await flagscope(['canaries', '--all', '--json'])).stdout) as CanaryListResponse;
      expect(listJson.canaries.map((c) => c.flag)).toEqual([flag]);

      // The gate on the last step waits for the controller to complete the canary.
      const gates = await gateInEveryFormat(flag, ['--step', '100', '--wait', '2m']);
      for (const [format, run] of Object.entries({ table: gates.table, json: gates.json, junit: gates.junit, github: gates.github })) {
        expect(run.exitCode, `${format}: ${run.stderr}`).toBe(0);
      }
      expect(gates.table.stdout).toMatch(
        new RegExp(`^gate PASS canary ${flag} \\(\\S+\\), step 100%: the canary completed: everyone is on on\\n`),
      );
      expect(gates.table.stdout).toMatch(/^completed · all 3 steps passed · 100% of traffic · waited \d+s · exit 0$/m);
      const json = JSON.parse(gates.json.stdout) as CanaryView & { gate: { result: string; exitCode: number; step: number } };
      expect(json.status).toBe('completed');
      expect(json.gate).toMatchObject({ result: 'pass', exitCode: 0, step: 100 });
      // Each step passed on its evidence: every guard shown within its tolerance, the sample reached.
      expect(json.timeline.map((e) => [e.kind, e.from, e.to, e.by])).toEqual([
        ['start', 0, 20, 'ci'],
        ['advance', 20, 50, 'canary-controller'],
        ['complete', 50, 100, 'canary-controller'],
      ]);
      for (const entry of json.timeline.slice(1)) {
        expect(entry.evidence?.guards.map((g) => g.verdict)).toEqual(['pass', 'pass']);
        expect(entry.evidence?.sample.reached).toBe(true);
        expect(entry.evidence?.sampleRatio.mismatch).toBe(false);
      }

      const junit = await validateJunit(gates.junit.stdout, 'healthy');
      expect(junit.output).toContain('validates');
      expect(junit.exitCode).toBe(0);
      expect(await junitOutcomes('healthy')).toEqual({
        'RATE(status_code >= 500) <= +2pp': 'pass',
        'P95(duration_ms) <= +25%': 'pass',
        'sample ratio': 'pass',
        'decision at step 100%': 'pass',
      });

      expect(gates.github.stdout).toMatch(/^::notice title=canary checkout-v2%3A RATE\(status_code >= 500\) <= \+2pp::/m);
      expect(gates.github.stdout).toMatch(/^::notice title=canary checkout-v2%3A gate PASS::the canary completed/m);
      expect(gates.github.stdout).not.toContain('::error');
      expect(gates.summary).toMatch(/^# earlier steps\n### ✅ canary `checkout-v2`: gate PASS at step 100%\n/);
      expect(gates.summary).toContain('| `RATE(status_code >= 500) <= +2pp` |');

      // Completed: OFREP serves the variant to everyone.
      expect(await servedVariants(flag, 20)).toEqual({ on: 20 });
    } finally {
      await traffic.stop();
    }
  }, 150_000);

  it('an error regression is rolled back to 0%: the gate exits 10 in every format with the evidence', async () => {
    const flag = 'payments-v2';
    await createReleaseFlag(flag);
    const traffic = trafficFor(flag, 'regressed', { ratePerSecond: 1500, users: 30_000, on: { errorRate: 0.1 }, seed: 2 });
    try {
      await traffic.started;
      const started = await flagscope([
        'canary',
        'start',
        flag,
        '--dataset',
        'regressed',
        '--steps',
        '20,50,100',
        '--interval',
        '1s',
        '--min-sample',
        '200',
        ...GUARDS,
      ]);
      expect(started.exitCode, started.stderr).toBe(0);

      const gates = await gateInEveryFormat(flag, ['--wait', '2m']);
      for (const [format, run] of Object.entries({ table: gates.table, json: gates.json, junit: gates.junit, github: gates.github })) {
        expect(run.exitCode, `${format}: ${run.stderr}`).toBe(10);
      }
      expect(gates.table.stdout).toMatch(
        new RegExp(`^gate REGRESSION canary ${flag} \\(\\S+\\), step 20%: the controller rolled the canary back to 0%`),
      );
      expect(gates.table.stdout).toMatch(/RATE\(status_code >= 500\) <= \+2pp .* fail/);
      const json = JSON.parse(gates.json.stdout) as CanaryView & { gate: { result: string; exitCode: number } };
      expect(json).toMatchObject({ status: 'rolled-back', percent: 0, gate: { result: 'regression', exitCode: 10 } });
      const rollback = json.timeline.find((e) => e.kind === 'rollback');
      expect(rollback).toMatchObject({ from: 20, to: 0, by: 'canary-controller' });
      const rate = rollback?.evidence?.guards.find((g) => g.metric.startsWith('RATE'));
      expect(rate?.verdict).toBe('fail');
      // The measured rates are the profile's: about 0.5% in control, about 10% in the canary.
      expect(rate?.control).toBeLessThan(0.02);
      expect(rate?.canary).toBeGreaterThan(0.05);
      expect(rate?.interval?.[0]).toBeGreaterThan(0.02);

      const junit = await validateJunit(gates.junit.stdout, 'regressed');
      expect(junit.exitCode, junit.output).toBe(0);
      const outcomes = await junitOutcomes('regressed');
      expect(outcomes['RATE(status_code >= 500) <= +2pp']).toBe('failure');
      expect(outcomes['decision at step 20%']).toBe('failure');
      expect(gates.junit.stdout).toMatch(/<failure message="RATE\(status_code &gt;= 500\) &lt;= \+2pp: control [\d.]+%, canary [\d.]+%/);

      expect(gates.github.stdout).toMatch(/^::error title=canary payments-v2%3A RATE\(status_code >= 500\) <= \+2pp::.*: fail$/m);
      expect(gates.github.stdout).toMatch(/^::error title=canary payments-v2%3A gate REGRESSION::the controller rolled the canary back/m);
      expect(gates.summary).toContain('### ❌ canary `payments-v2`: gate REGRESSION at step 20%');
      expect(gates.summary).toContain('| **fail** |');

      // Rolled back: OFREP serves control to everyone.
      expect(await servedVariants(flag, 20)).toEqual({ off: 20 });
      const list = JSON.parse((await flagscope(['canaries', '--json'])).stdout) as CanaryListResponse;
      expect(list.canaries.map((c) => c.flag)).not.toContain(flag);
    } finally {
      await traffic.stop();
    }
  }, 150_000);

  it('too little traffic: the gate exits 11 at its deadline in every format; abort --reason ends it and OFREP serves control', async () => {
    const flag = 'search-v2';
    await createReleaseFlag(flag);
    const traffic = trafficFor(flag, 'quiet', { ratePerSecond: 5, users: 2000, seed: 3 });
    try {
      await traffic.started;
      const started = await flagscope([
        'canary',
        'start',
        flag,
        '--dataset',
        'quiet',
        '--steps',
        '20,50,100',
        '--interval',
        '1s',
        '--min-sample',
        '1000',
        '--guard',
        'RATE(status_code >= 500) <= +2pp',
      ]);
      expect(started.exitCode, started.stderr).toBe(0);

      const gates = await gateInEveryFormat(flag, ['--wait', '3s']);
      for (const [format, run] of Object.entries({ table: gates.table, json: gates.json, junit: gates.junit, github: gates.github })) {
        expect(run.exitCode, `${format}: ${run.stderr}`).toBe(11);
      }
      expect(gates.table.stdout).toMatch(
        new RegExp(`^gate INCONCLUSIVE canary ${flag} \\(\\S+\\), step 20%: the deadline passed before step 1 \\(20%\\) was decided: `),
      );
      expect(gates.table.stdout).toMatch(/of 1000 needed per cohort/);
      const json = JSON.parse(gates.json.stdout) as CanaryView & { gate: { result: string; exitCode: number } };
      expect(json).toMatchObject({ status: 'running', stepIndex: 0, percent: 20, gate: { result: 'inconclusive', exitCode: 11 } });

      const junit = await validateJunit(gates.junit.stdout, 'quiet');
      expect(junit.exitCode, junit.output).toBe(0);
      const outcomes = await junitOutcomes('quiet');
      expect(outcomes['decision at step 20%']).toBe('skipped');
      expect(Object.values(outcomes)).not.toContain('failure');
      expect(gates.github.stdout).toMatch(/^::warning title=canary search-v2%3A gate INCONCLUSIVE::the deadline passed/m);
      expect(gates.summary).toContain('### ⚠️ canary `search-v2`: gate INCONCLUSIVE at step 20%');

      const noReason = await flagscope(['canary', 'abort', flag]);
      expect(noReason.exitCode).toBe(2);
      expect(noReason.stderr).toContain('--reason');
      const aborted = await flagscope(['canary', 'abort', flag, '--reason', 'not enough traffic to judge']);
      expect(aborted.exitCode, aborted.stderr).toBe(0);
      expect(aborted.stdout).toContain(flag);
      const after = JSON.parse((await flagscope(['canary', 'status', flag, '--json'])).stdout) as CanaryView;
      expect(after).toMatchObject({ status: 'aborted', percent: 0 });
      expect(after.timeline.at(-1)).toMatchObject({ kind: 'abort', from: 20, to: 0, by: 'ci', reason: 'not enough traffic to judge' });
      expect(await servedVariants(flag, 20)).toEqual({ off: 20 });
      const gateAfter = await flagscope(['canary', 'gate', flag, '--wait', '0']);
      expect(gateAfter.exitCode).toBe(11);
      expect(gateAfter.stdout).toContain('the canary was aborted by a person (not enough traffic to judge)');
      const twice = await flagscope(['canary', 'abort', flag, '--reason', 'again']);
      expect(twice.exitCode).toBe(6);
    } finally {
      await traffic.stop();
    }
  }, 150_000);
});
