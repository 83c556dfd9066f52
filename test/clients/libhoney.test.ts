import Libhoney from 'libhoney';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let writeKey: string;

interface Response {
  status_code?: number;
  error?: unknown;
  metadata?: unknown;
}

/** A libhoney client pointed at the test server, keeping the latest response queue it reports. */
function client(dataset: string, options: { batchSizeTrigger?: number } = {}): { hny: Libhoney; responses: () => Response[] } {
  const hny = new Libhoney({ apiHost: server.url, writeKey, dataset, batchTimeTrigger: 20, maxResponseQueueSize: 10_000, ...options });
  let latest: Response[] = [];
  hny.on('response', (queue) => {
    latest = queue;
  });
  return { hny, responses: () => latest };
}

async function countBy(dataset: string, spec: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
  const now = Math.floor(Date.now() / 1000);
  const res = await fetch(`${server.url}/api/v1/query/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${writeKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ start_time: now - 3 * 3600, end_time: now + 60, calculations: [{ op: 'COUNT' }], ...spec }),
  });
  const body = (await res.json()) as { data: { results: Array<{ data: Record<string, unknown> }> } };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data.results.map((r) => r.data);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-libhoney-'));
  server = await startServer({ port: 0, dataDir: dir });
  const res = await fetch(`${server.url}/api/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}` },
    body: JSON.stringify({ name: 'libhoney', scopes: ['ingest', 'query'] }),
  });
  writeKey = ((await res.json()) as { key: string }).key;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the real libhoney client', () => {
  it('sends single events that are stored, each answered 202', async () => {
    const { hny, responses } = client('libhoney-single', { batchSizeTrigger: 1 });
    for (let i = 0; i < 5; i++) hny.sendNow({ kind: 'single', i, 'service.name': 'checkout' });
    await hny.flush();
    expect(responses()).toHaveLength(5);
    expect(responses().map((r) => r.status_code)).toEqual([202, 202, 202, 202, 202]);
    expect(responses().every((r) => r.error === undefined)).toBe(true);
    const rows = await countBy('libhoney-single', { breakdowns: ['kind'] });
    expect(rows).toEqual([{ kind: 'single', COUNT: 5 }]);
  });

  it('sends batches with sample rates and explicit timestamps; counts are weighted', async () => {
    const { hny, responses } = client('libhoney-batch');
    const start = Date.now() - 600_000;
    let expectedWeighted = 0;
    for (let i = 0; i < 120; i++) {
      const ev = hny.newEvent();
      ev.add({ i, route: i % 2 === 0 ? '/a' : '/b', duration_ms: i * 1.5 });
      ev.timestamp = new Date(start + i * 1000);
      ev.metadata = { i };
      ev.sampleRate = i % 3 === 0 ? 5 : 1;
      expectedWeighted += ev.sampleRate;
      ev.sendPresampled();
    }
    await hny.flush();
    const queue = responses();
    expect(queue).toHaveLength(120);
    expect(queue.map((r) => r.status_code)).toEqual(new Array(120).fill(202));
    expect(new Set(queue.map((r) => (r.metadata as { i: number }).i)).size).toBe(120);

    const rows = await countBy('libhoney-batch', { breakdowns: ['route'], orders: [{ column: 'route', order: 'ascending' }] });
    const byRoute = Object.fromEntries(rows.map((r) => [r.route, r.COUNT]));
    let a = 0;
    for (let i = 0; i < 120; i += 2) a += i % 3 === 0 ? 5 : 1;
    expect(byRoute).toEqual({ '/a': a, '/b': expectedWeighted - a });
    const early = await countBy('libhoney-batch', {
      start_time: Math.floor(start / 1000),
      end_time: Math.floor(start / 1000) + 10,
    });
    let firstTen = 0;
    for (let i = 0; i < 10; i++) firstTen += i % 3 === 0 ? 5 : 1;
    expect(early[0]?.COUNT).toBe(firstTen);
  });

  it('reports per-event 400s from the server and 401 for a wrong key', async () => {
    const { hny, responses } = client('libhoney-bad', { batchSizeTrigger: 2 });
    const good = hny.newEvent();
    good.add({ ok: true });
    good.metadata = 'good';
    good.sendPresampled();
    const bad = hny.newEvent();
    bad.add({ ok: false });
    bad.metadata = 'bad';
    bad.sampleRate = -3;
    bad.sendPresampled();
    await hny.flush();
    const byMetadata = Object.fromEntries(responses().map((r) => [r.metadata as string, r.status_code]));
    expect(byMetadata).toEqual({ good: 202, bad: 400 });

    const wrong = new Libhoney({ apiHost: server.url, writeKey: 'fsk_wrong', dataset: 'libhoney-bad', batchTimeTrigger: 10 });
    let wrongQueue: Response[] = [];
    wrong.on('response', (q) => {
      wrongQueue = q;
    });
    wrong.sendNow({ ok: 'never' });
    await wrong.flush();
    expect(wrongQueue.map((r) => r.status_code)).toEqual([401]);
    expect(await countBy('libhoney-bad', { breakdowns: ['ok'] })).toEqual([{ ok: true, COUNT: 1 }]);
  });

  it('shows a warning for a value that does not fit its column in the per-item response', async () => {
    // libhoney-js reports each item's `status` and `err` (not `error`, not `warning`): the server
    // repeats the warning in `err`, so a libhoney user sees it as the response's `error`.
    const { hny, responses } = client('libhoney-types', { batchSizeTrigger: 2 });
    hny.sendNow({ duration_ms: 12 });
    await hny.flush();
    const ok = hny.newEvent();
    ok.add({ duration_ms: 15 });
    ok.metadata = 'ok';
    ok.send();
    const odd = hny.newEvent();
    odd.add({ duration_ms: 'fast' });
    odd.metadata = 'odd';
    odd.send();
    await hny.flush();
    const byMetadata = Object.fromEntries(responses().map((r) => [String(r.metadata), r]));
    expect(byMetadata.ok).toMatchObject({ status_code: 202, error: undefined });
    expect(byMetadata.odd?.status_code).toBe(202);
    expect(String(byMetadata.odd?.error)).toContain('"duration_ms" is integer, got the string "fast"');
    expect(String(byMetadata.odd?.error)).toContain('meta.mistyped');
  });
});
