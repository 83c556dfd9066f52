#!/usr/bin/env node
/**
 * Ingest benchmark. Generates ~100-column wide events into an NDJSON file, then
 * measures in one run:
 *   1. baseline: DuckDB's own bulk load, INSERT INTO t SELECT * FROM read_json(file), into a fresh file;
 *   2. store: DuckDbEventStore.ingest from concurrent callers (events already parsed), and the same
 *      including JSON.parse of each batch;
 *   3. http: POST /1/batch/{dataset} from concurrent loopback clients against the real server,
 *      running in its own process.
 * Store and http times include closing the store, i.e. the checkpoint that compresses the
 * events into the database file, so they compare with a bulk load that ends compressed on disk.
 * Prints events/s and ratios to the baseline (target for http: >= 0.5).
 *
 * Run: npm run build && node bench/ingest.mjs
 * Env: BENCH_EVENTS (default 100000), BENCH_BATCH (events per request, 1000),
 *      BENCH_CLIENTS (concurrent clients, 8), BENCH_DIR (scratch dir, bench/.data/ingest),
 *      BENCH_SKIP (comma list of: baseline, store, parsed, http),
 *      BENCH_ROUNDS (default 2: every measurement runs this many times, interleaved, best kept,
 *      so a busy moment on a shared machine does not decide a ratio),
 *      BENCH_METHODS=1 also compares ways of loading parsed events (per-value appender,
 *      NDJSON staging file + read_json with explicit columns) with the store's data chunks,
 *      BENCH_RAW=1 compares the store's data chunks with staging each item's raw request bytes
 *      for read_json (bench/lib/raw-staging.mjs) at 8,000 and 48,000 events per transaction,
 *      BENCH_THREADS=1 prints the server's CPU time per thread before it closes (Linux),
 *      BENCH_NODE_ARGS='--flag ...' starts the server's node with these options,
 *      BENCH_WORKERS=N starts the server with N ingest worker threads (0: parse on the main thread),
 *      BENCH_SERVER_PROF=DIR runs the http server with `node --cpu-prof` into DIR and prints
 *      where its main thread spent the time of the last http round (self time per function).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { wideEventGenerator } from './lib/wide-events.mjs';
import { formatRate, runConcurrently, timed } from './lib/measure.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/ingest');
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const GZIP = process.env.BENCH_GZIP === '1';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));

await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });

const generate = wideEventGenerator({ seed: 42, startMs: Date.UTC(2026, 0, 1), spanMs: 3_600_000, sampledShare: 0.1 });
const events = Array.from({ length: EVENTS }, (_, i) => generate(i, EVENTS));
const columns = Object.keys(events[0].data).length;

// The baseline file holds each event's fields plus its time and sample rate as columns.
const ndjsonPath = join(DIR, 'events.ndjson');
await writeFile(
  ndjsonPath,
  `${events.map((e) => JSON.stringify({ ...e.data, _time: new Date(e.time).toISOString(), _samplerate: e.samplerate })).join('\n')}\n`,
);
// Honeycomb batch bodies, serialised up front so clients only send.
const batchBodies = [];
for (let offset = 0; offset < EVENTS; offset += BATCH) {
  const items = events
    .slice(offset, offset + BATCH)
    .map((e) => ({ time: new Date(e.time).toISOString(), samplerate: e.samplerate, data: e.data }));
  const text = JSON.stringify(items);
  batchBodies.push(GZIP ? gzipSync(text) : Buffer.from(text));
}

console.log(
  `ingest benchmark: ${EVENTS} events, ${columns} columns, batches of ${BATCH}, ${CLIENTS} clients${GZIP ? ', gzip' : ''}, best of ${ROUNDS}`,
);

const { openEventStore } = await import('../dist/store/duckdb/event-store.js');
const serverBuilt = existsSync(fileURLToPath(new URL('../dist/server/index.js', import.meta.url)));
if (!serverBuilt) console.log('http      skipped: the server is not built');

if (process.env.BENCH_METHODS === '1') {
  const { compareLoadMethods } = await import('./lib/load-methods.mjs');
  for (const { method, perSecond, mainThreadShare, mainThreadMicros, cpuMicros } of await compareLoadMethods(events, BATCH, DIR)) {
    console.log(
      `method    ${method.padEnd(28)} ${formatRate(perSecond)}  main thread ${mainThreadMicros.toFixed(1)} µs/event (busy ${(mainThreadShare * 100).toFixed(0)}%), CPU ${cpuMicros.toFixed(1)} µs/event`,
    );
  }
}

if (process.env.BENCH_RAW === '1') {
  const { compareRawStaging } = await import('./lib/raw-staging.mjs');
  const bodies = batchBodies.map((body) => (GZIP ? gunzipSync(body) : body));
  const rows = await compareRawStaging({
    bodies,
    batch: BATCH,
    count: EVENTS,
    firstEvent: events[0],
    dir: DIR,
    groupSizes: [8000, 48000],
    rounds: ROUNDS,
  });
  for (const { method, perSecond, mainThreadShare, cpuMicros } of rows) {
    console.log(
      `raw-vs    ${method.padEnd(32)} ${formatRate(perSecond)}  (main thread busy ${(mainThreadShare * 100).toFixed(0)}%, CPU ${cpuMicros.toFixed(1)} µs/event)`,
    );
  }
}

const measurements = {
  baseline: { label: 'read_json bulk load', run: measureBaseline },
  store: { label: 'ingest(parsed events)', run: measureStore },
  parsed: { label: 'JSON.parse + ingest', run: measureParsed },
  http: { label: 'POST /1/batch', run: measureHttp },
};
if (!serverBuilt) SKIP.add('http');
const best = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, { label, run }] of Object.entries(measurements)) {
    if (SKIP.has(name)) continue;
    const scratch = join(DIR, `${name}-${round}`);
    await mkdir(scratch, { recursive: true });
    const before = performance.eventLoopUtilization();
    const { ms, note } = await run(scratch);
    const busy = performance.eventLoopUtilization(before).utilization;
    await rm(scratch, { recursive: true, force: true });
    const rate = (EVENTS / ms) * 1000;
    best[name] = Math.max(best[name] ?? 0, rate);
    const details = [`${ms.toFixed(0)} ms`, `main thread busy ${(busy * 100).toFixed(0)}%`, note, `round ${round}`]
      .filter(Boolean)
      .join(', ');
    console.log(`${name.padEnd(9)} ${label.padEnd(26)} ${formatRate(rate)}  (${details})`);
  }
}
if (best.baseline !== undefined) {
  for (const name of ['store', 'parsed', 'http']) {
    if (best[name] === undefined) continue;
    const target = name === 'http' ? '  (target >= 0.5)' : '';
    console.log(
      `ratio     ${name.padEnd(8)} / baseline   ${formatRate(best[name])} / ${formatRate(best.baseline)} = ${(best[name] / best.baseline).toFixed(2)}${target}`,
    );
  }
}
if (process.env.BENCH_SERVER_PROF && best.http !== undefined) {
  const { newestProfile, selfTimes } = await import('./lib/cpu-profile.mjs');
  const path = await newestProfile(resolve(process.env.BENCH_SERVER_PROF));
  const { totalMs, entries } = await selfTimes(path);
  console.log(`server main thread, last http round (${path}): ${totalMs.toFixed(0)} ms sampled, µs per event:`);
  for (const { name, ms } of entries.slice(0, 20)) {
    console.log(`  ${((ms * 1000) / EVENTS).toFixed(1).padStart(6)}  ${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${name}`);
  }
}
await rm(DIR, { recursive: true, force: true });

/** DuckDB's own bulk load of the NDJSON file into a fresh database file. */
async function measureBaseline(scratch) {
  const instance = await DuckDBInstance.create(join(scratch, 'baseline.duckdb'));
  const connection = await instance.connect();
  const source = `read_json('${ndjsonPath.replaceAll("'", "''")}', format = 'newline_delimited')`;
  await connection.run(`CREATE TABLE t AS SELECT * FROM ${source} LIMIT 0`);
  const { ms } = await timed(() => connection.run(`INSERT INTO t SELECT * FROM ${source}`));
  const count = (await connection.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0];
  if (Number(count) !== EVENTS) throw new Error(`baseline loaded ${count} rows, expected ${EVENTS}`);
  connection.closeSync();
  instance.closeSync();
  return { ms };
}

