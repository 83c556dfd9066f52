/**
 * Deleting the dataset a canary in flight measures (docs/canary.md, "When the canary's dataset is
 * deleted"), over real stores and a real server on a free loopback port with a manual scheduler:
 * `DELETE /api/v1/datasets/{dataset}` is refused with 409 while a canary in flight measures it and
 * changes nothing; with `?force=true` the canary is rolled back to 0% first, with a reason naming
 * the dataset, and then the dataset is deleted. A dataset deleted without the server's delete
 * route (another server over the same stores) makes the controller's next tick roll the canary
 * back; the ticks after that log no failure, and events that create the dataset anew do not bring
 * the canary back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CanaryView } from '../../src/api/canaries.js';
import { MemoryCanaryRepository } from '../../src/server/canaries/canary-repository.js';
import { CanaryService } from '../../src/server/canaries/canary-service.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { openStores } from '../../src/store/factory.js';
import type { EventStore } from '../../src/store/types.js';
import { callApi } from '../support/api-call.js';
import { ManualScheduler } from '../support/manual-scheduler.js';
import { runOnTerminal } from '../support/terminal-cli.js';

const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
const FLAG = 'checkout_v2';
const RELEASE = { key: FLAG, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' };
const PLAN = { flag: FLAG, dataset: 'checkout', steps: [10, 100], interval: '5m', guards: ['RATE(status_code >= 500) <= +0.5pp'] };

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-canary-delete-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `count` events at `at` whose flag column says `variant`. */
function batch(at: number, count: number, variant: string): Array<{ time: number; samplerate: number; data: Record<string, unknown> }> {
  return Array.from({ length: count }, (_, i) => ({
    time: at + i,
    samplerate: 1,
    data: { [`flag.${FLAG}`]: variant, status_code: 200, duration_ms: 100 + (i % 50), 'user.id': `${variant}-${at}-${i}` },
  }));
}

describe('DELETE /api/v1/datasets/{dataset} while a canary measures it (real server)', () => {
  let server: RunningServer;
  let scheduler: ManualScheduler;
  let admin: string;
  let logs: string[];

  function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    return callApi(server.url, admin, method, path, body);
  }

  async function canary(): Promise<CanaryView> {
    const answer = await api('GET', `/api/v1/canaries/${FLAG}`);
    expect(answer.status).toBe(200);
    return answer.json as CanaryView;
  }

  async function onShare(): Promise<number> {
    const flag = (await api('GET', `/api/v1/flags/${FLAG}`)).json.flag;
    const weights: Array<{ variant: string; weight: number }> = flag.rollout?.weights ?? [];
    const total = weights.reduce((sum, w) => sum + w.weight, 0);
    return total === 0 ? 0 : (100 * (weights.find((w) => w.variant === 'on')?.weight ?? 0)) / total;
  }

  beforeEach(async () => {
    logs = [];
    scheduler = new ManualScheduler(T0);
    server = await startServer({ dataDir: dir, port: 0, scheduler, canaryTickMs: 1000, log: (line) => logs.push(line) });
    admin = server.adminKey as string;
    expect((await api('POST', '/api/v1/flags', RELEASE)).status).toBe(201);
    expect((await api('POST', '/1/batch/checkout', batch(T0 - 60_000, 20, 'off'))).status).toBe(200);
    // The controller's job has started once the clock has moved (its service answers the routes).
    await scheduler.advance(0);
    const started = await api('POST', '/api/v1/canaries', PLAN);
    expect(started.status).toBe(201);
    expect(started.json).toMatchObject({ status: 'running', percent: 10 });
  });

  afterEach(async () => {
    await server.close();
  });

  it('refuses with 409 naming the canary and what to do, and deletes nothing', async () => {
    const refused = await api('DELETE', '/api/v1/datasets/checkout');
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({
      code: 'conflict',
      message:
        'dataset "checkout" measures the canary in flight of checkout_v2 (running at 10%): deleting it would leave that canary with nothing to be judged by',
      hint: 'abort it first (`flagscope canary abort checkout_v2 --reason TEXT`), or pass `--force` to delete the dataset and roll the canary back to 0%',
      details: { canaries: [FLAG] },
    });
    const datasets = (await api('GET', '/api/v1/datasets')).json.datasets;
    expect(datasets.find((d: { name: string }) => d.name === 'checkout')).toMatchObject({ rows: 20 });
    expect(await canary()).toMatchObject({ status: 'running', percent: 10 });
    expect(await onShare()).toBe(10);
    expect((await api('DELETE', '/api/v1/datasets/checkout?force=maybe')).status).toBe(400);
  });

  it('on a terminal, the CLI refuses before asking for the name (exit 6); with --force the prompt names the roll-back', async () => {
    const cli = (argv: string[], stdin: string) => runOnTerminal(argv, stdin, { dir, apiUrl: server.url, apiKey: admin });
    const refused = await cli(['datasets', 'delete', 'checkout'], 'checkout\n');
    expect(refused.code).toBe(6);
    expect(refused.stderr).not.toContain('Type the dataset name');
    expect(refused.stderr).toContain('error: dataset "checkout" measures the canary in flight of checkout_v2 (running at 10%)');
    expect(refused.stderr).toContain('hint: abort it first (`flagscope canary abort checkout_v2 --reason TEXT`), or pass `--force`');
    expect(await canary()).toMatchObject({ status: 'running', percent: 10 });

    const cancelled = await cli(['datasets', 'delete', 'checkout', '--force'], '');
    expect(cancelled.code).toBe(2);
    expect(cancelled.stderr).toContain('This deletes dataset checkout: 20 events');
    expect(cancelled.stderr).toContain(' and rolls the canary of checkout_v2 back to 0%. It cannot be undone.');
    expect(await canary()).toMatchObject({ status: 'running', percent: 10 });

    const forced = await cli(['datasets', 'delete', 'checkout', '--force'], 'checkout\n');
    expect(forced).toMatchObject({ code: 0, stdout: 'deleted dataset checkout: 20 events; rolled back the canary of checkout_v2 to 0%\n' });
    expect(await canary()).toMatchObject({ percent: 0 });
  });

  it('with ?force=true rolls the canary back to 0% first, naming the dataset, then deletes it', async () => {
    const deleted = await api('DELETE', '/api/v1/datasets/checkout?force=true');
    expect(deleted).toEqual({ status: 200, json: { dataset: 'checkout', deleted_events: 20, rolled_back_canaries: [FLAG] } });
    const view = await canary();
    expect(view).toMatchObject({ status: 'rolled-back', percent: 0 });
    expect(view.timeline.at(-1)).toMatchObject({
      kind: 'rollback',
      by: 'admin',
      to: 0,
      reason:
        'rolled back to 0%: its dataset "checkout" is deleted by key "admin" (`datasets delete --force`), so nothing is left to measure the canary with',
    });
    expect(await onShare()).toBe(0);
    const history = (await api('GET', `/api/v1/flags/${FLAG}/history`)).json.history;
    expect(history[0]).toMatchObject({ by: 'canary-controller', reason: expect.stringContaining('dataset "checkout" is deleted') });
    expect(logs).toContain('canary checkout_v2: rolled back to 0%: its dataset "checkout" is being deleted');
    expect(logs).toContain('dataset "checkout" deleted by key "admin": 20 events');
    // An ended canary does not hold the dataset: a later delete needs no force.
    expect((await api('POST', '/1/batch/checkout', batch(T0, 5, 'off'))).status).toBe(200);
    expect(await api('DELETE', '/api/v1/datasets/checkout')).toMatchObject({ status: 200, json: { rolled_back_canaries: [] } });
  });
});

