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
 * Run: npm run build && node bench/query.mjs
 * Env: BENCH_EVENTS (default 1000000), BENCH_REPEAT (timed runs per measurement, 7),
 *      BENCH_DIR (scratch dir, bench/.data/query), BENCH_KEEP=1 keeps the last scenario's data.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { median, timed } from './lib/measure.mjs';
import { wideEventGenerator } from './lib/wide-events.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/query');
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);

const { openEventStore } = await import('../dist/store/duckdb-events.js');
const { startServer } = await import('../dist/server/index.js');
const { request } = await import('undici');

console.log(`query benchmark: ${EVENTS} events over 24 h, P99(duration_ms) by service.name, median of ${REPEAT} runs`);
const lines = [];
for (const scenario of [
  { name: 'sample rate 1', sampledShare: 0, target: 1.3 },
  { name: '10% at sample rate 10', sampledShare: 0.1, target: 3 },
]) {
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
  const path = join(DIR, 'events.duckdb');

  // 1. Create the dataset and its ~100 columns through the store.
  const store = await openEventStore({ path });
  const generate = wideEventGenerator({ seed: 7, startMs: NOW - DAY_MS, spanMs: DAY_MS, sampledShare: 0 });
  await store.ingest('bench', Array.from({ length: 10 }, (_, i) => generate(i, 10)));
  const table = store.tableOf('bench');
  const columns = (await store.getSchema('bench')).columns;
  await store.close();

  // 2. Fill it in bulk with SQL: services, lognormal latencies, the other columns random.
  const fill = await timed(async () => {
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
    const samplerate = scenario.sampledShare > 0 ? `CASE WHEN random() < ${scenario.sampledShare} THEN 10 ELSE 1 END` : '1';
    await connection.run(
      `INSERT INTO ${table} SELECT make_timestamp(${(NOW - DAY_MS) * 1000}::BIGINT + (i * ${DAY_MS * 1000} // ${EVENTS})::BIGINT), ${samplerate}, ${expressions.join(', ')} FROM range(${EVENTS}) t(i)`,
    );
    await connection.run('CHECKPOINT');
    connection.closeSync();
    instance.closeSync();
  });

  // 3. Raw DuckDB on the same file: unweighted quantile_cont over the same 24 h.
  const rawTimes = [];
  let rawRows;
  {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    const sql = `SELECT "service.name", quantile_cont(duration_ms, 0.99) FROM ${table} WHERE _time >= make_timestamp($1::BIGINT) AND _time < make_timestamp($2::BIGINT) GROUP BY 1 ORDER BY 1`;
    const params = [BigInt(NOW - DAY_MS) * 1000n, BigInt(NOW) * 1000n];
    for (let run = 0; run <= REPEAT; run++) {
      const { ms, value } = await timed(() => connection.runAndReadAll(sql, params));
      if (run > 0) rawTimes.push(ms); // the first run warms the cache
      rawRows = value.getRows();
    }
    connection.closeSync();
    instance.closeSync();
  }

  // 4. The same question through the server.
  const running = await startServer({ host: '127.0.0.1', port: 0, dataDir: DIR, now: () => NOW });
  const spec = { calculations: [{ op: 'P99', column: 'duration_ms' }], breakdowns: ['service.name'], time_range: 86_400, end_time: NOW / 1000 };
  const httpTimes = [];
  let answer;
  for (let run = 0; run <= REPEAT; run++) {
    const { ms, value } = await timed(async () => {
      const response = await request(`${running.url}/api/v1/query/bench`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${running.adminKey}` },
        body: JSON.stringify(spec),
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`query answered ${response.statusCode}: ${text.slice(0, 300)}`);
      return JSON.parse(text);
    });
    if (run > 0) httpTimes.push(ms);
    answer = value;
  }
  await running.close();

  const groups = answer.data.results.length;
  if (groups !== rawRows.length) throw new Error(`http returned ${groups} groups, raw ${rawRows.length}`);
  if (scenario.sampledShare === 0) {
    // Unweighted: the server's answer must equal quantile_cont's.
    const raw = new Map(rawRows.map(([service, p99]) => [service, p99]));
    for (const row of answer.data.results) {
      const expected = raw.get(row.data['service.name']);
      if (Math.abs(row.data['P99(duration_ms)'] - expected) > 1e-6 * Math.abs(expected)) {
        throw new Error(`P99 for ${row.data['service.name']}: http ${row.data['P99(duration_ms)']}, raw ${expected}`);
      }
    }
  }
  const raw = median(rawTimes);
  const http = median(httpTimes);
  const ratio = http / raw;
  const line = `${scenario.name.padEnd(22)} raw quantile_cont ${raw.toFixed(1).padStart(7)} ms   http ${http.toFixed(1).padStart(7)} ms   ratio ${ratio.toFixed(2)} (target <= ${scenario.target})   [bulk fill ${(fill.ms / 1000).toFixed(1)} s]`;
  lines.push(line);
  console.log(line);
}
if (process.env.BENCH_KEEP !== '1') await rm(DIR, { recursive: true, force: true });
