#!/usr/bin/env node
/**
 * Ingest benchmark. Generates ~100-column wide events into an NDJSON file, then
 * measures in one run:
 *   1. baseline: DuckDB's own bulk load, INSERT INTO t SELECT * FROM read_json(file), into a fresh file;
 *   2. store: DuckDbEventStore.ingest from concurrent callers (events already parsed), and the same
 *      including JSON.parse of each batch;
 *   3. http: POST /1/batch/{dataset} from concurrent loopback clients against the real server.
 * Prints events/s and ratios to the baseline (target for http: >= 0.5).
 *
 * Run: npm run build && node bench/ingest.mjs
 * Env: BENCH_EVENTS (default 100000), BENCH_BATCH (events per request, 1000),
 *      BENCH_CLIENTS (concurrent clients, 4), BENCH_DIR (scratch dir, bench/.data/ingest),
 *      BENCH_SKIP (comma list of: baseline, store, parsed, http),
 *      BENCH_METHODS=1 also compares ways of loading parsed events (per-value appender,
 *      NDJSON staging file + read_json with explicit columns) with the store's data chunks.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { wideEventGenerator } from './lib/wide-events.mjs';
import { formatRate, runConcurrently, timed } from './lib/measure.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/ingest');
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const GZIP = process.env.BENCH_GZIP === '1';

await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });

const generate = wideEventGenerator({ seed: 42, startMs: Date.UTC(2026, 0, 1), spanMs: 3_600_000, sampledShare: 0.1 });
const events = Array.from({ length: EVENTS }, (_, i) => generate(i, EVENTS));
const columns = Object.keys(events[0].data).length;

// The baseline file holds each event's fields plus its time and sample rate as columns.
const ndjsonPath = join(DIR, 'events.ndjson');
await writeFile(
  ndjsonPath,
  events.map((e) => JSON.stringify({ ...e.data, _time: new Date(e.time).toISOString(), _samplerate: e.samplerate })).join('\n') + '\n',
);
// Honeycomb batch bodies, serialised up front so clients only send.
const batchBodies = [];
for (let offset = 0; offset < EVENTS; offset += BATCH) {
  const items = events.slice(offset, offset + BATCH).map((e) => ({ time: new Date(e.time).toISOString(), samplerate: e.samplerate, data: e.data }));
  const text = JSON.stringify(items);
  batchBodies.push(GZIP ? gzipSync(text) : Buffer.from(text));
}

console.log(`ingest benchmark: ${EVENTS} events, ${columns} columns, batches of ${BATCH}, ${CLIENTS} clients${GZIP ? ', gzip' : ''}`);
const results = {};

if (!SKIP.has('baseline')) {
  const instance = await DuckDBInstance.create(join(DIR, 'baseline.duckdb'));
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE t AS SELECT * FROM read_json('${ndjsonPath.replaceAll("'", "''")}', format = 'newline_delimited') LIMIT 0`);
  const { ms } = await timed(() => connection.run(`INSERT INTO t SELECT * FROM read_json('${ndjsonPath.replaceAll("'", "''")}', format = 'newline_delimited')`));
  const count = (await connection.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0];
  if (Number(count) !== EVENTS) throw new Error(`baseline loaded ${count} rows, expected ${EVENTS}`);
  connection.closeSync();
  instance.closeSync();
  results.baseline = (EVENTS / ms) * 1000;
  console.log(`baseline  read_json bulk load          ${formatRate(results.baseline)}  (${ms.toFixed(0)} ms)`);
}

const { openEventStore } = await import('../dist/store/duckdb-events.js');

if (process.env.BENCH_METHODS === '1') {
  const { compareLoadMethods } = await import('./lib/load-methods.mjs');
  for (const { method, perSecond, mainThreadShare, mainThreadMicros, cpuMicros } of await compareLoadMethods(events, BATCH, DIR)) {
    console.log(
      `method    ${method.padEnd(28)} ${formatRate(perSecond)}  main thread ${mainThreadMicros.toFixed(1)} µs/event (busy ${(mainThreadShare * 100).toFixed(0)}%), CPU ${cpuMicros.toFixed(1)} µs/event`,
    );
  }
}

if (!SKIP.has('store')) {
  const store = await openEventStore({ path: join(DIR, 'store.duckdb') });
  const batches = [];
  for (let offset = 0; offset < EVENTS; offset += BATCH) batches.push(events.slice(offset, offset + BATCH));
  const { ms } = await timed(() => runConcurrently(batches, CLIENTS, async (batch) => checkOutcomes(await store.ingest('bench', batch))));
  const stats = store.stats();
  await verifyCount(store, EVENTS);
  await store.close();
  results.store = (EVENTS / ms) * 1000;
  console.log(`store     ingest(parsed events)        ${formatRate(results.store)}  (${ms.toFixed(0)} ms, ${stats.transactions} transactions)`);
}

if (!SKIP.has('parsed')) {
  const store = await openEventStore({ path: join(DIR, 'store-parse.duckdb') });
  const texts = batchBodies.map((body) => (GZIP ? null : body.toString('utf8')));
  const { ms } = await timed(() =>
    runConcurrently(texts, CLIENTS, async (text) => {
      const items = JSON.parse(text);
      const batch = items.map((item) => ({ time: Date.parse(item.time), samplerate: item.samplerate, data: item.data }));
      checkOutcomes(await store.ingest('bench', batch));
    }),
  );
  await verifyCount(store, EVENTS);
  await store.close();
  results.parsed = (EVENTS / ms) * 1000;
  console.log(`store     JSON.parse + ingest          ${formatRate(results.parsed)}  (${ms.toFixed(0)} ms)`);
}

if (!SKIP.has('http')) {
  let server;
  try {
    ({ startServer: server } = await import('../dist/server/index.js'));
  } catch (error) {
    console.log(`http      skipped: the server is not built (${error.message})`);
  }
  if (server !== undefined) {
    const running = await server({ host: '127.0.0.1', port: 0, dataDir: join(DIR, 'server') });
    const key = running.adminKey;
    const { request, Agent } = await import('undici');
    const agent = new Agent({ connections: CLIENTS, pipelining: 1 });
    const headers = { 'content-type': 'application/json', 'x-honeycomb-team': key };
    if (GZIP) headers['content-encoding'] = 'gzip';
    const { ms } = await timed(() =>
      runConcurrently(batchBodies, CLIENTS, async (body) => {
        for (;;) {
          const response = await request(`${running.url}/1/batch/bench`, { method: 'POST', headers, body, dispatcher: agent });
          const text = await response.body.text();
          if (response.statusCode === 429) {
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          if (response.statusCode !== 200) throw new Error(`POST /1/batch answered ${response.statusCode}: ${text.slice(0, 200)}`);
          const outcomes = JSON.parse(text);
          if (!outcomes.every((o) => o.status === 202)) throw new Error(`rejected items: ${text.slice(0, 300)}`);
          return;
        }
      }),
    );
    await agent.close();
    await running.close();
    results.http = (EVENTS / ms) * 1000;
    console.log(`http      POST /1/batch                ${formatRate(results.http)}  (${ms.toFixed(0)} ms)`);
  }
}

if (results.baseline !== undefined) {
  for (const name of ['store', 'parsed', 'http']) {
    if (results[name] !== undefined) console.log(`ratio     ${name.padEnd(8)} / baseline          ${(results[name] / results.baseline).toFixed(2)}${name === 'http' ? '  (target >= 0.5)' : ''}`);
  }
}
await rm(DIR, { recursive: true, force: true });

function checkOutcomes(outcomes) {
  const bad = outcomes.find((o) => o.status !== 202);
  if (bad !== undefined) throw new Error(`event rejected: ${bad.error}`);
}

async function verifyCount(store, expected) {
  const [[count]] = await store.readSql(`SELECT count(*) FROM ${store.tableOf('bench')}`);
  if (Number(count) !== expected) throw new Error(`store holds ${count} events, expected ${expected}`);
}
