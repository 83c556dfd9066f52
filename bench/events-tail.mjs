#!/usr/bin/env node
/**
 * Raw events (issue 11): over a dataset of BENCH_EVENTS wide demo events (~100 columns, the last
 * hour),
 *   (a) `POST /api/v1/events/{dataset}` lists: the newest 100 events with every column, and the
 *       newest 100 with `status_code >= 500` and 5 columns (default 2 h range), median and p95 of
 *       BENCH_RUNS runs each;
 *   (b) store to seen: a follower long-polling after its cursor (`wait_ms`, as `events tail` does)
 *       while BENCH_SENDS single-event batches are sent one after another; the time from the start
 *       of each batch request until the follower has the event: p50, p99, max.
 * Server in process, loopback only.
 *
 * Run: npm run build && node bench/events-tail.mjs
 * Env: BENCH_EVENTS (default 100000), BENCH_RUNS (default 20), BENCH_SENDS (default 200), BENCH_DIST (default dist).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const SENDS = Number(process.env.BENCH_SENDS ?? 200);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (n) => `${n.toFixed(1)} ms`;

const dir = await mkdtemp(join(tmpdir(), 'flagscope-bench-events-'));
const { startServer } = await import(join(DIST, 'server/index.js'));
const { generateEvents } = await import(join(DIST, 'demo/generate.js'));
const server = await startServer({ dataDir: dir, port: 0 });
const headers = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
const post = async (path, body) => {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
try {
  const now = Date.now();
  let chunk = [];
  for (const event of generateEvents({ seed: 11, count: EVENTS, start: now - 3_600_000, end: now })) {
    chunk.push(event);
    if (chunk.length === 1_500) {
      await post('/1/batch/shop', chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await post('/1/batch/shop', chunk);

  const timeList = async (body) => {
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      const answer = await post('/api/v1/events/shop', body);
      times.push(performance.now() - started);
      if (answer.events.length === 0) throw new Error('no events');
    }
    return times;
  };
  const all = await timeList({ limit: 100 });
  const filtered = await timeList({
    limit: 100,
    filters: [{ column: 'status_code', op: '>=', value: 500 }],
    columns: ['service.name', 'name', 'status_code', 'duration_ms', 'error'],
  });

  // (b) store to seen.
  const sentAt = new Map();
  const seen = [];
  let { cursor } = await post('/api/v1/events/tail', { after: 'end' }).catch(async () => {
    await post('/1/batch/tail', [{ data: { i: -1 } }]);
    return post('/api/v1/events/tail', { after: 'end' });
  });
  let following = true;
  const follower = (async () => {
    while (following) {
      const answer = await post('/api/v1/events/tail', { after: cursor, wait_ms: 2_000, limit: 1000 });
      const at = performance.now();
      for (const event of answer.events) seen.push(at - sentAt.get(event.data.i));
      cursor = answer.cursor;
    }
  })();
  for (let i = 0; i < SENDS; i++) {
    sentAt.set(i, performance.now());
    await post('/1/batch/tail', [{ data: { i, 'service.name': 'api' } }]);
    while (seen.length <= i) await new Promise((r) => setImmediate(r));
  }
  following = false;
  await follower;

  console.log(`events: ${EVENTS.toLocaleString('en')} wide demo events over the last hour; ${RUNS} runs per list`);
  console.log(`list newest 100, every column:              median ${ms(quantile(all, 0.5))}, p95 ${ms(quantile(all, 0.95))}`);
  console.log(`list newest 100, status_code >= 500, 5 cols: median ${ms(quantile(filtered, 0.5))}, p95 ${ms(quantile(filtered, 0.95))}`);
  console.log(
    `store to seen (${SENDS} single-event batches, long poll): p50 ${ms(quantile(seen, 0.5))}, p99 ${ms(quantile(seen, 0.99))}, max ${ms(Math.max(...seen))}`,
  );
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
