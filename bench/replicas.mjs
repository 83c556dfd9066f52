#!/usr/bin/env node
/**
 * Several replicas (`bin/flagscope serve` processes) over one PostgreSQL control database, each
 * with its own DuckDB event directory (events are not part of these figures):
 *
 * 1. Press → everywhere: a kill switch pressed (then released) through replica A, BENCH_PRESSES
 *    times with only SSE subscribers on B and C (the time until both have streamed it), then as
 *    many times polling B's and C's OFREP every 2 ms (the time until both serve it). p50/p99 of
 *    the slower of B and C (target p99 < 100 ms), and how long A took to answer the press.
 * 2. OFREP throughput of 3 replicas behind a round-robin proxy, as a ratio to 1 replica behind the
 *    same proxy, on this machine (rounds interleaved; autocannon in this process). CPU-bound: the
 *    report gives `os.cpus().length`, and the proxy itself takes CPU.
 * 3. Leader failover: the replica holding the canary controller's lease is killed with SIGKILL;
 *    the time until another replica logs its first tick as leader, in lease periods (3 s; target < 2).
 *
 * Run: npm run build && node bench/replicas.mjs
 * Env: BENCH_PRESSES (default 100), BENCH_SECONDS (per throughput round, default 5),
 *      BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 50), BENCH_FAILOVERS (default 3).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, Agent } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { startPostgres } from './lib/postgres.mjs';

const PRESSES = Number(process.env.BENCH_PRESSES ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 3);
const LEASE_MS = 3000;
const bin = resolve('bin/flagscope');

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const ms = (x) => `${x.toFixed(1)} ms`;

const home = await mkdtemp(join(tmpdir(), 'flagscope-bench-replicas-'));
const cluster = await startPostgres();
const controlUrl = await cluster.createDatabase('replicas');
const replicas = [];
let adminKey;

async function serve(name) {
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--control-store', controlUrl, '--event-store', `duckdb:${join(home, name)}`, '--ingest-workers', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CONFIG_HOME: join(home, `config-${name}`), FLAGSCOPE_PROFILE: '', CI: '1' },
    },
  );
  const replica = { name, child, pid: child.pid, lines: [], alive: true };
  child.once('exit', () => (replica.alive = false));
  createInterface({ input: child.stderr }).on('line', (line) => replica.lines.push({ at: performance.now(), line }));
  replica.url = await new Promise((ok, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^flagscope listening on (\S+)$/.exec(line);
      if (match) ok(match[1]);
    });
    child.once('exit', () => fail(new Error(`${name} exited: ${replica.lines.map((l) => l.line).join('\n')}`)));
  });
  replicas.push(replica);
  return replica;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
/** A round-robin proxy over `targets()`, in this process. */
function startProxy(targets) {
  let next = 0;
  const server = createServer((req, res) => {
    const live = targets();
    const target = new URL(live[next++ % live.length].url);
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

async function api(base, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? {} : JSON.parse(text);
}

const ofrepBody = JSON.stringify({ context: { targetingKey: 'u1' } });
async function variant(base, key) {
  const res = await fetch(`${base}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: ofrepBody,
  });
  return (await res.json()).variant;
}

/** An SSE subscriber that resolves `next(predicate)` when an event matching it arrives. */
async function subscribe(base) {
  const res = await fetch(`${base}/api/v1/stream`, { headers: { authorization: `Bearer ${adminKey}` } });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const waiters = [];
  let buffer = '';
  (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const at = performance.now();
        for (const w of waiters.splice(0)) w.match(event) ? w.ok(at) : waiters.push(w);
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  return { next: (match) => new Promise((ok) => waiters.push({ match, ok })) };
}

async function pollUntil(base, key, expected) {
  while ((await variant(base, key)) !== expected) await new Promise((ok) => setTimeout(ok, 2));
  return performance.now();
}

try {
  const [a] = [await serve('A')];
  await Promise.all([serve('B'), serve('C')]);
  const config = JSON.parse(await readFile(join(home, 'config-A', 'flagscope', 'config.json'), 'utf8'));
  adminKey = config.profiles.default.api_key;
  const [, b, c] = replicas;
  await api(a.url, 'POST', '/api/v1/flags', {
    key: 'payments_off',
    service: 'payments',
    kind: 'kill-switch',
    variants: { live: true, off: false },
    defaultVariant: 'live',
    safeVariant: 'off',
  });
  await api(a.url, 'POST', '/api/v1/flags', {
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    rollout: { on: 25, off: 75 },
  });
  await pollUntil(b.url, 'payments_off', 'live');
  await pollUntil(c.url, 'payments_off', 'live');

  // 1. Press on A → SSE on B and C (nothing else running), then → OFREP on B and C (polled every 2 ms).
  const streams = await Promise.all([subscribe(b.url), subscribe(c.url)]);
  const ofrepMs = [];
  const sseMs = [];
  const pressMs = [];
  for (let i = 0; i < 2 * PRESSES; i++) {
    const verb = i % 2 === 0 ? 'press' : 'release';
    const expected = verb === 'press' ? 'off' : 'live';
    const bySse = i < PRESSES;
    const streamed = streams.map((s) => s.next((event) => event.includes('"payments_off"') && event.includes(`"${verb}"`)));
    const start = performance.now();
    const sent = api(a.url, 'POST', `/api/v1/flags/payments_off/${verb}`, { reason: `bench ${i}` }).then(() => performance.now());
    if (bySse) sseMs.push(Math.max(...(await Promise.all(streamed))) - start);
    else {
      const [seenB, seenC] = await Promise.all([pollUntil(b.url, 'payments_off', expected), pollUntil(c.url, 'payments_off', expected)]);
      ofrepMs.push(Math.max(seenB, seenC) - start);
    }
    pressMs.push((await sent) - start);
    await Promise.all(streamed);
  }
  console.log(`cpus: ${cpus().length}`);
  console.log(`press answered by A (commit, NOTIFY, A's own feed): p50 ${ms(percentile(pressMs, 50))}, p99 ${ms(percentile(pressMs, 99))}`);
  console.log(
    `press on A → streamed by both B and C over SSE (${PRESSES} presses and releases): p50 ${ms(percentile(sseMs, 50))}, p99 ${ms(percentile(sseMs, 99))}, max ${ms(Math.max(...sseMs))}`,
  );
  console.log(
    `press on A → served by both B and C over OFREP (${PRESSES}, polled every 2 ms): p50 ${ms(percentile(ofrepMs, 50))}, p99 ${ms(percentile(ofrepMs, 99))}, max ${ms(Math.max(...ofrepMs))}`,
  );

  // 2. OFREP throughput: 3 replicas behind the proxy vs 1 behind the same proxy.
  const three = await startProxy(() => replicas.filter((r) => r.alive));
  const one = await startProxy(() => [a]);
  const run = (url) =>
    new Promise((ok, fail) =>
      autocannon(
        {
          url: `${url}/ofrep/v1/evaluate/flags/new-checkout`,
          method: 'POST',
          headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
          body: ofrepBody,
          connections: CONNECTIONS,
          duration: SECONDS,
        },
        (e, result) => (e ? fail(e) : ok(result.requests.average)),
      ),
    );
  await run(three.url);
  await run(one.url);
  const ratios = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, the first of each pair alternating.
    let threeRps;
    let oneRps;
    if (round % 2 === 0) {
      threeRps = await run(three.url);
      oneRps = await run(one.url);
    } else {
      oneRps = await run(one.url);
      threeRps = await run(three.url);
    }
    ratios.push({ three: threeRps, one: oneRps, ratio: threeRps / oneRps });
  }
  for (const r of ratios)
    console.log(`  round: 3 replicas ${r.three.toFixed(0)} req/s, 1 replica ${r.one.toFixed(0)} req/s, ratio ${r.ratio.toFixed(2)}`);
  console.log(
    `OFREP throughput, 3 replicas / 1 replica behind the same proxy: median ratio ${percentile(
      ratios.map((r) => r.ratio),
      50,
    ).toFixed(2)} on ${cpus().length} CPUs`,
  );
  three.server.close();
  one.server.close();

  // 3. Failover: kill -9 the leader, time to another replica's first tick as leader.
  const db = await import('pg');
  const client = new db.default.Client({ connectionString: controlUrl });
  await client.connect();
  const periods = [];
  for (let i = 0; i < FAILOVERS; i++) {
    const { rows } = await client.query("SELECT holder, epoch FROM leases WHERE name = 'canary-controller'");
    const epoch = Number(rows[0].epoch);
    const pid = Number(rows[0].holder.split(':')[1]);
    const leader = replicas.find((r) => r.pid === pid && r.alive);
    const killedAt = performance.now();
    leader.child.kill('SIGKILL');
    let took;
    while (took === undefined) {
      for (const r of replicas.filter((x) => x.alive)) {
        const hit = r.lines.find((l) => l.at >= killedAt && new RegExp(`leading as .* \\(epoch ${epoch + 1}\\)`).test(l.line));
        if (hit) took = hit.at - killedAt;
      }
      await new Promise((ok) => setTimeout(ok, 5));
    }
    periods.push(took / LEASE_MS);
    console.log(`  failover ${i + 1}: ${ms(took)} = ${(took / LEASE_MS).toFixed(2)} lease periods`);
    await serve(`R${i}`);
  }
  await client.end();
  console.log(
    `leader failover (kill -9 → next tick as leader), ${FAILOVERS} times: median ${percentile(periods, 50).toFixed(2)}, max ${Math.max(...periods).toFixed(2)} lease periods of ${LEASE_MS} ms`,
  );
} finally {
  for (const r of replicas) if (r.alive) r.child.kill('SIGKILL');
  await cluster.stop();
  await rm(home, { recursive: true, force: true });
  agent.destroy();
}
process.exit(0);