/** The store's ingest of already-parsed events from CLIENTS concurrent callers. */
async function measureStore(scratch) {
  const store = await openEventStore({ path: join(scratch, 'events.duckdb') });
  const batches = [];
  for (let offset = 0; offset < EVENTS; offset += BATCH) batches.push(events.slice(offset, offset + BATCH));
  const { ms } = await timed(async () => {
    await runConcurrently(batches, CLIENTS, async (batch) => checkOutcomes(await store.ingest('bench', batch)));
    await verifyCount(store, EVENTS);
    await store.close(); // includes the checkpoint that folds the WAL into the file
  });
  const { transactions } = store.stats();
  return { ms, note: `${transactions} transactions` };
}

/** The same, parsing each batch body with JSON.parse first (what the server must do). */
async function measureParsed(scratch) {
  const store = await openEventStore({ path: join(scratch, 'events.duckdb') });
  const texts = batchBodies.map((body) => (GZIP ? gunzipSync(body) : body).toString('utf8'));
  const { ms } = await timed(async () => {
    await runConcurrently(texts, CLIENTS, async (text) => {
      const items = JSON.parse(text);
      const batch = items.map((item) => ({ time: Date.parse(item.time), samplerate: item.samplerate, data: item.data }));
      checkOutcomes(await store.ingest('bench', batch));
    });
    await verifyCount(store, EVENTS);
    await store.close();
  });
  return { ms };
}

