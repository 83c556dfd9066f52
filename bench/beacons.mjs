#!/usr/bin/env node
/**
 * Beacon benchmark (issue 12). Two figures, each against the real server in its own process
 * (bench/lib/server-child.mjs) over loopback:
 *
 * 1. Stitching rate: EXECUTIONS page views, each sent as two beacons (`start`, then `end`, one
 *    request each, as a page sends them) to POST /1/beacons/bench, from CLIENTS concurrent
 *    clients, with a 1 s window; against its peer in the same run, the same number of finished
 *    events (each the union of its two beacons' fields) sent one per request to POST /1/batch/bench,
 *    as an end-only client sends a page view. Both times run from the first request until the
 *    server has closed (every execution stitched and committed, the final checkpoint done); the
 *    beacon run is then checked: a restart on its data dir finds EXECUTIONS complete events.
 *    Figure: executions stitched per second / finished events stored per second (target >= 0.5).
 * 2. Memory: the server's RSS (VmRSS) once OPEN executions (default 100,000) are in flight (a
 *    start beacon each, about 600 bytes of fields, window 1 h), minus its RSS idle after start
 *    (target < 200 MB).
 *
 * Run: npm run build && node bench/beacons.mjs
 * Env: BENCH_EXECUTIONS (default 20000), BENCH_CLIENTS (16), BENCH_BATCH (items per request on both
 *      sides, default 1; with N > 1 a request carries the start beacons of N executions, the next their
 *      end beacons, against N finished events per batch), BENCH_ROUNDS (2, interleaved, best
 *      kept), BENCH_OPEN (100000), BENCH_SKIP (comma list of: rate, memory), BENCH_DIR
 *      (scratch, bench/.data/beacons), BENCH_NODE_ARGS ('--cpu-prof --cpu-prof-dir=DIR' profiles the servers).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatRate, runConcurrently, timed } from './lib/measure.mjs';

const EXECUTIONS = Number(process.env.BENCH_EXECUTIONS ?? 20_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
/** Items per request on both sides: 1 is a page's shape (a beacon, or a finished event, per request); at most 80 (a beacon body's 64 KiB). */
const BATCH = Math.min(80, Math.max(1, Number(process.env.BENCH_BATCH ?? 1)));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const OPEN = Number(process.env.BENCH_OPEN ?? 100_000);
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/beacons');

if (!existsSync(fileURLToPath(new URL('../dist/server/index.js', import.meta.url)))) {
  console.log('beacons benchmark skipped: the server is not built (npm run build)');
  process.exit(0);
}
const { request, Agent } = await import('undici');

const FLAGS = ['new_cart', 'fast_search', 'dark_mode', 'one_click', 'reco_v2', 'lazy_img', 'edge_cache', 'promo_banner'];
const ROUTES = ['/', '/search', '/product/:id', '/cart', '/checkout', '/account'];
const BROWSERS = ['chrome', 'firefox', 'safari', 'edge'];

/** The start and end beacons of page view `i` (deterministic). */
function beaconsOf(i, tag) {
  const id = `${tag}-${i}`;
  const start = {
    execution_id: id,
    'beacon.phase': 'start',
    'beacon.seq': 0,
    'beacon.time': 1_767_225_600_000 + i,
    'page.route': ROUTES[i % ROUTES.length],
    'page.url': `https://shop.example${ROUTES[i % ROUTES.length].replace(':id', String(i % 977))}?ref=bench`,
    'user.id': `u-${i % 5003}`,
    'user.country': ['DE', 'FR', 'US', 'BR', 'JP'][i % 5],
    'browser.name': BROWSERS[i % BROWSERS.length],
    'browser.version': `${120 + (i % 7)}.0.${i % 100}`,
    'device.type': i % 3 === 0 ? 'mobile' : 'desktop',
    'connection.effective_type': i % 4 === 0 ? '3g' : '4g',
    ...Object.fromEntries(FLAGS.map((flag, f) => [`flag.${flag}`, (i >> f) & 1 ? 'on' : 'off'])),
  };
  const end = {
    execution_id: id,
    'beacon.phase': 'end',
    'beacon.seq': 1,
    'beacon.time': 1_767_225_600_000 + i + 1_000 + (i % 3_000),
    lcp: 800 + (i % 2_500),
    inp: 40 + (i % 300),
    cls: (i % 25) / 100,
    fcp: 300 + (i % 1_200),
    ttfb: 50 + (i % 400),
    'lcp.element': 'img.hero',
    'inp.target': 'button#buy',
    'lcp.url': 'https://cdn.shop.example/hero.avif',
  };
  return { start, end };
}

