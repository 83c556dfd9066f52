#!/usr/bin/env node
/**
 * OFREP benchmark: single-flag evaluation throughput
 * (`POST /ofrep/v1/evaluate/flags/{key}`, key check, body parse, targeting and
 * rollout, JSON answer) on loopback, as a ratio to a bare `node:http` server
 * answering a fixed JSON body of the same size, in the same run. Each server
 * runs in its own child process; autocannon runs here. Rounds alternate bare
 * and flagscope, and the best round of each is kept.
 *
 * Target: flagscope / bare >= 0.7.
 *
 * Run: npm run build && node bench/ofrep.mjs
 * Env: BENCH_SECONDS (per round, default 5), BENCH_ROUNDS (default 3),
 *      BENCH_CONNECTIONS (default 50), BENCH_DIST (built code, default dist).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');

const FLAG = {
  key: 'new-checkout',
  service: 'checkout',
  kind: 'release',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  targeting: { if: [{ in: [{ var: 'country' }, ['xx', 'yy']] }, 'on', null] },
  rollout: { on: 25, off: 75 },
};
const REQUEST_BODY = JSON.stringify({ context: { targetingKey: 'user-12345', country: 'de', plan: 'pro' } });

/** Child: serve one kind and report `{url, key, body}` to the parent. */
async function serve(kind) {
  if (kind === 'bare') {
    const body = process.env.BENCH_BODY;
    const length = Buffer.byteLength(body);
    const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
        res.end(body);
      });
    });
    server.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-bench-ofrep-'));
  const { startServer } = await import(join(DIST, 'server/index.js'));
  const server = await startServer({ dataDir: dir, port: 0 });
  const admin = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
  const key = (await (await fetch(`${server.url}/api/v1/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'bench', scopes: ['flags:read'] }) })).json()).key;
  await fetch(`${server.url}/api/v1/flags`, { method: 'POST', headers: admin, body: JSON.stringify(FLAG) });
  const answer = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${FLAG.key}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: REQUEST_BODY });
  const body = await answer.text();
  if (answer.status !== 200) throw new Error(`OFREP answered ${answer.status}: ${body}`);
  process.on('disconnect', async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  });
  process.send({ url: server.url, key, body });
}

function start(kind, env = {}) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolvePromise, reject) => {
    child.once('message', (info) => resolvePromise({ child, ...info }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

async function load(url, path, headers) {
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url: url + path, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: REQUEST_BODY, connections: CONNECTIONS, duration: SECONDS });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${bad} failed requests against ${url}${path}`);
  return result.requests.average;
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]);
} else {
  const flagscope = await start('flagscope');
  const bare = await start('bare', { BENCH_BODY: flagscope.body });
  console.log(`OFREP single-flag evaluation: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS}s each, best round kept`);
  console.log(`response body (${Buffer.byteLength(flagscope.body)} bytes): ${flagscope.body}`);
  let bestBare = 0;
  let bestFlagscope = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const b = await load(bare.url, '/ofrep/v1/evaluate/flags/new-checkout', {});
    const f = await load(flagscope.url, '/ofrep/v1/evaluate/flags/new-checkout', { authorization: `Bearer ${flagscope.key}` });
    bestBare = Math.max(bestBare, b);
    bestFlagscope = Math.max(bestFlagscope, f);
    console.log(`round ${round}: bare node:http ${Math.round(b)} req/s, flagscope OFREP ${Math.round(f)} req/s, ratio ${(f / b).toFixed(2)}`);
  }
  const ratio = bestFlagscope / bestBare;
  console.log(`best: bare ${Math.round(bestBare)} req/s, flagscope ${Math.round(bestFlagscope)} req/s, ratio ${ratio.toFixed(2)} (target >= 0.7) ${ratio >= 0.7 ? 'PASS' : 'FAIL'}`);
  bare.child.disconnect();
  flagscope.child.disconnect();
  bare.child.kill();
}
