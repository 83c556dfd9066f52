#!/usr/bin/env node
/**
 * Query benchmark: P99(duration_ms) by service.name over the last 24 h of
 * BENCH_EVENTS events (~100 columns), end to end through HTTP
 * (POST /api/v1/query/{dataset}), as a ratio to DuckDB's own quantile_cont
 * run directly on the same file in the same run. Two scenarios: every sample
 * rate 1 (target <= 1.3x) and 10% of events at sample rate 10 (weighted
 * percentiles, target <= 3x).
 *
 * The dataset is created through the store (so catalog and column types are
 * the store's own), then filled in bulk with SQL so set-up stays fast.
 *
 * How the comparison is kept honest on a shared machine:
 * - both sides read the same file at the same time: the server (in this
 *   process) opens it, and the baseline opens it again read-only in a second
 *   DuckDB instance with DuckDB's default settings (same thread count);
 * - the baseline statement has the same 24 h filter on `_time` with the same
 *   bound parameters, so it selects exactly the rows the server aggregates;
 * - both are warmed the same way (BENCH_WARMUP runs each), then timed in
 *   interleaved rounds (raw then http, http then raw, ...), so a burst of load
 *   from other processes hits both; the figure is the ratio of the medians;
 * - the answers are checked: unweighted against quantile_cont, weighted
 *   against quantile_cont over the rows repeated N times (the documented
 *   definition), computed independently in DuckDB.
 * Process CPU time per run (process.cpuUsage: DuckDB's threads, the server and
 * the client) is printed too: it is less sensitive than wall time to other
 * processes taking one of the cores.
 *
 * Run: npm run build && node bench/query.mjs
 * Env: BENCH_EVENTS (default 1000000), BENCH_REPEAT (timed rounds, 15), BENCH_WARMUP (2),
 *      BENCH_DIR (scratch dir, bench/.data/query), BENCH_KEEP=1 keeps the data,
 *      BENCH_REUSE=1 reuses data kept by an earlier run with the same BENCH_EVENTS.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { median, timed } from './lib/measure.mjs';
import { wideEventGenerator } from './lib/wide-events.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/query');
const REUSE = process.env.BENCH_REUSE === '1';
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);

const { openEventStore } = await import('../dist/store/duckdb/event-store.js');
const { startServer } = await import('../dist/server/index.js');
const { request } = await import('undici');

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
console.log(
  `query benchmark: ${EVENTS} events over 24 h, P99(duration_ms) by service.name, ${WARMUP} warm-up + ${REPEAT} interleaved timed runs each`,
);
console.log(`load average at start: ${load()}`);

/** Creates the dataset through the store, then fills it in bulk with SQL. */
async function createDataset(path, sampledShare) {
  const store = await openEventStore({ path });
  const generate = wideEventGenerator({ seed: 7, startMs: NOW - DAY_MS, spanMs: DAY_MS, sampledShare: 0 });
  await store.ingest(
    'bench',
    Array.from({ length: 10 }, (_, i) => generate(i, 10)),
  );
  const table = store.dialect.quoteIdent(store.tableOf('bench'));
  const columns = (await store.getSchema('bench')).columns;
  await store.close();

  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  const expressions = columns.map((column) => {
    switch (column.name) {
      case 'service.name':
        return `(['api','checkout','search','auth','cart','catalog','payments','web'])[1 + (i % 8)::INTEGER]`;
      case 'duration_ms':
        return `round(exp(3.5 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) * (1 + (i % 8) / 4), 3)`;
      default:
        switch (column.type) {
          case 'string':
            return `'v-' || (hash(i + ${column.name.length}) % 500)::VARCHAR`;
          case 'integer':
            return `(hash(i) % 10000)::BIGINT`;
          case 'float':
            return `random() * 1000`;
          case 'boolean':
            return `random() < 0.5`;
        }
    }
    throw new Error(`unexpected column type ${column.type}`);
  });
  const samplerate = sampledShare > 0 ? `CASE WHEN random() < ${sampledShare} THEN 10 ELSE 1 END` : '1';
  await connection.run(
    `INSERT INTO ${table} SELECT make_timestamp(${(NOW - DAY_MS) * 1000}::BIGINT + (i * ${DAY_MS * 1000} // ${EVENTS})::BIGINT), ${samplerate}, ${expressions.join(', ')} FROM range(${EVENTS}) t(i)`,
  );
  await connection.run('CHECKPOINT');
  connection.closeSync();
  instance.closeSync();
}

