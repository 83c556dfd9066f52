#!/usr/bin/env node
/**
 * Explain A/B: the same kept bench data (`BENCH_KEEP=1 BENCH_DIR=DIR node bench/explain.mjs`)
 * explained by the built code of two checkouts, alternately, so both see the same machine load.
 * Each run starts a server of that checkout on DIR (with a fresh control store, so it has an
 * admin key), warms up once and times 3 explains.
 *
 * Run: node bench/explain-ab.mjs DIR ROOT_A ROOT_B [ROUNDS=2]
 */
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const [dir, ...rest] = process.argv.slice(2);
const roots = rest.filter((a) => !/^\d+$/.test(a)).map((r) => resolve(r));
const rounds = Number(rest.find((a) => /^\d+$/.test(a)) ?? 2);
if (dir === undefined || roots.length === 0) throw new Error('usage: node bench/explain-ab.mjs DIR ROOT_A [ROOT_B] [ROUNDS]');
const NOW = Date.UTC(2026, 0, 2);
const body = { selection: [{ column: 'error', op: '=', value: true }], time_range: 86_400, end_time: NOW / 1000 };

async function explainTimes(root) {
  const { startServer } = await import(join(root, 'dist', 'server', 'index.js'));
  await rm(join(dir, 'control.duckdb'), { force: true });
  await rm(join(dir, 'control.duckdb.wal'), { force: true });
  const running = await startServer({ host: '127.0.0.1', port: 0, dataDir: dir, now: () => NOW });
  const times = [];
  let report;
  try {
    for (let run = 0; run <= 3; run++) {
      const started = performance.now();
      const res = await fetch(`${running.url}/api/v1/explain/bench`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${running.adminKey}` },
        body: JSON.stringify(body),
      });
      report = await res.json();
      if (res.status !== 200) throw new Error(`explain answered ${res.status}: ${JSON.stringify(report).slice(0, 300)}`);
      if (run > 0) times.push(performance.now() - started);
    }
  } finally {
    await running.close();
  }
  times.sort((a, b) => a - b);
  return { median: times[1], tests: report.tests, top: report.findings[0], combinations: report.combinations };
}

for (let round = 1; round <= rounds; round++) {
  for (const root of roots) {
    const r = await explainTimes(root);
    console.log(
      `round ${round} ${root}: median ${r.median.toFixed(0)} ms · ${r.tests} tests · first ${r.top.columns.map((c, i) => `${c}=${r.top.values[i]}`).join(' AND ')}${r.combinations ? ` · combinations ${r.combinations.tested} tested, ${r.combinations.dropped} dropped` : ''}`,
    );
  }
}
