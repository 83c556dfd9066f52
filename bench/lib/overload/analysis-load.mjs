/**
 * Analysis load (issue 9, item 1): BENCH_CLIENTS clients (default 32) run the heaviest query of
 * the query benchmark (weighted P99(duration_ms) by service.name over 24 h of BENCH_EVENTS events,
 * ~100 columns, 10% of them at sample rate 10) back to back against a server in its own process,
 * honouring 429's Retry-After. Meanwhile it measures:
 * - press-to-answer: alternating presses and releases of a kill switch, request to answer, p99
 *   (target < 100 ms);
 * - single-event ingest: `POST /1/events` of one event, request to answer (after commit), p99
 *   (target < 200 ms);
 * - disconnect to stop: the time from clients closing their connections to `/healthz` showing no
 *   analysis running or queued: all the load clients at once, and single queries cancelled while
 *   running on an otherwise idle server (target < 1 s, the worst of them).
 * The server process gets `UV_THREADPOOL_SIZE` as `bin/flagscope` sets it (CPUs + 8) unless set.
 * BENCH_SERVER_CHILD names another server script (same protocol as bench/lib/server-child.mjs), e.g.
 * one over an older build, to compare; without `analyses` in its `/healthz` the disconnect figure is NaN.
 *
 * Env: BENCH_EVENTS (default 1000000), BENCH_CLIENTS (32), BENCH_SAMPLES (presses and events
 *      measured, 100 each), BENCH_GAP_MS (pause between samples, 100), BENCH_ROUNDS (single
 *      cancelled queries, 5), BENCH_WRITE_LIMIT_MS (a write unanswered this long counts as this long, 30000).
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { Agent, request } from 'undici';
import { createWideDataset } from '../wide-dataset.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const QUIET_SAMPLES = 20;
const WRITE_LIMIT_MS = Number(process.env.BENCH_WRITE_LIMIT_MS ?? 30_000);

/** A write's answer, or `{status: 200, timedOut: true}` when it got none within WRITE_LIMIT_MS (its time then counts as that). */
async function timedWrite(send) {
  try {
    return await send();
  } catch (error) {
    if (error?.code === 'UND_ERR_HEADERS_TIMEOUT' || error?.code === 'UND_ERR_BODY_TIMEOUT') return { status: 200, timedOut: true };
    throw error;
  }
}
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);
const SWITCH = 'payments-off';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The query benchmark's columns, as SQL over the row number `i`. */
function expressionFor(column) {
  if (column.name === 'service.name') return `(['api','checkout','search','auth','cart','catalog','payments','web'])[1 + (i % 8)::INTEGER]`;
  if (column.name === 'duration_ms')
    return `round(exp(3.5 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) * (1 + (i % 8) / 4), 3)`;
  switch (column.type) {
    case 'string':
      return `'v-' || (hash(i + ${column.name.length}) % 500)::VARCHAR`;
    case 'integer':
      return '(hash(i) % 10000)::BIGINT';
    case 'float':
      return 'random() * 1000';
    case 'boolean':
      return 'random() < 0.5';
  }
  throw new Error(`unexpected column type ${column.type}`);
}

