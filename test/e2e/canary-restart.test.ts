/**
 * A canary survives a SIGKILL of `flagscope serve` mid-ramp. The canary is started through the
 * controller's service on the data directory (the HTTP routes for canaries are not part of this
 * server yet), then `bin/flagscope serve` runs it with its default one-second tick while the test
 * sends traffic split as the flag serves it. Once the canary has advanced to its second step the
 * server is killed with SIGKILL; the saved canary is at that step, and a second server resumes
 * it there: the step's hold runs from when the step began (neither started again at the restart
 * nor skipped), and the canary completes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { type CanaryRecord, StoreCanaryRepository } from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { KeyService } from '../../src/server/keys/key-service.js';
import { openStores } from '../../src/store/factory.js';

const bin = fileURLToPath(new URL('../../bin/flagscope', import.meta.url));
const builtServer = fileURLToPath(new URL('../../dist/server/index.js', import.meta.url));
const FLAG = 'checkout_v2';
const INTERVAL_MS = 3_000;
const children: ChildProcess[] = [];
let home: string | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

/** `flagscope serve` on the data directory; resolves with its URL once it listens. */
async function serve(dir: string): Promise<{ child: ChildProcess; url: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', join(dir, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config'), FLAGSCOPE_PROFILE: '', CI: '1' },
  });
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^flagscope listening on (\S+)$/.exec(line);
      if (match !== null) resolve(match[1] as string);
    });
    exited.then(() => reject(new Error(`flagscope serve exited: ${stderr}`)));
  });
  return { child, url, exited };
}

/** The canary variant's share of the flag's rollout as the server serves it, in percent. */
async function servedPercent(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/flags/${FLAG}`, { headers: { authorization: `Bearer ${key}` } });
  const { flag } = (await res.json()) as { flag: { rollout?: { weights: { variant: string; weight: number }[]; precision: number } } };
  if (flag.rollout === undefined) return 0;
  const on = flag.rollout.weights.find((w) => w.variant === 'on')?.weight ?? 0;
  return (100 * on) / (100 * 10 ** flag.rollout.precision);
}

/**
 * Sends healthy traffic split as the flag serves it (200 events every 200 ms, stamped by the
 * server) until `done` says so; resolves with the percentage it last saw.
 */
async function trafficUntil(url: string, key: string, done: (percent: number) => boolean): Promise<number> {
  for (let round = 0; round < 150; round++) {
    const percent = await servedPercent(url, key);
    if (done(percent)) return percent;
    const canary = Math.round((200 * percent) / 100);
    const batch = Array.from({ length: 200 }, (_, i) => ({
      data: { [`flag.${FLAG}`]: i < canary ? 'on' : 'off', status_code: 200, duration_ms: 100 + (i % 50), 'user.id': `u-${round}-${i}` },
    }));
    const res = await fetch(`${url}/1/batch/checkout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(res.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the canary did not reach the expected step');
}

async function savedCanary(dir: string): Promise<CanaryRecord> {
  const stores = await openStores(`duckdb:${join(dir, 'data')}`);
  try {
    const [record] = await new StoreCanaryRepository(stores.control.canaryStore()).list();
    return record as CanaryRecord;
  } finally {
    await stores.close();
  }
}

it('resumes at the same step after a SIGKILL mid-ramp, the hold counted once', { timeout: 90_000 }, async () => {
  expect(existsSync(builtServer), 'run `npm run build` before this test').toBe(true);
  home = await mkdtemp(join(tmpdir(), 'flagscope-canary-restart-'));
  // The data directory: an API key, the release flag, the dataset, and the canary started.
  const stores = await openStores(`duckdb:${join(home, 'data')}`);
  const keys = await KeyService.open(stores.control, Date.now);
  const key = (await keys.bootstrapAdminKey()) as string;
  keys.close();
  const flags = await FlagService.open(stores.control.flagStore(), Date.now);
  await flags.create(
    { key: FLAG, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    'admin',
    'setup',
  );
  await stores.events.ingest('checkout', [
    { time: Date.now() - 60_000, samplerate: 1, data: { [`flag.${FLAG}`]: 'off', status_code: 200, duration_ms: 100, 'user.id': 'u' } },
  ]);
  const canaries = new CanaryService({
    repository: new StoreCanaryRepository(stores.control.canaryStore()),
    events: stores.events,
    flags,
    now: Date.now,
  });
  await canaries.start(
    {
      flag: FLAG,
      dataset: 'checkout',
      steps: '10,50,100',
      interval: `${INTERVAL_MS / 1000}s`,
      minSample: 5,
      unit: null,
      guards: ['RATE(status_code >= 500) <= +50pp'],
    },
    'admin',
  );
  flags.close();
  await stores.close();

  // The first server ramps it to 50% and is killed there.
  const first = await serve(home);
  const reached = await trafficUntil(first.url, key, (p) => p === 50).catch(() => -1);
  if (reached !== 50) {
    first.child.kill('SIGKILL');
    await first.exited;
    const stuck = await savedCanary(home);
    throw new Error(
      `the canary did not reach 50%: ${JSON.stringify({ state: stuck.state, decision: stuck.lastDecision?.reason, timeline: stuck.timeline.map((e) => e.reason) })}`,
    );
  }
  first.child.kill('SIGKILL');
  await first.exited;
  const killed = await savedCanary(home);
  expect(killed.state).toMatchObject({ status: 'running', stepIndex: 1, percent: 50 });
  expect(killed.timeline.map((e) => e.kind)).toEqual(['start', 'advance']);
  const stepStartedAt = killed.state.stepStartedAt as number;
  expect(stepStartedAt).toBe(killed.timeline[1]?.at);

  // The second server resumes at 50% and completes it.
  const restartedAt = Date.now();
  const second = await serve(home);
  expect(await servedPercent(second.url, key)).toBe(50);
  expect(await trafficUntil(second.url, key, (p) => p === 100)).toBe(100);
  second.child.kill('SIGTERM');
  await second.exited;
  const done = await savedCanary(home);
  const kinds = done.timeline.map((e) => e.kind);
  expect(kinds.slice(0, 2)).toEqual(['start', 'advance']);
  // One transition entered 50% (the step was not started again), one left it.
  expect(done.timeline.filter((e) => e.percent === 50)).toHaveLength(1);
  const left = done.timeline.find((e) => e.at > stepStartedAt && e.percent === 100);
  expect(left).toBeDefined();
  // Not skipped: 50% was held for the whole interval from when it began.
  expect(left!.at - stepStartedAt).toBeGreaterThanOrEqual(INTERVAL_MS);
  // Not counted again: the hold ran from the step's start, not from the restart.
  expect(left!.at).toBeLessThan(Math.max(restartedAt, stepStartedAt + INTERVAL_MS) + INTERVAL_MS);
});