/** A finished event: what an end-only client sends for the same page view. */
function finishedOf(i, tag) {
  const { start, end } = beaconsOf(i, tag);
  const data = { ...start, ...end, duration_ms: end['beacon.time'] - start['beacon.time'] };
  delete data['beacon.phase'];
  delete data['beacon.seq'];
  delete data['beacon.time'];
  return data;
}

async function startServer(dataDir, options = {}) {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(new URL('./lib/server-child.mjs', import.meta.url)), dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_SERVER_OPTIONS: JSON.stringify(options) },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { url, adminKey } = JSON.parse((await lines.next()).value);
  const close = async () => {
    child.kill('SIGTERM');
    const closed = await lines.next();
    if (closed.done || !JSON.parse(closed.value).closed) throw new Error('the server did not close cleanly');
  };
  return { child, url, key: adminKey, close };
}

/** POSTs `body` until it is not refused with 429; returns the parsed answer. */
async function post(agent, url, key, body, contentType, expected) {
  for (;;) {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-honeycomb-team': key },
      body,
      dispatcher: agent,
    });
    const text = await response.body.text();
    if (response.statusCode === 429) {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    if (response.statusCode !== expected) throw new Error(`${url} answered ${response.statusCode}: ${text.slice(0, 200)}`);
    const items = JSON.parse(text);
    if (!items.every((o) => o.status === 202)) throw new Error(`refused items: ${text.slice(0, 300)}`);
    return items;
  }
}

async function measureBatch(round) {
  const dir = join(DIR, `batch-${round}`);
  await rm(dir, { recursive: true, force: true });
  const bodies = [];
  for (let i = 0; i < EXECUTIONS; i += BATCH) {
    const items = Array.from({ length: Math.min(BATCH, EXECUTIONS - i) }, (_, k) => ({ data: finishedOf(i + k, `b${round}`) }));
    bodies.push(JSON.stringify(items));
  }
  const server = await startServer(dir);
  const agent = new Agent({ connections: CLIENTS, pipelining: 1 });
  const { ms } = await timed(async () => {
    await runConcurrently(bodies, CLIENTS, (body) => post(agent, `${server.url}/1/batch/bench`, server.key, body, 'application/json', 200));
    await server.close();
  });
  await agent.close();
  return ms;
}

