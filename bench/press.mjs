#!/usr/bin/env node
/**
 * Press-to-visible benchmark: for BENCH_PRESSES alternating presses and
 * releases of a kill switch, the time from the start of the press (or
 * release) request until
 *   (a) an OFREP evaluation returns the new variant (evaluations are sent
 *       back to back from the moment the press starts, on their own
 *       connection), and
 *   (b) an SSE subscriber of GET /api/v1/stream receives the change.
 * The server runs in a child process; the clients run here.
 *
 * Target: p99 < 20 ms for both, on loopback.
 *
 * Run: npm run build && node bench/press.mjs
 * Env: BENCH_PRESSES (default 200), BENCH_DIST (built code, default dist).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PRESSES = Number(process.env.BENCH_PRESSES ?? 200);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');
const KEY = 'payments-off';

async function serve() {
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-bench-press-'));
  const { startServer } = await import(join(DIST, 'server/index.js'));
  const server = await startServer({ dataDir: dir, port: 0 });
  const admin = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
  const created = await fetch(`${server.url}/api/v1/flags`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({
      key: KEY,
      service: 'checkout',
      kind: 'kill-switch',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
      rollout: { live: 100, off: 0 },
    }),
  });
  if (created.status !== 201) throw new Error(await created.text());
  process.on('disconnect', async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  });
  process.send({ url: server.url, key: server.adminKey });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(name, values) {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  return {
    line: `${name}: median ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms (target p99 < 20 ms) ${p99 < 20 ? 'PASS' : 'FAIL'}`,
    p99,
  };
}

async function measure(url, apiKey) {
  const { Agent, request } = await import('undici');
  const pressAgent = new Agent({ connections: 1 });
  const evalAgent = new Agent({ connections: 1 });
  const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

  const sseEvents = [];
  let sseWaiter;
  const stream = await request(`${url}/api/v1/stream`, { headers: auth, dispatcher: new Agent({ connections: 1 }) });
  let buffered = '';
  stream.body.on('data', (chunk) => {
    const at = performance.now();
    buffered += chunk.toString('utf8');
    let end;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (!message.includes('event: flag')) continue;
      const action = /"action":"(\w+)"/.exec(message)?.[1];
      sseEvents.push({ action, at });
      sseWaiter?.();
    }
  });

  const evaluate = async () => {
    const res = await request(`${url}/ofrep/v1/evaluate/flags/${KEY}`, {
      method: 'POST',
      headers: auth,
      body: '{"context":{"targetingKey":"user-1"}}',
      dispatcher: evalAgent,
    });
    return (await res.body.json()).variant;
  };
  const toOfrep = [];
  const toSse = [];
  for (let i = 0; i < 5; i++) await evaluate();
  for (let i = 0; i < PRESSES; i++) {
    const verb = i % 2 === 0 ? 'press' : 'release';
    const expected = verb === 'press' ? 'off' : 'live';
    const seen = sseEvents.length;
    const sseArrived = new Promise((resolvePromise) => {
      sseWaiter = () => {
        if (sseEvents.length > seen) resolvePromise();
      };
    });
    const started = performance.now();
    const pressed = request(`${url}/api/v1/flags/${KEY}/${verb}`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ reason: `bench ${i}` }),
      dispatcher: pressAgent,
    }).then((r) => r.body.json());
    let visibleAt;
    while (visibleAt === undefined) {
      if ((await evaluate()) === expected) visibleAt = performance.now();
    }
    const response = await pressed;
    if (process.env.BENCH_DEBUG) console.log(verb, (performance.now() - started).toFixed(2), (visibleAt - started).toFixed(2));
    if (response.changed !== true) throw new Error(`${verb} ${i} did not change the flag`);
    await sseArrived;
    toOfrep.push(visibleAt - started);
    toSse.push(sseEvents[seen].at - started);
  }
  stream.body.destroy();
  await Promise.all([pressAgent.close(), evalAgent.close()]);
  return { toOfrep, toSse };
}

if (process.argv[2] === '--serve') {
  await serve();
} else {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const info = await new Promise((resolvePromise, reject) => {
    child.once('message', resolvePromise);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  console.log(`press to visible: ${PRESSES} alternating presses and releases of a kill switch on loopback`);
  const { toOfrep, toSse } = await measure(info.url, info.key);
  const a = summary('(a) OFREP evaluation serves the new variant', toOfrep);
  const b = summary('(b) SSE subscriber receives the change', toSse);
  console.log(a.line);
  console.log(b.line);
  child.disconnect();
}