describe('the controller when the dataset disappears under a canary (another server deleted it)', () => {
  let stores: Awaited<ReturnType<typeof openStores>>;
  let events: EventStore;
  let flags: FlagService;
  let clock = T0;

  beforeEach(async () => {
    stores = await openStores(`duckdb:${dir}`);
    events = stores.events;
    clock = T0;
    flags = await FlagService.open(stores.control.flagStore(), () => clock);
    await flags.create(RELEASE, 'admin', 'setup');
    expect((await events.ingest('checkout', batch(T0 - 60_000, 20, 'off'))).map((o) => o.status)).toEqual(Array(20).fill(202));
  });

  afterEach(async () => {
    flags.close();
    await stores.close();
  });

  it('rolls the canary back at the next tick, then ticks quietly even when the dataset comes back', async () => {
    const logs: string[] = [];
    const canaries = new CanaryService({
      repository: new MemoryCanaryRepository(),
      events,
      flags,
      now: () => clock,
      log: (line) => logs.push(line),
    });
    await canaries.start(PLAN, 'ana');
    clock += 1000;
    await events.ingest('checkout', [...batch(clock - 500, 50, 'on'), ...batch(clock - 400, 450, 'off')]);
    await canaries.tickAll();
    expect((await canaries.get(FLAG)).state).toMatchObject({ status: 'running', percent: 10 });

    await events.deleteDataset('checkout');
    clock += 1000;
    await canaries.tickAll();
    const record = await canaries.get(FLAG);
    expect(record.state).toMatchObject({ status: 'rolled-back', percent: 0 });
    expect(record.timeline.at(-1)).toMatchObject({
      kind: 'rollback',
      by: 'canary-controller',
      reason:
        'rolled back to 0%: its dataset "checkout" no longer exists (it was deleted), so nothing is left to measure the canary with; start a new canary once events arrive again',
    });
    expect(flags.get(FLAG).rollout?.weights.find((w) => w.variant === 'on')?.weight ?? 0).toBe(0);

    // Events create the dataset anew (without the guard's or the flag's history): the ended canary
    // stays ended, and the ticks neither fail nor write.
    await events.ingest('checkout', batch(clock, 10, 'on'));
    const revision = record.state.revision;
    for (let i = 0; i < 3; i++) {
      clock += 1000;
      await canaries.tickAll();
    }
    expect((await canaries.get(FLAG)).state).toMatchObject({ status: 'rolled-back', revision });
    expect(logs).toEqual([]);
  });
});