/**
 * POST /1/batch/bench from CLIENTS concurrent loopback clients against the real server,
 * which runs in a child process (bench/lib/server-child.mjs) so that it has its own event
 * loop and heap, as it would in production. The time ends when the server has closed.
 */
async function measureHttp(scratch) {
  const profiling = process.env.BENCH_SERVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_SERVER_PROF)}`] : [];
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, ...profiling, fileURLToPath(new URL('./lib/server-child.mjs', import.meta.url)), scratch],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { url, adminKey } = JSON.parse((await lines.next()).value);
  const { request, Agent } = await import('undici');
  const agent = new Agent({ connections: CLIENTS, pipelining: 1 });
  const headers = { 'content-type': 'application/json', 'x-honeycomb-team': adminKey };
  if (GZIP) headers['content-encoding'] = 'gzip';
  let retries = 0;
  let serverCpuMicros = 0;
  const clientCpu = process.cpuUsage();
  const { ms } = await timed(async () => {
    await runConcurrently(batchBodies, CLIENTS, async (body) => {
      for (;;) {
        const response = await request(`${url}/1/batch/bench`, { method: 'POST', headers, body, dispatcher: agent });
        const text = await response.body.text();
        if (response.statusCode === 429) {
          retries++;
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        if (response.statusCode !== 200) throw new Error(`POST /1/batch answered ${response.statusCode}: ${text.slice(0, 200)}`);
        const outcomes = JSON.parse(text);
        if (!outcomes.every((o) => o.status === 202)) throw new Error(`rejected items: ${text.slice(0, 300)}`);
        return;
      }
    });
    await agent.close();
    if (process.env.BENCH_THREADS === '1') {
      const { threadCpu } = await import('./lib/thread-cpu.mjs');
      const threads = threadCpu(child.pid).filter((t) => t.ms > 0);
      console.log(`server threads before close, CPU ms (thread id - pid): ${threads.map((t) => `${t.tid - child.pid}:${t.ms}`).join(' ')}`);
    }
    child.kill('SIGTERM'); // the server closes the store: includes its final checkpoint
    const closed = await lines.next();
    const report = closed.done ? {} : JSON.parse(closed.value);
    if (!report.closed) throw new Error('the server did not close cleanly');
    serverCpuMicros = report.cpuMicros;
  });
  const { user, system } = process.cpuUsage(clientCpu);
  if (profiling.length > 0) await new Promise((done) => (child.exitCode !== null ? done() : child.once('exit', done)));
  const cpu = `CPU µs/event: server ${(serverCpuMicros / EVENTS).toFixed(1)}, clients ${((user + system) / EVENTS).toFixed(1)}`;
  return { ms, note: [cpu, retries > 0 ? `${retries} retries after 429` : ''].filter(Boolean).join(', ') };
}

function checkOutcomes(outcomes) {
  const bad = outcomes.find((o) => o.status !== 202);
  if (bad !== undefined) throw new Error(`event rejected: ${bad.error}`);
}

async function verifyCount(store, expected) {
  const [[count]] = await store.execute(`SELECT count(*) FROM ${store.dialect.quoteIdent(store.tableOf('bench'))}`, []);
  if (Number(count) !== expected) throw new Error(`store holds ${count} events, expected ${expected}`);
}
