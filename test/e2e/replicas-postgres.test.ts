/**
 * Three `bin/flagscope serve` replicas over one PostgreSQL control database, behind a round-robin
 * proxy written here: a press through one replica reaches the others' OFREP and every stream
 * subscriber; 50 concurrent read-modify-write edits lose no update; a revoked key is refused by
 * all; the replica leading the canary controller is killed with SIGKILL mid-ramp and another
 * takes over at the same step, no decision taken twice.
 *
 * Events: DuckDB cannot be shared by processes (and ClickHouse cannot run out of process here),
 * so each replica has its own DuckDB event directory and the traffic generator sends every event
 * to every replica: each replica's canary measurement sees the same events (docs/scale.md).
 * Time here is real (separate processes); waits are polls with a deadline, never fixed sleeps.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresCluster, postgresUnavailable, startPostgres } from '../support/postgres.js';

const bin = fileURLToPath(new URL('../../bin/flagscope', import.meta.url));
const built = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const unavailable = postgresUnavailable();
const FLAG = 'checkout_v2';
const SWITCH = 'payments_off';
const INTERVAL_MS = 4_000;

interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  pid: number;
  exited: Promise<void>;
  stderr: () => string;
}

let cluster: PostgresCluster | undefined;
let controlUrl: string;
let home: string;
let proxy: Server;
let proxyUrl: string;
let adminKey: string;
const replicas: Replica[] = [];

/** Polls `check` every 20 ms until it returns a value other than undefined; fails after `deadlineMs` with `what`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 15_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function serve(name: string): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--control-store', controlUrl, '--event-store', `duckdb:${join(home, name)}`, '--ingest-workers', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: join(home, `config-${name}`), FLAGSCOPE_PROFILE: '', CI: '1' },
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^flagscope listening on (\S+)$/.exec(line);
      if (match !== null) resolve(match[1] as string);
    });
    exited.then(() => reject(new Error(`flagscope serve ${name} exited: ${stderr}`)));
  });
  const replica = { name, child, url, pid: child.pid as number, exited, stderr: () => stderr };
  replicas.push(replica);
  return replica;
}

function alive(): Replica[] {
  return replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
}

/** A round-robin HTTP proxy over the live replicas; a replica that refuses the connection is skipped. */
function startProxy(): Promise<void> {
  let next = 0;
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const attempt = (tries: number): void => {
        const live = alive();
        const target = new URL(live[next++ % live.length]!.url);
        const upstream = request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => (tries > 0 ? attempt(tries - 1) : res.writeHead(502).end()));
        upstream.end(body);
      };
      attempt(replicas.length);
    });
  });
  return new Promise((resolve) =>
    proxy.listen(0, '127.0.0.1', () => {
      const address = proxy.address();
      proxyUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
      resolve();
    }),
  );
}

async function api(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, key = adminKey) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function ofrepVariant(base: string, flag: string): Promise<string> {
  const answer = await api(base, 'POST', `/ofrep/v1/evaluate/flags/${flag}`, { context: { targetingKey: 'u1' } });
  return String(answer.body.variant);
}