/** Runs `fn` and returns its result, wall time and process CPU time in milliseconds. */
async function measured(fn) {
  const cpuBefore = process.cpuUsage();
  const { value, ms } = await timed(fn);
  const cpu = process.cpuUsage(cpuBefore);
  return { value, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const lines = [];
for (const scenario of [
  { name: 'sample rate 1', dir: 'unweighted', sampledShare: 0, target: 1.3 },
  { name: '10% at sample rate 10', dir: 'weighted', sampledShare: 0.1, target: 3 },
]) {
  const dir = join(DIR, `${scenario.dir}-${EVENTS}`);
  const path = join(dir, 'events.duckdb');
  let fillSeconds = 0;
  if (!(REUSE && existsSync(path))) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    fillSeconds = (await timed(() => createDataset(path, scenario.sampledShare))).ms / 1000;
  }
  // A fresh control store, so the server creates (and hands us) an admin key.
  await rm(join(dir, 'control.duckdb'), { force: true });
  await rm(join(dir, 'control.duckdb.wal'), { force: true });

  const running = await startServer({ host: '127.0.0.1', port: 0, dataDir: dir, now: () => NOW });
  // The baseline: a second DuckDB instance with default settings on the same file, read-only.
  const rawInstance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  const raw = await rawInstance.connect();
  const [[tableName]] = (await raw.runAndReadAll(`SELECT table_name FROM flagscope_datasets WHERE name = 'bench'`)).getRows();
  const table = `"${tableName}"`;
  const rawSql = `SELECT "service.name", quantile_cont(duration_ms, 0.99) FROM ${table} WHERE _time >= make_timestamp($1::BIGINT) AND _time < make_timestamp($2::BIGINT) GROUP BY 1 ORDER BY 1`;
  const rawParams = [BigInt(NOW - DAY_MS) * 1000n, BigInt(NOW) * 1000n];
  const spec = {
    calculations: [{ op: 'P99', column: 'duration_ms' }],
    breakdowns: ['service.name'],
    time_range: 86_400,
    end_time: NOW / 1000,
  };
  const body = JSON.stringify(spec);
  const runRaw = async () => (await raw.runAndReadAll(rawSql, rawParams)).getRows();
  const runHttp = async () => {
    const response = await request(`${running.url}/api/v1/query/bench`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${running.adminKey}` },
      body,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`query answered ${response.statusCode}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };

  let rawRows;
  let answer;
  for (let run = 0; run < WARMUP; run++) {
    rawRows = await runRaw();
    answer = await runHttp();
  }
  const rawRuns = [];
  const httpRuns = [];
  const serverMs = [];
  for (let round = 0; round < REPEAT; round++) {
    const order = round % 2 === 0 ? ['raw', 'http'] : ['http', 'raw'];
    for (const side of order) {
      if (side === 'raw') {
        const run = await measured(runRaw);
        rawRuns.push(run);
        rawRows = run.value;
      } else {
        const run = await measured(runHttp);
        httpRuns.push(run);
        answer = run.value;
        serverMs.push(answer.meta.duration_ms);
      }
    }
  }

  // Check the answers against DuckDB, computed independently of the server.
  const groups = answer.data.results.length;
  if (groups !== rawRows.length) throw new Error(`http returned ${groups} groups, raw ${rawRows.length}`);
  const expectedRows =
    scenario.sampledShare === 0
      ? rawRows
      : (
          await raw.runAndReadAll(
            `SELECT "service.name", quantile_cont(duration_ms, 0.99) FROM ${table}, range(_samplerate) WHERE _time >= make_timestamp($1::BIGINT) AND _time < make_timestamp($2::BIGINT) GROUP BY 1 ORDER BY 1`,
            rawParams,
          )
        ).getRows();
  const expected = new Map(expectedRows.map(([service, p99]) => [service, p99]));
  for (const row of answer.data.results) {
    const want = expected.get(row.data['service.name']);
    if (!(Math.abs(row.data['P99(duration_ms)'] - want) <= 1e-9 * Math.abs(want))) {
      throw new Error(`P99 for ${row.data['service.name']}: http ${row.data['P99(duration_ms)']}, expected ${want}`);
    }
  }
  raw.closeSync();
  rawInstance.closeSync();
  await running.close();

  const rawMs = median(rawRuns.map((run) => run.ms));
  const httpMs = median(httpRuns.map((run) => run.ms));
  const rawCpu = median(rawRuns.map((run) => run.cpuMs));
  const httpCpu = median(httpRuns.map((run) => run.cpuMs));
  const ratio = httpMs / rawMs;
  const line =
    `${scenario.name.padEnd(22)} raw ${rawMs.toFixed(1).padStart(6)} ms  http ${httpMs.toFixed(1).padStart(6)} ms  ratio ${ratio.toFixed(2)} (target <= ${scenario.target})` +
    `   cpu raw ${rawCpu.toFixed(1)} ms  http ${httpCpu.toFixed(1)} ms  ratio ${(httpCpu / rawCpu).toFixed(2)}` +
    `   store ${median(serverMs).toFixed(1)} ms${fillSeconds > 0 ? `   [bulk fill ${fillSeconds.toFixed(1)} s]` : ''}`;
  lines.push(line);
  console.log(line);
}
console.log(`load average at end: ${load()}`);
if (process.env.BENCH_KEEP !== '1' && !REUSE) await rm(DIR, { recursive: true, force: true });
