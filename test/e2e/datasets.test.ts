/**
 * End-to-end through the built `bin/flagscope` (run `npm run build` first) against a real server
 * with a default retention: `datasets` in every format (size, time span, retention),
 * `datasets delete` with and without `--yes` (exit 2 when not on a terminal, 3 with "did you mean"
 * for an unknown dataset), `datasets retention` set and shown, and `datasets beacons` shown and set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { callApi } from '../support/api-call.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'flagscope');
const DAY = 86_400_000;

let server: RunningServer;
let dir: string;
let key: string;
const now = Date.now();

async function flagscope(args: string[], input?: string) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    ...(input === undefined ? {} : { input }),
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, NO_COLOR: '1' },
    extendEnv: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function send(dataset: string, times: number[]): Promise<void> {
  const res = await fetch(`${server.url}/1/batch/${dataset}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(times.map((t, i) => ({ time: new Date(t).toISOString(), data: { service: 'api', n: i } }))),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-e2e-datasets-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data'), retentionMs: 30 * DAY });
  key = server.adminKey ?? '';
  await send('shop', [now - 3 * DAY, now - 60_000]);
  await send('scratch', [now - 120_000]);
  await send('doomed', [now - 120_000, now - 60_000]);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flagscope datasets', () => {
  it('prints tab-separated rows with time span, size and retention when piped', async () => {
    const r = await flagscope(['datasets']);
    expect(r.exitCode).toBe(0);
    const shop = r.stdout.split('\n').find((line) => line.startsWith('shop\t'));
    const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, (m) => (m === '.000Z' ? 'Z' : m));
    expect(shop?.split('\t')).toEqual(['shop', '2', '2', iso(now - 3 * DAY), iso(now - 60_000), expect.stringMatching(/^\d+$/), '30d']);
  });

  it('prints the API document with --json, and csv and ndjson records', async () => {
    const json = JSON.parse((await flagscope(['datasets', '--json'])).stdout);
    expect(json.default_retention_ms).toBe(30 * DAY);
    expect(json.storage).toEqual({ file_bytes: expect.any(Number), wal_bytes: expect.any(Number), free_bytes: expect.any(Number) });
    expect(json.datasets.find((d: { name: string }) => d.name === 'shop')).toMatchObject({
      rows: 2,
      first_event_time: new Date(now - 3 * DAY).toISOString(),
      size_bytes: expect.any(Number),
      retention_ms: null,
      effective_retention_ms: 30 * DAY,
    });
    const csv = (await flagscope(['datasets', '--format', 'csv'])).stdout.split(/\r?\n/);
    expect(csv[0]).toBe('name,rows,columns,first_event_time,last_event_time,size_bytes,retention');
    const ndjson = (await flagscope(['datasets', '--format', 'ndjson'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(ndjson.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(['shop', 'scratch']));
  });
});

describe('flagscope datasets delete', () => {
  it('needs --yes when not on a terminal (exit 2, nothing deleted)', async () => {
    const r = await flagscope(['datasets', 'delete', 'doomed'], 'doomed\n');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('`--yes` required to delete dataset doomed when not running interactively');
    expect((await flagscope(['datasets'])).stdout).toMatch(/^doomed\t2\t/m);
  });

  it('exits 3 with "did you mean" for an unknown dataset', async () => {
    const r = await flagscope(['datasets', 'delete', 'dooomed', '--yes']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('did you mean "doomed"');
  });

  it('deletes with --yes', async () => {
    const r = await flagscope(['datasets', 'delete', 'doomed', '--yes']);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'deleted dataset doomed: 2 events' });
    expect((await flagscope(['datasets'])).stdout).not.toMatch(/^doomed\t/m);
    const json = await flagscope(['datasets', 'delete', 'scratch', '--yes', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ dataset: 'scratch', deleted_events: 1, rolled_back_canaries: [] });
  });

  it('refuses a dataset a canary in flight measures (exit 6); --force rolls the canary back to 0% and deletes it', async () => {
    const api = (method: string, path: string, body?: unknown) => callApi(server.url, key, method, path, body);
    const flag = { key: 'cart_v2', service: 'cart', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' };
    expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
    await send('cart', [now - 60_000, now - 30_000]);
    const started = await api('POST', '/api/v1/canaries', {
      flag: 'cart_v2',
      dataset: 'cart',
      guards: ['AVG(n) <= +10%'],
      steps: [5, 100],
    });
    expect(started).toMatchObject({ status: 201, json: { status: 'running', percent: 5 } });

    const refused = await flagscope(['datasets', 'delete', 'cart', '--yes']);
    expect(refused.exitCode).toBe(6);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('error: dataset "cart" measures the canary in flight of cart_v2 (running at 5%)');
    expect(refused.stderr).toContain(
      'hint: abort it first (`flagscope canary abort cart_v2 --reason TEXT`), or pass `--force` to delete the dataset and roll the canary back to 0%',
    );
    expect((await flagscope(['datasets'])).stdout).toMatch(/^cart\t2\t/m);

    const forced = await flagscope(['datasets', 'delete', 'cart', '--yes', '--force']);
    expect(forced).toMatchObject({ exitCode: 0, stdout: 'deleted dataset cart: 2 events; rolled back the canary of cart_v2 to 0%' });
    expect((await api('GET', '/api/v1/canaries/cart_v2')).json).toMatchObject({ status: 'rolled-back', percent: 0 });
    expect((await flagscope(['datasets'])).stdout).not.toMatch(/^cart\t/m);
  });
});

describe('flagscope datasets retention', () => {
  it("shows the server's default, sets one, and goes back to the default", async () => {
    expect((await flagscope(['datasets', 'retention', 'shop'])).stdout).toBe("shop: events kept for 30d (the server's default)");
    const set = await flagscope(['datasets', 'retention', 'shop', '12w']);
    expect(set).toMatchObject({ exitCode: 0, stdout: 'shop: events kept for 84d' });
    expect((await flagscope(['datasets'])).stdout).toMatch(/^shop\t.*\t84d$/m);
    expect(JSON.parse((await flagscope(['datasets', 'retention', 'shop', '--json'])).stdout)).toEqual({
      dataset: 'shop',
      retention_ms: 84 * DAY,
      effective_retention_ms: 84 * DAY,
    });
    expect((await flagscope(['datasets', 'retention', 'shop', 'forever'])).stdout).toBe('shop: events kept forever');
    expect((await flagscope(['datasets', 'retention', 'shop', 'default'])).stdout).toBe("shop: events kept for 30d (the server's default)");
  });

  it('refuses a bad period with exit 2 and an unknown dataset with exit 3', async () => {
    const bad = await flagscope(['datasets', 'retention', 'shop', '10m']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('must be from 1h to 36500d');
    const missing = await flagscope(['datasets', 'retention', 'shpo', '7d']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain('did you mean "shop"');
  });

  it('serve --retention refuses a bad period with exit 2', async () => {
    const r = await flagscope(['serve', '--port', '0', '--data-dir', join(dir, 'other'), '--retention', 'soon']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--retention');
  });
});

describe('flagscope datasets beacons', () => {
  it('shows the defaults, sets origins and the execution id field, keeps what is not given, and empties the origins', async () => {
    expect(await flagscope(['datasets', 'beacons', 'web'])).toMatchObject({
      exitCode: 0,
      stdout: 'web: execution id field execution_id; allowed origins: none (only requests without an Origin header)',
    });
    const set = await flagscope([
      'datasets',
      'beacons',
      'web',
      '--allow-origin',
      'https://shop.example/',
      '--allow-origin',
      'http://127.0.0.1:5173',
    ]);
    expect(set).toMatchObject({
      exitCode: 0,
      stdout: 'web: execution id field execution_id; allowed origins: https://shop.example, http://127.0.0.1:5173',
    });
    await flagscope(['datasets', 'beacons', 'web', '--execution-id-field', 'page.view_id']);
    expect(JSON.parse((await flagscope(['datasets', 'beacons', 'web', '--json'])).stdout)).toEqual({
      dataset: 'web',
      allowed_origins: ['https://shop.example', 'http://127.0.0.1:5173'],
      execution_id_field: 'page.view_id',
    });
    expect((await flagscope(['datasets', 'beacons', 'web', '--allow-origin', 'none'])).stdout).toBe(
      'web: execution id field page.view_id; allowed origins: none (only requests without an Origin header)',
    );
  });

  it('refuses an origin that is not one with exit 2 before any request, and serve a bad --beacon-window', async () => {
    const bad = await flagscope(['datasets', 'beacons', 'web', '--allow-origin', 'https://shop.example/cart']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--allow-origin');
    const window = await flagscope(['serve', '--port', '0', '--data-dir', join(dir, 'other'), '--beacon-window', '2h']);
    expect(window.exitCode).toBe(2);
    expect(window.stderr).toContain('--beacon-window');
  });
});
