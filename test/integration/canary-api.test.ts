/**
 * The canary API through the real server (docs/api.md, "Canaries"): a server on a free loopback
 * port over a temp data dir, real DuckDB, the controller ticking on a manual scheduler (a tick is
 * one `advance` of the clock; the test then reads the canary until that tick's evidence is in,
 * so nothing sleeps for timing). Events reach the dataset through the batch API, with
 * `flag.checkout_v2` split between the variants as the controller's rollout splits them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CanaryDryRunResponse, CanaryListResponse, CanaryView } from '../../src/api/canaries.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { ManualScheduler } from '../support/manual-scheduler.js';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const TICK = 1000;
const FLAG = 'checkout_v2';

let dir: string;
let scheduler: ManualScheduler;
let server: RunningServer;
let admin: string;
let logs: string[];

interface Answer {
  status: number;
  json: any;
  etag: string | null;
}

async function boot(at: number): Promise<void> {
  scheduler = new ManualScheduler(at);
  server = await startServer({ dataDir: dir, port: 0, scheduler, canaryTickMs: TICK, log: (line) => logs.push(line) });
  admin = server.adminKey ?? admin;
}

async function api(
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${options.key ?? admin}`, 'content-type': 'application/json', ...options.headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined, etag: res.headers.get('etag') };
}

async function canary(): Promise<CanaryView> {
  const answer = await api('GET', `/api/v1/canaries/${FLAG}`);
  expect(answer.status).toBe(200);
  return answer.json as CanaryView;
}

/** `count` events of `variant` spread over the last 400 ms, the first `errors` failing, each `slow` ms slower. */
function events(variant: string, count: number, errors = 0, slow = 0): unknown[] {
  const now = scheduler.now();
  return Array.from({ length: count }, (_, i) => ({
    time: now - 400 + (i % 400),
    data: {
      [`flag.${FLAG}`]: variant,
      status_code: i < errors ? 503 : 200,
      duration_ms: 100 + slow + (i % 50),
      'user.id': `${variant}-${now}-${i}`,
    },
  }));
}

async function ingest(batch: unknown[]): Promise<void> {
  const answer = await api('POST', '/1/batch/checkout', batch);
  expect(answer.status).toBe(200);
  expect((answer.json as Array<{ status: number }>).every((o) => o.status === 202)).toBe(true);
}

/** Traffic at the percentage the flag serves now: `total` events, the canary's share on the variant. */
async function traffic(
  total: number,
  canaryCohort: { errors?: number; slow?: number; share?: number } = {},
  control = { errors: 0 },
): Promise<void> {
  const percent = canaryCohort.share ?? (await canary()).percent;
  const on = Math.round((total * percent) / 100);
  await ingest([...events('on', on, canaryCohort.errors ?? 0, canaryCohort.slow ?? 0), ...events('off', total - on, control.errors)]);
}

/** Moves the clock to the controller's next tick and waits until that tick has been recorded. */
async function tick(): Promise<CanaryView> {
  const at = new Date(scheduler.now() + (TICK - (scheduler.now() % TICK))).toISOString();
  await scheduler.advance(TICK - (scheduler.now() % TICK));
  return vi.waitFor(
    async () => {
      const view = await canary();
      if (view.evidence?.at !== at && !['rolled-back', 'completed', 'aborted'].includes(view.status)) {
        throw new Error(`the tick at ${at} has not been recorded yet (${logs.join('; ')})`);
      }
      return view;
    },
    { timeout: 20_000, interval: 20 },
  );
}

/** Half a tick on, so the next events fall inside the coming tick's window. */
async function halfTick(): Promise<void> {
  await scheduler.advance(TICK / 2);
}

async function start(plan: Record<string, unknown>, key?: string): Promise<Answer> {
  return api(
    'POST',
    '/api/v1/canaries',
    { flag: FLAG, dataset: 'checkout', steps: [10, 50, 100], minSample: 100, ...plan },
    key === undefined ? {} : { key },
  );
}

async function servedVariant(user: string): Promise<string> {
  const answer = await api('POST', `/ofrep/v1/evaluate/flags/${FLAG}`, { context: { targetingKey: user } });
  expect(answer.status).toBe(200);
  return answer.json.variant as string;
}

async function history(): Promise<Array<{ by: string; reason: string }>> {
  const answer = await api('GET', `/api/v1/flags/${FLAG}/history`);
  expect(answer.status).toBe(200);
  return answer.json.history;
}

