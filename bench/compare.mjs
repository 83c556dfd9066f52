#!/usr/bin/env node
/**
 * Compare benchmark: one flag with three variants (control, a, b) and four
 * metrics (RATE(error = true), AVG(duration_ms), P50(duration_ms),
 * P95(duration_ms)) over BENCH_EVENTS events of ~100 columns, end to end
 * through HTTP (`POST /api/v1/compare/{dataset}`: request, validation, the
 * aggregate statement, the statistics and the JSON report), as a ratio to
 * one hand-written SQL statement computing the same per-cohort sufficient
 * statistics (counts, Σw, Σw², Σw·x, Σw·x², the duration's log-bucket
 * histogram, and per user ΣX, ΣX², ΣY, ΣY², ΣXY of the error rate and the
 * duration) directly on the DuckDB file in the same run. Target: ≤ 1.5×.
 *
 * Run: npm run build && node bench/compare.mjs
 * Env: BENCH_EVENTS (default 1000000), BENCH_REPEAT (timed runs, 7),
 *      BENCH_DIR (scratch dir, $TMPDIR/flagscope-bench-compare), BENCH_KEEP=1 keeps the data.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { median, timed } from './lib/measure.mjs';
import { createWideDataset } from './lib/wide-dataset.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const DIR = resolve(process.env.BENCH_DIR ?? join(tmpdir(), 'flagscope-bench-compare'));
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);

const { startServer } = await import('../dist/server/index.js');
const { request } = await import('undici');

await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });
const path = join(DIR, 'events.duckdb');

// 1. The dataset and its ~100 columns plus the three-variant flag: variant b has 20% more
//    errors and 10% slower requests.
const { table, columns, fillMs } = await createWideDataset({
  path,
  dataset: 'bench',
  events: EVENTS,
  startMs: NOW - DAY_MS,
  spanMs: DAY_MS,
  shapeEvent: (event, i) => {
    event.data['flag.experiment'] = ['control', 'a', 'b'][i % 3];
    return event;
  },
  expressionFor: ({ name, type }) => {
    if (name === 'flag.experiment') return `(['control', 'a', 'b'])[1 + (hash(i) % 3)::INTEGER]`;
    if (name === 'error') return `random() < CASE WHEN hash(i) % 3 = 2 THEN 0.024 ELSE 0.02 END`;
    if (name === 'user.id') return `'user-' || (hash(i // 3) % 300000)::VARCHAR`;
    if (name === 'duration_ms')
      return `round(exp(3.5 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) * CASE WHEN hash(i) % 3 = 2 THEN 1.1 ELSE 1 END, 3)`;
    switch (type) {
      case 'string':
        return `'v-' || (hash(i + ${name.length}) % 50)::VARCHAR`;
      case 'integer':
        return `(hash(i) % 10000)::BIGINT`;
      case 'float':
        return `random() * 1000`;
      case 'boolean':
        return `random() < 0.5`;
    }
    throw new Error(`unexpected column type ${type}`);
  },
});

// 2. The same sufficient statistics, hand-written, run directly on a copy of the file
//    (the server holds the original), interleaved with the HTTP runs so both see the same machine load.
const lnGamma = Math.log(1.01 / 0.99);
const rawSql = `WITH src AS NOT MATERIALIZED (SELECT "flag.experiment" AS k, CAST(_samplerate AS DOUBLE) AS w, CASE WHEN coalesce(error = true, false) THEN 1.0 ELSE 0.0 END AS e, CAST(duration_ms AS DOUBLE) AS d, "user.id" AS u
    FROM ${table} WHERE _time >= make_timestamp($1::BIGINT) AND _time < make_timestamp($2::BIGINT) AND "flag.experiment" IS NOT NULL)
  SELECT k, NULL AS b, count(*), sum(w), sum(w * w), sum(w * e), sum(w * e * e), count(d), sum(w) FILTER (WHERE d IS NOT NULL), sum(w * w) FILTER (WHERE d IS NOT NULL), sum(w * d), sum(w * d * d), NULL FROM src GROUP BY k
  UNION ALL
  SELECT k, CAST(floor(ln(d) / ${lnGamma}) AS INTEGER) AS b, count(*), sum(w), sum(w * w), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM src WHERE d > 0 GROUP BY k, b
  UNION ALL
  SELECT k, -1, count(*), sum(xe), sum(xe * xe), sum(y), sum(y * y), sum(xe * y), sum(xd), sum(xd * xd), sum(yd), sum(yd * yd), sum(xd * yd)
    FROM (SELECT k, u, sum(w * e) AS xe, sum(w) AS y, coalesce(sum(w * d), 0) AS xd, coalesce(sum(w) FILTER (WHERE d IS NOT NULL), 0) AS yd FROM src WHERE u IS NOT NULL GROUP BY k, u) GROUP BY k`;
await copyFile(path, join(DIR, 'raw.duckdb'));
const rawInstance = await DuckDBInstance.create(join(DIR, 'raw.duckdb'));
const rawConnection = await rawInstance.connect();
const rawParams = [BigInt(NOW - DAY_MS) * 1000n, BigInt(NOW) * 1000n];

// 3. The comparison through the server.
const running = await startServer({ host: '127.0.0.1', port: 0, dataDir: DIR, now: () => NOW });
const body = {
  flags: [{ flag: 'experiment', control: 'control', expect: { control: 1, a: 1, b: 1 } }],
  metrics: ['RATE(error = true)', 'AVG(duration_ms)', 'P50(duration_ms)', 'P95(duration_ms)'],
  time_range: 86_400,
  end_time: NOW / 1000,
};
const WARMUP = 2;
const rawTimes = [];
const httpTimes = [];
let rawRows;
let report;
for (let run = 0; run < WARMUP + REPEAT; run++) {
  const rawRun = await timed(() => rawConnection.runAndReadAll(rawSql, rawParams));
  rawRows = rawRun.value.getRows();
  const httpRun = await timed(async () => {
    const response = await request(`${running.url}/api/v1/compare/bench`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${running.adminKey}` },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`compare answered ${response.statusCode}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  });
  report = httpRun.value;
  if (run >= WARMUP) {
    rawTimes.push(rawRun.ms);
    httpTimes.push(httpRun.ms);
  }
}
await running.close();
rawConnection.closeSync();
rawInstance.closeSync();

// The report must agree with the raw statement on the cohort sizes, and find variant b worse.
const rawCounts = new Map(rawRows.filter((r) => r[1] === null).map((r) => [r[0], Number(r[2])]));
const rawUsers = new Map(rawRows.filter((r) => r[1] === -1).map((r) => [r[0], Number(r[2])]));
if (report.sampleRatio[0].unit !== 'user.id') throw new Error('the report did not count users');
for (const [variant, users] of Object.entries(report.sampleRatio[0].observed)) {
  if (rawUsers.get(variant) !== users) throw new Error(`variant ${variant}: http ${users} users, raw ${rawUsers.get(variant)}`);
}
for (const cohort of report.cohorts) {
  if (rawCounts.get(cohort.label) !== cohort.rows)
    throw new Error(`cohort ${cohort.label}: http ${cohort.rows} rows, raw ${rawCounts.get(cohort.label)}`);
}
const b = report.results.filter((r) => r.cohort === 'b').map((r) => `${r.metric} ${r.verdict}`);
const raw = median(rawTimes);
const http = median(httpTimes);
console.log(
  `compare benchmark: ${EVENTS} events × ${columns.length} columns, 3 variants, 4 metrics, median of ${REPEAT} interleaved runs after ${WARMUP} warm-ups`,
);
console.log(
  `raw sufficient statistics ${raw.toFixed(1)} ms   http compare ${http.toFixed(1)} ms   ratio ${(http / raw).toFixed(2)} (target <= 1.5)   [bulk fill ${(fillMs / 1000).toFixed(1)} s]`,
);
console.log(`variant b: ${b.join(', ')}`);
if (process.env.BENCH_KEEP !== '1') await rm(DIR, { recursive: true, force: true });
