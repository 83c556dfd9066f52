#!/usr/bin/env node
/**
 * ClickHouse-engine query benchmark: the standard query of bench/query.mjs, P99(duration_ms) by
 * service.name over the last 24 h of BENCH_EVENTS ~100-column events, on the ClickHouse event store
 * over chDB (ClickHouse's engine in-process) and on the DuckDB event store, the same events in both,
 * as a ratio of the two (information, not a target). Two scenarios: every sample rate 1, and 10%
 * of events at sample rate 10 (weighted percentiles).
 *
 * How: each dataset is created through its store from the same 10 seed events (so both stores
 * make their own columns and types), the DuckDB table is filled in bulk with bench/query.mjs's
 * SQL, exported to Parquet and read into the ClickHouse table, so both hold exactly the same rows.
 * Each store then runs the query as the server does (validate, compile in its dialect, execute,
 * decode: `runQuery`), warmed BENCH_WARMUP times and timed in interleaved rounds; the figure is
 * the ratio of the medians. The answers are checked against each other (1e-9 relative).
 *
 * Run: npm run build && node bench/clickhouse-query.mjs
 * Env: BENCH_EVENTS (default 1000000), BENCH_REPEAT (timed rounds, 11), BENCH_WARMUP (2),
 *      BENCH_DIR (scratch dir, bench/.data/clickhouse-query).
 */
import { mkdir, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { median, timed } from './lib/measure.mjs';
import { wideEventGenerator } from './lib/wide-events.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 11);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const DIR = resolve(process.env.BENCH_DIR ?? 'bench/.data/clickhouse-query');
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);

const { openEventStore } = await import('../dist/store/duckdb/event-store.js');
const { openEventStoreAt } = await import('../dist/store/factory.js');
const { runQuery } = await import('../dist/server/query/query-service.js');

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
console.log(
  `clickhouse query benchmark: ${EVENTS} events over 24 h, P99(duration_ms) by service.name, chDB vs DuckDB, ${WARMUP} warm-up + ${REPEAT} interleaved timed runs each, ${cpus().length} CPUs`,
);
console.log(`load average at start: ${load()}`);

await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });
const duckPath = join(DIR, 'events.duckdb');
const SCENARIOS = [
  { name: 'sample rate 1', dataset: 'bench', sampledShare: 0 },
  { name: '10% at sample rate 10', dataset: 'bench-weighted', sampledShare: 0.1 },
];

/** The same 10 seed events into both stores (a weighted dataset's include one at sample rate 10). */
function seedEvents(scenario) {
  const generate = wideEventGenerator({ seed: 7, startMs: NOW - DAY_MS, spanMs: DAY_MS, sampledShare: 0 });
  const events = Array.from({ length: 10 }, (_, i) => generate(i, 10));
  if (scenario.sampledShare > 0) events[0] = { ...events[0], samplerate: 10 };
  return events;
}

const fillStarted = performance.now();
const duckSeed = await openEventStore({ path: duckPath });
const click = await openEventStoreAt(`chdb:${join(DIR, 'chdb')}`, { now: () => NOW });
const tables = new Map();
for (const scenario of SCENARIOS) {
  await duckSeed.ingest(scenario.dataset, seedEvents(scenario));
  await click.ingest(scenario.dataset, seedEvents(scenario));
  tables.set(scenario.dataset, { duck: duckSeed.tableOf(scenario.dataset), columns: (await duckSeed.getSchema(scenario.dataset)).columns });
}
await duckSeed.close();

// Bulk fill the DuckDB tables with bench/query.mjs's SQL, then export each to Parquet for ClickHouse.
{
  const instance = await DuckDBInstance.create(duckPath);
  const connection = await instance.connect();
  for (const scenario of SCENARIOS) {
    const { duck, columns } = tables.get(scenario.dataset);
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
    await connection.run(`DELETE FROM "${duck}"`);
    await connection.run(
      `INSERT INTO "${duck}" SELECT make_timestamp(${(NOW - DAY_MS) * 1000}::BIGINT + (i * ${DAY_MS * 1000} // ${EVENTS})::BIGINT), ${samplerate}, ${expressions.join(', ')} FROM range(${EVENTS}) t(i)`,
    );
    // `_time` is also a virtual column of ClickHouse's file() (the file's time): export it as `ts`.
    await connection.run(
      `COPY (SELECT _time AS ts, * EXCLUDE (_time) FROM "${duck}") TO '${join(DIR, `${scenario.dataset}.parquet`)}' (FORMAT parquet)`,
    );
  }
  await connection.run('CHECKPOINT');
  connection.closeSync();
  instance.closeSync();
}
for (const scenario of SCENARIOS) {
  const { columns } = tables.get(scenario.dataset);
  const table = click.dialect.quoteIdent(click.tableOf(scenario.dataset));
  const names = ['_time', '_samplerate', ...columns.map((c) => c.name)].map((name) => click.dialect.quoteIdent(name));
  await click.execute(`TRUNCATE TABLE ${table}`, []);
  await click.execute(
    `INSERT INTO ${table} (${names.join(', ')}) SELECT ts, ${names.slice(1).join(', ')} FROM file('${join(DIR, `${scenario.dataset}.parquet`)}', Parquet)`,
    [],
  );
  await click.execute(`OPTIMIZE TABLE ${table} FINAL`, []);
}
const duck = await openEventStore({ path: duckPath });
console.log(`bulk fill of both stores: ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`);

const lines = [];
for (const scenario of SCENARIOS) {
  const spec = {
    calculations: [{ op: 'P99', column: 'duration_ms' }],
    breakdowns: ['service.name'],
    time_range: 86_400,
    end_time: NOW / 1000,
  };
  const run = (store) => () => runQuery(store, scenario.dataset, spec, NOW);
  let duckAnswer;
  let clickAnswer;
  for (let i = 0; i < WARMUP; i++) {
    duckAnswer = await run(duck)();
    clickAnswer = await run(click)();
  }
  const duckMs = [];
  const clickMs = [];
  for (let round = 0; round < REPEAT; round++) {
    const order = round % 2 === 0 ? ['duck', 'click'] : ['click', 'duck'];
    for (const side of order) {
      if (side === 'duck') {
        const { value, ms } = await timed(run(duck));
        duckAnswer = value;
        duckMs.push(ms);
      } else {
        const { value, ms } = await timed(run(click));
        clickAnswer = value;
        clickMs.push(ms);
      }
    }
  }
  const want = new Map(duckAnswer.data.results.map((row) => [row.data['service.name'], row.data['P99(duration_ms)']]));
  if (clickAnswer.data.results.length !== want.size)
    throw new Error(`chdb returned ${clickAnswer.data.results.length} groups, duckdb ${want.size}`);
  for (const row of clickAnswer.data.results) {
    const expected = want.get(row.data['service.name']);
    if (!(Math.abs(row.data['P99(duration_ms)'] - expected) <= 1e-9 * Math.abs(expected))) {
      throw new Error(`P99 for ${row.data['service.name']}: chdb ${row.data['P99(duration_ms)']}, duckdb ${expected}`);
    }
  }
  const d = median(duckMs);
  const c = median(clickMs);
  const line = `${scenario.name.padEnd(22)} duckdb ${d.toFixed(1).padStart(7)} ms  chdb ${c.toFixed(1).padStart(7)} ms  ratio chdb/duckdb ${(c / d).toFixed(2)}  (${want.size} groups, answers agree)`;
  lines.push(line);
  console.log(line);
}
await duck.close();
await click.close();
console.log(`load average at end: ${load()}`);
if (process.env.BENCH_KEEP !== '1') await rm(DIR, { recursive: true, force: true });