async function key(name: string, scopes: string[]): Promise<string> {
  const answer = await api('POST', '/api/v1/keys', { name, scopes });
  expect(answer.status).toBe(201);
  return answer.json.key as string;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-api-'));
  logs = [];
  await boot(T0);
  for (const flag of [
    { key: FLAG, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    {
      key: 'payments_off',
      service: 'checkout',
      kind: 'kill-switch',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
    },
  ]) {
    expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
  }
  // The dataset, with the flag's column, exists before the canary starts.
  await scheduler.advance(0);
  await ingest(events('off', 20).map((e) => ({ ...(e as object), time: T0 - 60_000 })));
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a canary through the API, decided by the controller in the server', () => {
  it('ramps a healthy canary to 100% (completed), recording each decision in the timeline and the flag history', async () => {
    const started = await start({ interval: '2s', guards: ['RATE(status_code >= 500) <= +5pp', 'P95(duration_ms) <= +50%'] });
    expect(started.status).toBe(201);
    expect(started.etag).toBe(`"${started.json.revision}"`);
    expect(started.json).toMatchObject({
      flag: FLAG,
      service: 'checkout',
      status: 'running',
      stepIndex: 0,
      percent: 10,
      holdRemainingMs: 2000,
    });
    expect(started.json.nextDecisionAt).toBe(new Date(T0 + 2000).toISOString());
    for (let i = 0; i < 12 && (await canary()).status === 'running'; i++) {
      await halfTick();
      await traffic(4000);
      await tick();
    }
    const done = await canary();
    expect(done).toMatchObject({ status: 'completed', percent: 100, nextDecisionAt: null, holdRemainingMs: null });
    expect(done.timeline.map((e) => [e.kind, e.from, e.to, e.by])).toEqual([
      ['start', 0, 10, 'admin'],
      ['advance', 10, 50, 'canary-controller'],
      ['complete', 50, 100, 'canary-controller'],
    ]);
    expect(done.timeline[1]?.evidence?.guards.map((g) => g.verdict)).toEqual(['pass', 'pass']);
    expect(done.timeline[1]?.reason).toMatch(/step 10% passed after 2s/);
    const changes = await history();
    expect(changes[0]).toMatchObject({ by: 'canary-controller', reason: expect.stringMatching(/ramped to 100%, completed/) });
    expect(changes[1]).toMatchObject({ by: 'canary-controller', reason: expect.stringMatching(/advancing to 50%/) });
    expect(await servedVariant('anyone')).toBe('on');
    const list = (await api('GET', '/api/v1/canaries')).json as CanaryListResponse;
    expect(list.canaries).toEqual([]);
    expect(((await api('GET', '/api/v1/canaries?all=true')).json as CanaryListResponse).canaries.map((c) => c.status)).toEqual([
      'completed',
    ]);
  });

  it('rolls an error-rate regression of the canary cohort back to 0%: OFREP serves control, the evidence is in the timeline and the history', async () => {
    expect((await start({ interval: '1m', guards: ['RATE(status_code >= 500) <= +0.5pp'] })).status).toBe(201);
    await halfTick();
    await traffic(4000, { errors: 40 }, { errors: 18 });
    const view = await tick();
    expect(view).toMatchObject({ status: 'rolled-back', percent: 0, nextDecisionAt: null });
    const rollback = view.timeline.at(-1)!;
    expect(rollback).toMatchObject({ kind: 'rollback', from: 10, to: 0, by: 'canary-controller' });
    expect(rollback.reason).toMatch(/^rolled back to 0%: RATE\(status_code >= 500\) <= \+0\.5pp: canary 10% vs control 0\.5%/);
    expect(rollback.evidence?.guards[0]).toMatchObject({
      verdict: 'fail',
      canary: 0.1,
      control: 0.005,
      tolerance: 0.005,
      units: { canary: 400 },
    });
    expect(rollback.evidence?.sample).toMatchObject({ canary: 400, control: 3600 });
    expect((await history())[0]).toMatchObject({ by: 'canary-controller', reason: rollback.reason });
    for (const user of ['u-1', 'u-2', 'u-3', 'u-4', 'u-5']) expect(await servedVariant(user)).toBe('off');
  });

  it('rolls back a regression of P95 alone', async () => {
    await start({ interval: '1m', guards: ['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10%'] });
    await halfTick();
    await traffic(4000, { slow: 200 });
    const view = await tick();
    expect(view).toMatchObject({ status: 'rolled-back', percent: 0 });
    expect(view.timeline.at(-1)?.reason).toMatch(/^rolled back to 0%: P95\(duration_ms\) <= \+10%: canary/);
    // The error rate is the same in both cohorts: only the P95 guard fails.
    const [rate, p95] = view.timeline.at(-1)?.evidence?.guards ?? [];
    expect(rate?.verdict).not.toBe('fail');
    expect(p95).toMatchObject({ verdict: 'fail', scale: 'relative', tolerance: 0.1 });
    expect(p95?.canary).toBeGreaterThan(p95?.control ?? Number.POSITIVE_INFINITY);
  });

  it('rolls back a canary cohort that under-reports (sample ratio mismatch)', async () => {
    await start({ interval: '1m', guards: ['RATE(status_code >= 500) <= +5pp'] });
    await halfTick();
    // The rollout gives the canary 10%; its events arrive for 0.5%.
    await traffic(4000, { share: 0.5 });
    const view = await tick();
    expect(view).toMatchObject({ status: 'rolled-back', percent: 0 });
    expect(view.timeline.at(-1)?.reason).toMatch(
      /sample ratio mismatch: the canary cohort has 0\.5% of the .* where the rollout gives it 10%/,
    );
    expect(view.timeline.at(-1)?.evidence?.sampleRatio).toMatchObject({ mismatch: true, expectedShare: 0.1, canary: 20, control: 3980 });
    expect((await history())[0]?.reason).toMatch(/sample ratio mismatch/);
  });

  it('holds without traffic, then pauses as inconclusive after max-wait: never forward, never back', async () => {
    await start({ interval: '1s', maxWait: '3s', guards: ['RATE(status_code >= 500) <= +0.5pp'] });
    const waiting = await tick();
    expect(waiting).toMatchObject({ status: 'running', percent: 10, stepIndex: 0 });
    expect(waiting.evidence?.sample).toMatchObject({ canary: 0, control: 0, reached: false });
    await tick();
    const paused = await tick();
    expect(paused).toMatchObject({ status: 'paused', percent: 10, nextDecisionAt: null, pause: { cause: 'no-traffic' } });
    expect(paused.pause?.reason).toMatch(/paused as inconclusive after waiting 3s .*silence is not health/);
    expect(paused.timeline.map((e) => e.kind)).toEqual(['start', 'pause']);
    expect((await tick()).status).toBe('paused');
  });

  it('waits at an approval step until promote', async () => {
    await start({ interval: '1s', approveAt: [10], guards: ['RATE(status_code >= 500) <= +5pp'] });
    await halfTick();
    await traffic(4000);
    const waiting = await tick();
    expect(waiting).toMatchObject({ status: 'waiting-approval', percent: 10, nextDecisionAt: null, holdRemainingMs: null });
    expect((await tick()).status).toBe('waiting-approval');
    const promoted = await api('POST', `/api/v1/canaries/${FLAG}/promote`, {});
    expect(promoted.status).toBe(200);
    expect(promoted.json).toMatchObject({ status: 'running', stepIndex: 1, percent: 50 });
    expect(promoted.json.timeline.map((e: { kind: string }) => e.kind)).toEqual(['start', 'await-approval', 'promote']);
  });

  it('steers: pause, resume, ramp (refused on a failing guard unless forced with a reason), abort; each refused when it cannot apply', async () => {
    const first = await start({ interval: '1m', guards: ['RATE(status_code >= 500) <= +0.5pp then pause'] });
    expect((await start({ interval: '1m' })).status).toBe(409);
    const command = (verb: string, body: unknown = {}, headers: Record<string, string> = {}) =>
      api('POST', `/api/v1/canaries/${FLAG}/${verb}`, body, { headers });

    // If-Match: a stale revision is refused and changes nothing; the current one goes through.
    const stale = await command('pause', { reason: 'lunch' }, { 'if-match': `"${first.json.revision - 1}"` });
    expect(stale.status).toBe(409);
    expect(stale.json.error.code).toBe('conflict');
    expect((await canary()).status).toBe('running');
    const paused = await command('pause', { reason: 'lunch' }, { 'if-match': first.etag! });
    expect(paused.status).toBe(200);
    expect(paused.json).toMatchObject({ status: 'paused', pause: { cause: 'manual', reason: 'lunch' } });
    expect(paused.etag).toBe(`"${first.json.revision + 1}"`);
    expect((await command('pause')).status).toBe(409);
    expect((await command('promote')).json.error).toMatchObject({ code: 'conflict', hint: expect.stringMatching(/resume/) });
    expect((await command('resume')).json).toMatchObject({ status: 'running' });
    expect((await command('resume')).status).toBe(409);

    expect((await command('ramp', { to: 33 })).status).toBe(400);
    expect((await command('ramp', {})).status).toBe(400);
    const ramped = await command('ramp', { to: 50, reason: 'confident' });
    expect(ramped.json).toMatchObject({ status: 'running', stepIndex: 1, percent: 50 });
    expect(await servedVariantShare()).toBe(50);

    // The canary cohort errs: the guard (then pause) pauses it; a ramp then needs force and a reason.
    await halfTick();
    await traffic(4000, { errors: 200 }, { errors: 10 });
    const guarded = await tick();
    expect(guarded).toMatchObject({ status: 'paused', percent: 50, pause: { cause: 'guard' } });
    expect((await command('resume')).status).toBe(200);
    const refused = await command('ramp', { to: 10 });
    expect(refused.status).toBe(409);
    expect(refused.json.error.hint).toMatch(/--force --reason/);
    expect((await command('ramp', { to: 10, force: true })).status).toBe(400);
    const forced = await command('ramp', { to: 10, force: true, reason: 'back to 10% to watch' });
    expect(forced.json).toMatchObject({ percent: 10, stepIndex: 0 });
    expect(forced.json.timeline.at(-1)).toMatchObject({ kind: 'ramp', from: 50, to: 10, by: 'admin', reason: 'back to 10% to watch' });

    expect((await command('abort', {})).status).toBe(400);
    const aborted = await command('abort', { reason: 'wrong build' });
    expect(aborted.json).toMatchObject({ status: 'aborted', percent: 0, nextDecisionAt: null });
    expect(await servedVariant('u-1')).toBe('off');
    expect((await history())[0]?.reason).toMatch(/abort by admin: wrong build/);
    for (const verb of ['pause', 'resume', 'promote', 'abort']) {
      const ended = await command(verb, { reason: 'again' });
      expect(ended.status).toBe(409);
      expect(ended.json.error.hint).toMatch(/ended; start a new canary/);
    }
    expect((await start({ interval: '1m' })).status).toBe(201);
  });

  it('refuses an unknown flag, dataset or canary (404) and a bad plan (400), storing nothing', async () => {
    expect((await api('POST', '/api/v1/canaries', { flag: 'nope', dataset: 'checkout' })).json.error.code).toBe('not_found');
    expect((await start({ dataset: 'nope' })).status).toBe(404);
    expect((await start({ steps: [10, 50] })).status).toBe(400);
    expect((await start({ guards: ['P95(latency_ms) <= +10%'] })).status).toBe(400);
    expect((await api('POST', '/api/v1/canaries', { flag: 'payments_off', dataset: 'checkout' })).json.error.message).toMatch(
      /not a release flag/,
    );
    expect((await start({ dryRun: 'yes' })).status).toBe(400);
    expect((await api('GET', `/api/v1/canaries/${FLAG}`)).status).toBe(404);
    expect((await api('POST', `/api/v1/canaries/${FLAG}/pause`, {})).status).toBe(404);
    expect((await api('GET', '/api/v1/canaries?all=true')).json).toEqual({ canaries: [] });
  });

  it('answers a dry run with the plan and the schedule, and stores nothing', async () => {
    const before = (await api('GET', `/api/v1/flags/${FLAG}`)).etag;
    const answer = await start({ interval: '10m', approveAt: [50], dryRun: true });
    expect(answer.status).toBe(200);
    const dry = answer.json as CanaryDryRunResponse;
    expect(dry.plan).toMatchObject({
      flag: FLAG,
      variant: 'on',
      baseline: 'off',
      column: `flag.${FLAG}`,
      steps: [10, 50, 100],
      intervalMs: 600_000,
    });
    expect(dry.plan.guards.length).toBeGreaterThan(0);
    expect(dry.schedule).toEqual([
      { step: 0, percent: 10, earliestAt: new Date(T0 + 600_000).toISOString(), approval: false },
      { step: 1, percent: 50, earliestAt: new Date(T0 + 1_200_000).toISOString(), approval: true },
      { step: 2, percent: 100, earliestAt: new Date(T0 + 1_200_000).toISOString(), approval: false },
    ]);
    expect((await api('GET', `/api/v1/canaries/${FLAG}`)).status).toBe(404);
    expect((await api('GET', `/api/v1/flags/${FLAG}`)).etag).toBe(before);
    expect(await servedVariant('u-1')).toBe('off');
  });

  it('keeps to the scopes: a query key cannot start, a killswitch key can abort only; services show the canary as an abort button', async () => {
    const reader = await key('reader', ['query']);
    const oncall = await key('oncall', ['killswitch']);
    expect((await start({ interval: '1m' }, reader)).status).toBe(403);
    expect((await start({ interval: '1m' }, oncall)).status).toBe(403);
    expect((await start({ interval: '1m' })).status).toBe(201);
    expect((await api('GET', `/api/v1/canaries/${FLAG}`, undefined, { key: reader })).status).toBe(403);
    expect((await api('POST', `/api/v1/canaries/${FLAG}/pause`, {}, { key: oncall })).status).toBe(403);
    expect((await api('POST', `/api/v1/canaries/${FLAG}/abort`, { reason: 'x' }, { key: reader })).status).toBe(403);
    const services = await api('GET', '/api/v1/services', undefined, { key: oncall });
    expect(services.json.services.find((s: { name: string }) => s.name === 'checkout').canaries).toEqual([
      { flag: FLAG, status: 'running', percent: 10, stepIndex: 0, steps: [10, 50, 100] },
    ]);
    const aborted = await api('POST', `/api/v1/canaries/${FLAG}/abort`, { reason: 'pager fired' }, { key: oncall });
    expect(aborted.status).toBe(200);
    expect(aborted.json.timeline.at(-1)).toMatchObject({ kind: 'abort', by: 'oncall', reason: 'pager fired', to: 0 });
    const after = await api('GET', '/api/v1/services');
    expect(after.json.services.find((s: { name: string }) => s.name === 'checkout').canaries).toBeUndefined();
  });

  it('answers GET with an ETag and 304 for a matching If-None-Match', async () => {
    const started = await start({ interval: '1m' });
    const read = await api('GET', `/api/v1/canaries/${FLAG}`);
    expect(read.etag).toBe(started.etag);
    const again = await fetch(`${server.url}/api/v1/canaries/${FLAG}`, {
      headers: { authorization: `Bearer ${admin}`, 'if-none-match': read.etag! },
    });
    expect(again.status).toBe(304);
  });

  it('resumes after a restart over the same data dir at the same step, its hold counted once', async () => {
    await start({ interval: '5s', guards: ['RATE(status_code >= 500) <= +5pp'] });
    await halfTick();
    await traffic(4000);
    expect((await tick()).holdRemainingMs).toBe(4000);
    expect((await tick()).holdRemainingMs).toBe(3000);
    const at = scheduler.now();
    await server.close();
    await boot(at);
    const reloaded = await canary();
    expect(reloaded).toMatchObject({ status: 'running', stepIndex: 0, percent: 10, holdRemainingMs: 3000 });
    // A tick that changes nothing saves nothing, so the evidence kept is that of the last tick that saved.
    expect(Date.parse(reloaded.evidence?.at ?? '')).toBeLessThanOrEqual(at);
    expect((await tick()).holdRemainingMs).toBe(2000);
    expect((await tick()).holdRemainingMs).toBe(1000);
    const advanced = await tick();
    expect(advanced).toMatchObject({ status: 'running', stepIndex: 1, percent: 50 });
    expect(advanced.timeline.map((e) => [e.kind, e.at])).toEqual([
      ['start', new Date(T0).toISOString()],
      ['advance', new Date(T0 + 5000).toISOString()],
    ]);
  });
});

async function servedVariantShare(): Promise<number | undefined> {
  const flag = (await api('GET', `/api/v1/flags/${FLAG}`)).json.flag;
  if (flag.rollout === undefined) return undefined;
  const weight = flag.rollout.weights.find((w: { variant: string }) => w.variant === 'on')?.weight ?? 0;
  return (100 * weight) / (100 * 10 ** flag.rollout.precision);
}
