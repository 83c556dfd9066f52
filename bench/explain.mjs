#!/usr/bin/env node
/**
 * Explain benchmark: `POST /api/v1/explain/{dataset}` with the selection
 * `error = true` over BENCH_EVENTS events (~100 columns: strings, 30 flag
 * columns, counters, timings, booleans, ids), end to end through HTTP.
 * Target: under 3 s for 1,000,000 events on a 2-core machine. A planted
 * regression (errors in flag.feature_1=on AND flag.feature_2=on) must come
 * out first.
 *
 * The dataset is created through the store (catalog and column types are the
 * store's own), then filled in bulk with SQL so set-up stays fast.
 *
 * Run: npm run build && node bench/explain.mjs
 * Env: BENCH_EVENTS (default 1000000), BENCH_REPEAT (timed runs, 5),
 *      BENCH_DIR (scratch dir, $TMPDIR/flagscope-bench-explain), BENCH_KEEP=1 keeps the data.
 */
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, timed } from './lib/measure.mjs';
import { createWideDataset } from './lib/wide-dataset.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const DIR = resolve(process.env.BENCH_DIR ?? join(tmpdir(), 'flagscope-bench-explain'));
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);

const { startServer } = await import('../dist/server/index.js');
const { request } = await import('undici');

await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });
const path = join(DIR, 'events.duckdb');

// 1. The dataset and its ~100 columns: random values, flags on/off, errors concentrated in one
//    flag combination (filled after the flags, which its expression reads).
const { columns, fillMs } = await createWideDataset({
  path,
  dataset: 'bench',
  events: EVENTS,
  startMs: NOW - DAY_MS,
  spanMs: DAY_MS,
  deferred: ['error'],
  expressionFor: ({ name, type }) => {
    if (name === 'error')
      return `CASE WHEN "flag.feature_1" = 'on' AND "flag.feature_2" = 'on' THEN random() < 0.08 ELSE random() < 0.02 END`;
    if (name === 'duration_ms') return `round(exp(3.5 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())), 3)`;
    if (name === 'trace.trace_id' || name === 'trace.span_id') return `md5(i::VARCHAR || '${name}')`;
    if (name === 'user.id') return `'user-' || (hash(i) % 100000)::VARCHAR`;
    if (name.startsWith('flag.')) return `CASE WHEN random() < 0.5 THEN 'on' ELSE 'off' END`;
    switch (type) {
      case 'string':
        return `'v-' || (hash(i, '${name}') % 20)::VARCHAR`;
      case 'integer':
        return `(hash(i, '${name}') % 10000)::BIGINT`;
      case 'float':
        return `random() * 1000`;
      case 'boolean':
        return `random() < 0.5`;
    }
    throw new Error(`unexpected column type ${type}`);
  },
});

// 2. Explain through the server.
const running = await startServer({ host: '127.0.0.1', port: 0, dataDir: DIR, now: () => NOW });
const body = { selection: [{ column: 'error', op: '=', value: true }], time_range: 86_400, end_time: NOW / 1000 };
const times = [];
let report;
for (let run = 0; run <= REPEAT; run++) {
  const { ms, value } = await timed(async () => {
    const response = await request(`${running.url}/api/v1/explain/bench`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${running.adminKey}` },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`explain answered ${response.statusCode}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  });
  if (run > 0) times.push(ms); // the first run warms the cache
  report = value;
}
await running.close();

const top = report.findings[0];
const planted = new Set(top.columns).has('flag.feature_1') && new Set(top.columns).has('flag.feature_2') && top.significant;
if (!planted)
  throw new Error(
    `the planted combination is not first: ${JSON.stringify(report.findings.slice(0, 3).map((f) => [f.columns, f.values, f.effect, f.qValue]))} selected ${JSON.stringify(report.selected)} skipped ${JSON.stringify(report.columns.skipped)}`,
  );
const ms = median(times);
console.log(`explain benchmark: ${EVENTS} events × ${columns.length} columns, selection error = true, median of ${REPEAT} runs`);
console.log(
  `explain http ${ms.toFixed(0)} ms (target < 3000) · ${report.columns.analysed} columns analysed, ${report.columns.skipped.length} skipped, ${report.tests} tests · first finding ${top.columns.map((c, i) => `${c}=${top.values[i]}`).join(' AND ')} [bulk fill ${(fillMs / 1000).toFixed(1)} s]`,
);
if (process.env.BENCH_KEEP !== '1') await rm(DIR, { recursive: true, force: true });