async function measureBeacons(round) {
  const dir = join(DIR, `beacons-${round}`);
  await rm(dir, { recursive: true, force: true });
  const pairs = [];
  for (let i = 0; i < EXECUTIONS; i += BATCH) {
    const both = Array.from({ length: Math.min(BATCH, EXECUTIONS - i) }, (_, k) => beaconsOf(i + k, `x${round}`));
    pairs.push(
      BATCH === 1
        ? [JSON.stringify(both[0].start), JSON.stringify(both[0].end)]
        : [JSON.stringify(both.map((b) => b.start)), JSON.stringify(both.map((b) => b.end))],
    );
  }
  const server = await startServer(dir, { beaconWindowMs: 1_000 });
  const agent = new Agent({ connections: CLIENTS, pipelining: 1 });
  const url = `${server.url}/1/beacons/bench`;
  const { ms } = await timed(async () => {
    await runConcurrently(pairs, CLIENTS, async ([start, end]) => {
      await post(agent, url, server.key, start, 'text/plain;charset=UTF-8', 202);
      await post(agent, url, server.key, end, 'text/plain;charset=UTF-8', 202);
    });
    await server.close();
  });
  await agent.close();
  // The check, outside the time: every execution stored once, complete.
  const again = await startServer(dir);
  const now = Math.floor(Date.now() / 1000);
  const response = await request(`${again.url}/api/v1/query/bench`, {
    method: 'POST',
    headers: { authorization: `Bearer ${again.key ?? server.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      start_time: now - 3600,
      end_time: now + 3600,
      calculations: [{ op: 'COUNT' }, { op: 'COUNT_DISTINCT', column: 'execution_id' }],
      breakdowns: ['meta.incomplete'],
    }),
  });
  const result = await response.body.json();
  await again.close();
  const rows = result.data?.results ?? [];
  const complete = rows.find((r) => r.data['meta.incomplete'] === false)?.data;
  if (rows.length !== 1 || complete?.COUNT !== EXECUTIONS || complete?.['COUNT_DISTINCT(execution_id)'] !== EXECUTIONS) {
    throw new Error(`expected ${EXECUTIONS} complete stitched events, found ${JSON.stringify(rows)}`);
  }
  return ms;
}

function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

async function measureMemory() {
  const dir = join(DIR, 'memory');
  await rm(dir, { recursive: true, force: true });
  const server = await startServer(dir, { beaconWindowMs: 3_600_000 });
  const settle = () => new Promise((r) => setTimeout(r, 1_500));
  const agent = new Agent({ connections: 8, pipelining: 1 });
  const url = `${server.url}/1/beacons/bench`;
  // Warm the route (and the JIT) with a few executions, which then stay open too.
  await post(agent, url, server.key, JSON.stringify([beaconsOf(0, 'warm').start]), 'application/json', 202);
  await settle();
  const idle = rssBytes(server.child.pid);
  const bodies = [];
  for (let i = 0; i < OPEN; i += 80) {
    bodies.push(JSON.stringify(Array.from({ length: Math.min(80, OPEN - i) }, (_, k) => beaconsOf(i + k, 'open').start)));
  }
  await runConcurrently(bodies, 8, (body) => post(agent, url, server.key, body, 'application/json', 202));
  await settle();
  const health = await (await request(`${server.url}/healthz`, { dispatcher: agent })).body.json();
  const loaded = rssBytes(server.child.pid);
  await agent.close();
  await server.close();
  return { idle, loaded, health: health.beacons };
}

await mkdir(DIR, { recursive: true });
console.log(
  `beacons benchmark: ${EXECUTIONS} executions (2 beacons each), ${BATCH} per request, ${CLIENTS} clients, best of ${ROUNDS}; ${OPEN} open for memory`,
);
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
if (!SKIP.has('rate')) {
  let batchBest = Number.POSITIVE_INFINITY;
  let beaconBest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const batchMs = await measureBatch(round);
    const beaconMs = await measureBeacons(round);
    console.log(
      `round ${round + 1}: batch ${formatRate((EXECUTIONS / batchMs) * 1000)} (${batchMs.toFixed(0)} ms), beacons ${formatRate((EXECUTIONS / beaconMs) * 1000)} stitched (${beaconMs.toFixed(0)} ms)`,
    );
    batchBest = Math.min(batchBest, batchMs);
    beaconBest = Math.min(beaconBest, beaconMs);
  }
  const ratio = batchBest / beaconBest;
  console.log(`stitched executions/s: ${formatRate((EXECUTIONS / beaconBest) * 1000)}`);
  console.log(`finished events/s (/1/batch, ${BATCH} per request): ${formatRate((EXECUTIONS / batchBest) * 1000)}`);
  console.log(`ratio beacons / batch: ${ratio.toFixed(2)} (target >= 0.5) ${ratio >= 0.5 ? 'PASS' : 'FAIL'}`);
}
if (!SKIP.has('memory')) {
  const { idle, loaded, health } = await measureMemory();
  const above = loaded - idle;
  console.log(
    `server RSS idle ${mb(idle)}, with ${health.open_executions} executions open ${mb(loaded)} (${mb(health.open_bytes)} of beacon text counted)`,
  );
  console.log(`RSS above idle: ${mb(above)} (target < 200 MB) ${above < 200 * 1024 * 1024 ? 'PASS' : 'FAIL'}`);
}