/** Runs the built CLI against `base`; resolves with its exit code and output. */
function cli(base: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args, '--api-url', base], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FLAGSCOPE_API_KEY: adminKey, XDG_CONFIG_HOME: join(home, 'config-cli'), CI: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Sends `batch` to every live replica's event store (each has its own; see the file comment). */
async function sendEverywhere(batch: unknown[]): Promise<void> {
  for (const replica of alive()) {
    const res = await fetch(`${replica.url}/1/batch/checkout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    }).catch(() => undefined);
    if (res !== undefined) await res.arrayBuffer();
  }
}

beforeAll(async () => {
  if (unavailable !== undefined) return;
  expect(existsSync(built), 'run `npm run build` before this test').toBe(true);
  cluster = await startPostgres();
  controlUrl = await cluster.createDatabase('replicas');
  home = await mkdtemp(join(tmpdir(), 'flagscope-replicas-'));
  // A deploy pipeline's first step: the schema is created before any replica starts.
  const check = spawnSync(
    process.execPath,
    [bin, 'serve', '--control-store', controlUrl, '--event-store', `duckdb:${join(home, 'A')}`, '--check-stores'],
    {
      env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config-check'), CI: '1' },
      encoding: 'utf8',
    },
  );
  expect(check.status, check.stderr).toBe(0);
  expect(check.stdout).toMatch(/control store: postgres postgres:\/\/.*reachable, schema up to date/);
  const [a] = await Promise.all([serve('A'), serve('B'), serve('C')]);
  expect(a).toBeDefined();
  // One of the three made the admin key (the others found it made) and saved it to its profile.
  for (const name of ['A', 'B', 'C']) {
    const path = join(home, `config-${name}`, 'flagscope', 'config.json');
    if (!existsSync(path)) continue;
    const key = (JSON.parse(await readFile(path, 'utf8')) as { profiles: Record<string, { api_key?: string }> }).profiles.default?.api_key;
    if (key !== undefined) adminKey = key;
  }
  expect(adminKey).toBeDefined();
  await startProxy();
  for (const flag of [
    { key: FLAG, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    {
      key: SWITCH,
      service: 'payments',
      kind: 'kill-switch',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
    },
  ]) {
    expect((await api(proxyUrl, 'POST', '/api/v1/flags', flag)).status).toBe(201);
  }
  // Created through whichever replica the proxy chose: every replica serves both once the feed has brought them.
  for (const replica of replicas) {
    await until(`${replica.name} to serve the new flags`, async () =>
      (await ofrepVariant(replica.url, SWITCH)) === 'live' && (await ofrepVariant(replica.url, FLAG)) === 'off' ? true : undefined,
    );
  }
}, 120_000);

afterAll(async () => {
  for (const replica of replicas) if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.exited));
  await new Promise<void>((resolve) => (proxy === undefined ? resolve() : proxy.close(() => resolve())));
  await cluster?.stop();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

describe.skipIf(unavailable !== undefined)('three replicas over one PostgreSQL', () => {
  it('a press through A is served by B and C and streamed to every subscriber of every replica', { timeout: 60_000 }, async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const streams = await Promise.all(
      [a, b, c].map(async (replica) => {
        const abort = new AbortController();
        const res = await fetch(`${replica.url}/api/v1/stream`, { headers: { authorization: `Bearer ${adminKey}` }, signal: abort.signal });
        expect(res.status).toBe(200);
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        const decoder = new TextDecoder();
        let seen = '';
        const pressed = (async () => {
          while (!/event: flag\ndata: [^\n]*"payments_off"[^\n]*"press"/.test(seen)) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`stream of ${replica.name} ended: ${seen}`);
            seen += decoder.decode(value, { stream: true });
          }
          abort.abort();
          return replica.name;
        })();
        pressed.catch(() => undefined);
        return { pressed };
      }),
    );
    expect(await ofrepVariant(b.url, SWITCH)).toBe('live');
    const press = await api(a.url, 'POST', `/api/v1/flags/${SWITCH}/press`, { reason: 'provider down' });
    expect(press.status).toBe(200);
    await until('B and C to serve the press', async () =>
      (await ofrepVariant(b.url, SWITCH)) === 'off' && (await ofrepVariant(c.url, SWITCH)) === 'off' ? true : undefined,
    );
    expect(await Promise.all(streams.map((s) => s.pressed))).toEqual([a.name, b.name, c.name]);
    expect((await api(c.url, 'POST', `/api/v1/flags/${SWITCH}/release`, { reason: 'recovered' })).status).toBe(200);
    await until('A to serve the release', async () => ((await ofrepVariant(a.url, SWITCH)) === 'live' ? true : undefined));
  });

  it('50 concurrent read-modify-write edits through the proxy: one winner per version, every loser a conflict, no update lost', {
    timeout: 120_000,
  }, async () => {
    const read = await api(proxyUrl, 'GET', `/api/v1/flags/${FLAG}`);
    const v0 = (read.body.flag as { version: number }).version;
    // Every edit read version v0; all write at once, 10 through the CLI (a conflict is exit 6), 40 over HTTP.
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        if (i < 10) {
          const run = await cli(proxyUrl, ['flags', 'set', FLAG, '--description', `edit ${i}`, '--if-version', String(v0)]);
          return { i, won: run.code === 0, conflict: run.code === 6, detail: run.stderr };
        }
        const res = await api(proxyUrl, 'PATCH', `/api/v1/flags/${FLAG}`, { description: `edit ${i}` }, { 'if-match': `"${v0}"` });
        return { i, won: res.status === 200, conflict: res.status === 409 || res.status === 412, detail: JSON.stringify(res.body) };
      }),
    );
    const winners = outcomes.filter((o) => o.won);
    expect(winners, JSON.stringify(outcomes.filter((o) => !o.won && !o.conflict))).toHaveLength(1);
    expect(outcomes.filter((o) => o.conflict)).toHaveLength(49);
    const after = (await api(proxyUrl, 'GET', `/api/v1/flags/${FLAG}`)).body.flag as { version: number; description: string };
    expect(after).toMatchObject({ version: v0 + 1, description: `edit ${winners[0]!.i}` });
    // The losers retry (read again, write again) until each lands: all 49 are in the history.
    await Promise.all(
      outcomes
        .filter((o) => !o.won)
        .map(async (o) => {
          for (;;) {
            const now = (await api(proxyUrl, 'GET', `/api/v1/flags/${FLAG}`)).body.flag as { version: number };
            const res = await api(
              proxyUrl,
              'PATCH',
              `/api/v1/flags/${FLAG}`,
              { description: `retry ${o.i}` },
              { 'if-match': `"${now.version}"` },
            );
            if (res.status === 200) return;
            expect([409, 412]).toContain(res.status);
          }
        }),
    );
    const history = (await api(proxyUrl, 'GET', `/api/v1/flags/${FLAG}/history?limit=200`)).body.history as Array<{
      version?: number;
      after?: { description?: string };
    }>;
    const final = (await api(proxyUrl, 'GET', `/api/v1/flags/${FLAG}`)).body.flag as { version: number };
    expect(final.version).toBe(v0 + 50);
    const descriptions = JSON.stringify(history);
    for (const o of outcomes.filter((x) => !x.won)) expect(descriptions).toContain(`retry ${o.i}`);
  });

  it('a key revoked on A is refused by B and C', { timeout: 60_000 }, async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const created = await api(a.url, 'POST', '/api/v1/keys', { name: 'ci-reader', scopes: ['flags:read'] });
    expect(created.status).toBe(201);
    const { id, key } = created.body as { id: string; key: string };
    await until('B and C to accept the new key', async () =>
      (await api(b.url, 'GET', '/api/v1/whoami', undefined, {}, key)).status === 200 &&
      (await api(c.url, 'GET', '/api/v1/whoami', undefined, {}, key)).status === 200
        ? true
        : undefined,
    );
    expect((await api(a.url, 'DELETE', `/api/v1/keys/${id}`)).status).toBe(200);
    await until('B and C to refuse the revoked key', async () =>
      (await api(b.url, 'GET', '/api/v1/whoami', undefined, {}, key)).status === 401 &&
      (await api(c.url, 'GET', '/api/v1/whoami', undefined, {}, key)).status === 401
        ? true
        : undefined,
    );
  });

  it('kill -9 of the replica leading the canary controller mid-ramp: another takes over at the same step, no decision twice', {
    timeout: 120_000,
  }, async () => {
    const db = new pg.Client({ connectionString: controlUrl });
    await db.connect();
    try {
      const leader = async () => {
        const row = (await db.query<{ holder: string; epoch: string }>("SELECT holder, epoch FROM leases WHERE name = 'canary-controller'"))
          .rows[0];
        return row === undefined ? undefined : { pid: Number(row.holder.split(':')[1]), epoch: Number(row.epoch) };
      };
      await sendEverywhere([
        {
          time: new Date(Date.now() - 60_000).toISOString(),
          data: { [`flag.${FLAG}`]: 'off', status_code: 200, duration_ms: 100, 'user.id': 'u' },
        },
      ]);
      const started = await api(proxyUrl, 'POST', '/api/v1/canaries', {
        flag: FLAG,
        dataset: 'checkout',
        steps: '10,50,100',
        interval: `${INTERVAL_MS / 1000}s`,
        minSample: 5,
        unit: null,
        guards: ['RATE(status_code >= 500) <= +50pp'],
      });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const percent = async (): Promise<number> => {
        const flag = (await api(proxyUrl, 'GET', `/api/v1/flags/${FLAG}`)).body.flag as {
          rollout?: { weights: Array<{ variant: string; weight: number }>; precision: number };
        };
        if (flag.rollout === undefined) return 0;
        return (flag.rollout.weights.find((w) => w.variant === 'on')?.weight ?? 0) / 10 ** flag.rollout.precision;
      };
      let round = 0;
      const trafficUntil = (target: number) =>
        until(
          `the canary to reach ${target}%`,
          async () => {
            const now = await percent();
            if (now === target) return true;
            const canary = Math.round((200 * now) / 100);
            round += 1;
            await sendEverywhere(
              Array.from({ length: 200 }, (_, i) => ({
                data: {
                  [`flag.${FLAG}`]: i < canary ? 'on' : 'off',
                  status_code: 200,
                  duration_ms: 100 + (i % 50),
                  'user.id': `u-${round}-${i}`,
                },
              })),
            );
            return undefined;
          },
          60_000,
        );
      await trafficUntil(50);
      const first = await leader();
      expect(first).toBeDefined();
      const victim = replicas.find((r) => r.pid === first!.pid);
      expect(victim, `the lease holder pid ${first!.pid} is one of the replicas`).toBeDefined();
      victim!.child.kill('SIGKILL');
      await victim!.exited;
      const killedAt = Date.now();
      await trafficUntil(100);
      const second = await leader();
      expect(second!.pid).not.toBe(first!.pid);
      expect(second!.epoch).toBeGreaterThan(first!.epoch);
      // A replica that does not lead reads the canaries again at every tick: its view may be a tick behind.
      const timeline = await until('every replica to show the completed canary', async () => {
        const view = (await api(proxyUrl, 'GET', `/api/v1/canaries/${FLAG}`)).body as {
          timeline: Array<{ kind: string; to: number; at: string; epoch?: number }>;
        };
        const entries = view.timeline.map((e) => ({ ...e, percent: e.to, at: Date.parse(e.at) }));
        return entries.at(-1)?.percent === 100 ? entries : undefined;
      });
      expect(timeline.map((e) => e.percent)).toEqual([10, 50, 100]);
      // Entered 50% once (under the first leader), left it once (under the second), after the whole hold.
      const [, enter, leave] = timeline as [unknown, { at: number; epoch?: number }, { at: number; epoch?: number }];
      expect(enter.epoch).toBe(first!.epoch);
      expect(leave.epoch).toBe(second!.epoch);
      expect(leave.at - enter.at).toBeGreaterThanOrEqual(INTERVAL_MS);
      expect(leave.at).toBeGreaterThan(killedAt - INTERVAL_MS);
    } finally {
      await db.end();
    }
  });
});