/** Nearest-rank percentile. */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function startServerProcess(dir) {
  const env = { ...process.env };
  if (!env.UV_THREADPOOL_SIZE) env.UV_THREADPOOL_SIZE = String(availableParallelism() + 8);
  const child = spawn(
    process.execPath,
    [process.env.BENCH_SERVER_CHILD ?? fileURLToPath(new URL('../server-child.mjs', import.meta.url)), dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const { url, adminKey } = JSON.parse((await lines.next()).value);
  const stop = async () => {
    child.kill('SIGTERM');
    await lines.next();
  };
  return { url, adminKey, stop, threads: env.UV_THREADPOOL_SIZE };
}

export async function run({ log, scratch }) {
  const dir = await scratch('data');
  const path = join(dir, 'events.duckdb');
  const { table, fillMs } = await createWideDataset({
    path,
    dataset: 'bench',
    events: EVENTS,
    startMs: NOW - DAY_MS,
    spanMs: DAY_MS,
    expressionFor,
  });
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  await connection.run(`UPDATE ${table} SET _samplerate = CASE WHEN random() < 0.1 THEN 10 ELSE 1 END`);
  await connection.run('CHECKPOINT');
  connection.closeSync();
  instance.closeSync();
  log(`${EVENTS} events filled in ${(fillMs / 1000).toFixed(1)} s`);

  const server = await startServerProcess(dir);
  const headers = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
  // A write that gets no answer within WRITE_LIMIT_MS counts as that long (an older build may keep it for minutes).
  const writes = new Agent({ connections: 4, headersTimeout: WRITE_LIMIT_MS, bodyTimeout: WRITE_LIMIT_MS });
  const call = async (method, route, body, dispatcher = writes) => {
    const response = await request(`${server.url}${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
    });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  };
  const analyses = async () => JSON.parse((await call('GET', '/healthz')).text).analyses;
  const until = async (check, what, limitMs = 60_000) => {
    const started = performance.now();
    for (;;) {
      const now = await analyses();
      // A server without `analyses` in /healthz (a build before admission control, BENCH_SERVER_CHILD): wait a while instead.
      if (now === undefined) {
        await sleep(2_000);
        return Number.NaN;
      }
      if (check(now)) return performance.now() - started;
      if (performance.now() - started > limitMs) throw new Error(`${what}: still ${JSON.stringify(now)} after ${limitMs} ms`);
      await sleep(5);
    }
  };

  try {
    const created = await call('POST', '/api/v1/flags', {
      key: SWITCH,
      service: 'checkout',
      kind: 'kill-switch',
      variants: { live: true, off: false },
      defaultVariant: 'live',
      safeVariant: 'off',
    });
    if (created.status !== 201) throw new Error(`flag create answered ${created.status}: ${created.text}`);
    const spec = JSON.stringify({
      calculations: [{ op: 'P99', column: 'duration_ms' }],
      breakdowns: ['service.name'],
      time_range: 86_400,
      end_time: NOW / 1000,
    });
    const queries = new Agent({ connections: CLIENTS + 8 });
    const queryOnce = (signal) =>
      request(`${server.url}/api/v1/query/bench`, { method: 'POST', headers, body: spec, dispatcher: queries, signal }).then(async (r) => ({
        status: r.statusCode,
        retryAfter: Number(r.headers['retry-after']),
        text: await r.body.text(),
      }));
    const pressLoop = async (samples, out) => {
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        const answer = await timedWrite(() =>
          call('POST', `/api/v1/flags/${SWITCH}/${i % 2 === 0 ? 'press' : 'release'}`, { reason: 'overload bench' }),
        );
        if (answer.status !== 200) throw new Error(`press answered ${answer.status}: ${answer.text}`);
        out.push(performance.now() - started);
        await sleep(GAP_MS);
      }
    };
    const ingestLoop = async (samples, out) => {
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        const answer = await timedWrite(() => call('POST', '/1/events/bench', { 'service.name': 'api', duration_ms: 12.5 + i }));
        if (answer.status !== 200) throw new Error(`event answered ${answer.status}: ${answer.text}`);
        out.push(performance.now() - started);
        await sleep(GAP_MS);
      }
    };
    // The same writes on the idle server, to tell the machine's own noise from the analyses' effect.
    const quietPresses = [];
    const quietIngests = [];
    await Promise.all([pressLoop(QUIET_SAMPLES, quietPresses), ingestLoop(QUIET_SAMPLES, quietIngests)]);
    const alone = performance.now();
    const first = await queryOnce();
    if (first.status !== 200) throw new Error(`the query answered ${first.status}: ${first.text.slice(0, 300)}`);
    const aloneMs = performance.now() - alone;
    log(`the query alone: ${aloneMs.toFixed(0)} ms; server UV_THREADPOOL_SIZE ${server.threads}`);

    // The load: CLIENTS clients running the query back to back.
    let stopping = false;
    const counts = { 200: 0, 429: 0, 504: 0, other: 0 };
    const inFlight = new Set();
    const loadClient = async () => {
      while (!stopping) {
        const controller = new AbortController();
        inFlight.add(controller);
        try {
          const answer = await queryOnce(controller.signal);
          if (answer.status in counts) counts[answer.status]++;
          else counts.other++;
          if (answer.status === 429) await sleep(Number.isFinite(answer.retryAfter) ? answer.retryAfter * 1000 : 1000);
        } catch {
          if (!stopping) counts.other++;
        } finally {
          inFlight.delete(controller);
        }
      }
    };
    const loadStarted = performance.now();
    const clients = Array.from({ length: CLIENTS }, loadClient);
    await until((a) => a.running >= 1 && a.queued >= 1, 'the load did not fill the analysis slots');

    const presses = [];
    const ingests = [];
    await Promise.all([pressLoop(SAMPLES, presses), ingestLoop(SAMPLES, ingests)]);
    const load = await analyses();

    // Every load client closes its connection at once.
    stopping = true;
    for (const controller of inFlight) controller.abort();
    const allGoneMs = await until((a) => a.running === 0 && a.queued === 0, 'analyses left after every client went');
    await Promise.all(clients);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    log(
      `under load (${load?.running} running, ${load?.queued} queued): ${counts[200]} queries answered (${(counts[200] / loadSeconds).toFixed(2)}/s), ` +
        `${counts[429]} × 429, ${counts[504]} × 504, ${counts.other} other, in ${loadSeconds.toFixed(1)} s`,
    );
    log(
      `idle server: press p50 ${percentile(quietPresses, 50).toFixed(1)} ms, max ${Math.max(...quietPresses).toFixed(1)} ms; ` +
        `event p50 ${percentile(quietIngests, 50).toFixed(1)} ms, max ${Math.max(...quietIngests).toFixed(1)} ms (${QUIET_SAMPLES} each)`,
    );
    log(
      `under load: press p50 ${percentile(presses, 50).toFixed(1)} ms, p99 ${percentile(presses, 99).toFixed(1)} ms, max ${Math.max(...presses).toFixed(1)} ms (${presses.length} presses)`,
    );
    log(
      `under load: event p50 ${percentile(ingests, 50).toFixed(1)} ms, p99 ${percentile(ingests, 99).toFixed(1)} ms, max ${Math.max(...ingests).toFixed(1)} ms (${ingests.length} events)`,
    );
    log(`all ${CLIENTS} clients disconnect → no analysis running or queued: ${allGoneMs.toFixed(0)} ms`);

    // Single queries cancelled while running, on an otherwise idle server.
    const cancelled = [];
    for (let round = 0; round < ROUNDS; round++) {
      const controller = new AbortController();
      const answered = queryOnce(controller.signal).then(
        () => true,
        () => false,
      );
      await until((a) => a.running === 1, 'the query did not start');
      await sleep(Math.min(100, aloneMs / 4));
      controller.abort();
      if (await answered) continue; // it finished before the cancel: no sample
      cancelled.push(await until((a) => a.running === 0, 'the cancelled query kept running'));
    }
    log(`single query cancelled while running → stopped: ${cancelled.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    await queries.close();

    const disconnectMs = Math.max(allGoneMs, ...cancelled);
    return [
      {
        name: 'analysis: press-to-answer p99',
        value: percentile(presses, 99),
        unit: 'ms',
        target: '< 100 ms',
        met: percentile(presses, 99) < 100,
      },
      {
        name: 'analysis: single-event ingest p99',
        value: percentile(ingests, 99),
        unit: 'ms',
        target: '< 200 ms',
        met: percentile(ingests, 99) < 200,
      },
      { name: 'analysis: disconnect to query stopped', value: disconnectMs, unit: 'ms', target: '< 1000 ms', met: disconnectMs < 1000 },
    ];
  } finally {
    await writes.close();
    await server.stop();
  }
}
