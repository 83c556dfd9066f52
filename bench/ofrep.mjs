#!/usr/bin/env node
/**
 * OFREP benchmark: single-flag evaluation throughput
 * (`POST /ofrep/v1/evaluate/flags/{key}`, key check, body parse, targeting and
 * rollout, JSON answer) on loopback, as a ratio to a bare `node:http` server
 * answering a fixed JSON body of the same size, in the same run. Each server
 * runs in its own forked child process of this script (same node, same flags);
 * autocannon runs here with the same settings for both (connections,
 * pipelining 1, duration, same request). Rounds interleave the two servers,
 * the first of each pair alternating, after one short warm-up of each; the
 * report gives every round's ratio, the median of the round ratios, and the
 * ratio of the best rounds.
 *
 * Target: flagscope / bare >= 0.7 (issue 13: toward 0.9).
 *
 * A third server, measured in the same rounds (BENCH_MINIMAL=0 leaves it out), marks how near
 * the work itself lets a server come: a plain `node:http` handler in a process of its own that
 * does only what the request needs (compares the key header, reads the body, JSON.parse,
 * flagscope's own evaluateFlag and prepared answer), without routing, the body policy, the
 * stores or anything else of a server. flagscope / minimal is the cost of being a server.
 *
 * Then bulk evaluation (`POST /ofrep/v1/evaluate/flags`) of BENCH_FLAGS live flags (default
 * 50: the flag above and others without targeting, with `if`/`in` targeting, with a rollout)
 * for the same context, against single-flag requests to the same server, interleaved the same
 * way: the report gives the median of the round ratios of bulk to single-flag time per
 * request (how many single-flag requests one bulk answer costs).
 *
 * Run: npm run build && node bench/ofrep.mjs
 * Env: BENCH_SECONDS (per round, default 5), BENCH_ROUNDS (default 5),
 *      BENCH_CONNECTIONS (default 50), BENCH_DIST (built code, default dist),
 *      BENCH_BULK=0 (the single-flag part only).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');
const FLAGS = Number(process.env.BENCH_FLAGS ?? 50);
const BULK = process.env.BENCH_BULK !== '0';
const MINIMAL = process.env.BENCH_MINIMAL !== '0';

/** The other flags of the bulk answer: a third static, a third targeted, a third rolled out. */
function otherFlag(i) {
  const base = {
    key: `flag-${String(i).padStart(2, '0')}`,
    service: 'bench',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
  };
  if (i % 3 === 0) return base;
  if (i % 3 === 1) return { ...base, targeting: { if: [{ in: [{ var: 'country' }, ['de', 'fr', 'nl']] }, 'on', null] } };
  return { ...base, rollout: { on: 10 + (i % 80), off: 90 - (i % 80) } };
}

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
  // The parent asks for this process's CPU time (user + system, all threads) around each round.
  process.on('message', (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send({ cpuMicros: user + system });
    }
  });
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
  if (kind === 'minimal') {
    const { evaluateFlag, validateFlag } = await import(join(DIST, 'flags/index.js'));
    const { ofrepAnswer } = await import(join(DIST, 'server/ofrep/evaluation.js'));
    const at = '2026-01-01T00:00:00Z';
    const flag = validateFlag({
      ...FLAG,
      version: 1,
      state: 'enabled',
      createdAt: at,
      updatedAt: at,
      createdBy: 'bench',
      updatedBy: 'bench',
    });
    const flags = new Map([[FLAG.key, flag]]);
    const authorization = `Bearer ${process.env.BENCH_KEY}`;
    const prefix = '/ofrep/v1/evaluate/flags/'.length;
    const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
      if (req.headers.authorization !== authorization) {
        res.writeHead(401, { 'content-length': 0 });
        res.end();
        return;
      }
      let body;
      req.on('data', (chunk) => {
        body = body === undefined ? chunk : Buffer.concat([body, chunk]);
      });
      req.on('end', () => {
        const context = JSON.parse(body.toString('utf8')).context;
        const key = req.url.slice(prefix);
        const answer = ofrepAnswer(key, evaluateFlag(flags.get(key), context, undefined, { timestamp: Math.floor(Date.now() / 1000) }));
        res.writeHead(answer.status, answer.head);
        res.end(answer.text);
      });
    });
    server.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${server.address().port}` }));
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-bench-ofrep-'));
  const { startServer } = await import(join(DIST, 'server/index.js'));
  const server = await startServer({ dataDir: dir, port: 0 });
  const admin = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
  const key = (
    await (
      await fetch(`${server.url}/api/v1/keys`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'bench', scopes: ['flags:read'] }),
      })
    ).json()
  ).key;
  await fetch(`${server.url}/api/v1/flags`, { method: 'POST', headers: admin, body: JSON.stringify(FLAG) });
  for (let i = 1; i < FLAGS; i++) {
    const created = await fetch(`${server.url}/api/v1/flags`, { method: 'POST', headers: admin, body: JSON.stringify(otherFlag(i)) });
    if (created.status !== 201 && created.status !== 200) throw new Error(`creating flag ${i}: ${created.status} ${await created.text()}`);
  }
  const answer = await fetch(`${server.url}/ofrep/v1/evaluate/flags/${FLAG.key}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: REQUEST_BODY,
  });
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
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolvePromise, reject) => {
    child.once('message', (info) => resolvePromise({ child, ...info }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

async function load(url, path, headers, seconds = SECONDS) {
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({
    url: url + path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: REQUEST_BODY,
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${bad} failed requests against ${url}${path}`);
  return { rate: result.requests.average, total: result.requests.total };
}

/** CPU microseconds a server child has used so far. */
function cpuOf(server) {
  return new Promise((resolvePromise) => {
    server.child.once('message', (message) => resolvePromise(message.cpuMicros));
    server.child.send('cpu');
  });
}

/** Requests per second of one round, and the server's CPU microseconds per request in it. */
async function measure(server, run, seconds) {
  const cpuBefore = await cpuOf(server);
  const { rate, total } = await run(seconds);
  const cpuAfter = await cpuOf(server);
  return { rate, cpuPerRequest: (cpuAfter - cpuBefore) / total };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]);
} else {
  const { loadavg } = await import('node:os');
  const flagscope = await start('flagscope');
  const bare = await start('bare', { BENCH_BODY: flagscope.body });
  const minimal = MINIMAL ? await start('minimal', { BENCH_KEY: flagscope.key }) : undefined;
  const path = '/ofrep/v1/evaluate/flags/new-checkout';
  // The same request bytes to both, key header included.
  const headers = { authorization: `Bearer ${flagscope.key}` };
  const runBare = (seconds) => measure(bare, (s) => load(bare.url, path, headers, s), seconds);
  const runFlagscope = (seconds) => measure(flagscope, (s) => load(flagscope.url, path, headers, s), seconds);
  const runMinimal = (seconds) => measure(minimal, (s) => load(minimal.url, path, headers, s), seconds);
  if (minimal !== undefined) {
    const check = await fetch(minimal.url + path, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: REQUEST_BODY,
    });
    const text = await check.text();
    if (text !== flagscope.body) throw new Error(`the minimal server answered ${text}, flagscope ${flagscope.body}`);
  }
  const before = loadavg()[0];
  console.log(`OFREP single-flag evaluation: ${CONNECTIONS} connections, pipelining 1, ${ROUNDS} interleaved rounds of ${SECONDS}s each`);
  console.log(`response body (${Buffer.byteLength(flagscope.body)} bytes): ${flagscope.body}`);
  // Warm both (JIT, connection setup) before anything counts.
  await runBare(1);
  await runFlagscope(1);
  if (minimal !== undefined) await runMinimal(1);
  const minimalRatios = [];
  const minimalCpu = [];
  const bareRates = [];
  const flagscopeRates = [];
  const ratios = [];
  const bareCpu = [];
  const flagscopeCpu = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Odd rounds run bare, flagscope (, minimal); even rounds the reverse.
    const runs = minimal === undefined ? [runBare, runFlagscope] : [runBare, runFlagscope, runMinimal];
    const order = round % 2 === 1 ? runs : [...runs].reverse();
    const results = new Map();
    for (const run of order) results.set(run, await run());
    const b = results.get(runBare);
    const f = results.get(runFlagscope);
    const m = results.get(runMinimal);
    if (m !== undefined) {
      minimalRatios.push(m.rate / b.rate);
      minimalCpu.push(m.cpuPerRequest);
    }
    bareRates.push(b.rate);
    flagscopeRates.push(f.rate);
    ratios.push(f.rate / b.rate);
    bareCpu.push(b.cpuPerRequest);
    flagscopeCpu.push(f.cpuPerRequest);
    console.log(
      `round ${round}: bare node:http ${Math.round(b.rate)} req/s (${b.cpuPerRequest.toFixed(1)} µs CPU/req), ` +
        `flagscope OFREP ${Math.round(f.rate)} req/s (${f.cpuPerRequest.toFixed(1)} µs CPU/req), ratio ${(f.rate / b.rate).toFixed(2)}` +
        (m === undefined
          ? ''
          : `; minimal ${Math.round(m.rate)} req/s (${m.cpuPerRequest.toFixed(1)} µs CPU/req), ratio ${(m.rate / b.rate).toFixed(2)}`),
    );
  }
  const after = loadavg()[0];
  const medianRatio = median(ratios);
  const bestRatio = Math.max(...flagscopeRates) / Math.max(...bareRates);
  console.log(
    `median: bare ${Math.round(median(bareRates))} req/s, flagscope ${Math.round(median(flagscopeRates))} req/s, median of round ratios ${medianRatio.toFixed(2)}`,
  );
  console.log(
    `best:   bare ${Math.round(Math.max(...bareRates))} req/s, flagscope ${Math.round(Math.max(...flagscopeRates))} req/s, ratio ${bestRatio.toFixed(2)}`,
  );
  console.log(
    `server CPU per request (median): bare ${median(bareCpu).toFixed(1)} µs, flagscope ${median(flagscopeCpu).toFixed(1)} µs, bare/flagscope ${(median(bareCpu) / median(flagscopeCpu)).toFixed(2)}`,
  );
  // Each round's two servers ran in the same minute: their CPU ratio moves least with the machine's load.
  const cpuRatios = bareCpu.map((b, i) => b / flagscopeCpu[i]);
  console.log(
    `bare/flagscope CPU per request, median of round ratios ${median(cpuRatios).toFixed(2)} (${cpuRatios.map((r) => r.toFixed(2)).join(', ')})`,
  );
  if (minimal !== undefined) {
    console.log(
      `minimal handler / bare, median of round ratios ${median(minimalRatios).toFixed(2)} (CPU/req ${median(minimalCpu).toFixed(1)} µs); ` +
        `flagscope / minimal ${(medianRatio / median(minimalRatios)).toFixed(2)}`,
    );
  }
  console.log(`load average (1 min) ${before.toFixed(2)} before, ${after.toFixed(2)} after`);
  console.log(`target median ratio >= 0.7: ${medianRatio >= 0.7 ? 'PASS' : 'FAIL'}`);
  if (minimal !== undefined) {
    minimal.child.disconnect();
    minimal.child.kill();
  }
  if (!BULK) {
    bare.child.disconnect();
    flagscope.child.disconnect();
    bare.child.kill();
    process.exit(0);
  }

  const bulkPath = '/ofrep/v1/evaluate/flags';
  const bulkAnswer = await fetch(flagscope.url + bulkPath, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: REQUEST_BODY,
  });
  const bulkFlags = (await bulkAnswer.json()).flags.length;
  const runBulk = (seconds) => measure(flagscope, (s) => load(flagscope.url, bulkPath, headers, s), seconds);
  console.log(
    `OFREP bulk evaluation of ${bulkFlags} flags vs single-flag requests, same server, ${ROUNDS} interleaved rounds of ${SECONDS}s each`,
  );
  await runBulk(1);
  const costs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    let single;
    let bulk;
    if (round % 2 === 1) {
      single = await runFlagscope();
      bulk = await runBulk();
    } else {
      bulk = await runBulk();
      single = await runFlagscope();
    }
    costs.push(single.rate / bulk.rate);
    console.log(
      `round ${round}: single ${Math.round(single.rate)} req/s (${single.cpuPerRequest.toFixed(1)} µs CPU/req), ` +
        `bulk ${Math.round(bulk.rate)} req/s (${bulk.cpuPerRequest.toFixed(1)} µs CPU/req), bulk / single time per request ${(single.rate / bulk.rate).toFixed(2)}`,
    );
  }
  console.log(`bulk of ${bulkFlags} flags / single-flag request, median of round ratios ${median(costs).toFixed(2)}`);
  bare.child.disconnect();
  flagscope.child.disconnect();
  bare.child.kill();
}
