#!/usr/bin/env node
/**
 * Canary controller benchmark (issue 10), in process (services over the real DuckDB stores, no
 * HTTP for part 1; a real server and HTTP clients on loopback for part 2):
 *
 * 1. One controller tick (`CanaryService.tickAll`) with BENCH_CANARIES release flags (default 50)
 *    in flight over BENCH_EVENTS events (default 1,000,000, ~150 columns: the wide dataset of
 *    bench/compare.mjs plus one `flag.release_K` column per flag, each user on `on` for ~5% of
 *    flags), the default guards (RATE(error = true), P95(duration_ms)), per user. Its median time
 *    as a ratio to the median of one in-process `compare` (runCompare: statement, statistics,
 *    report) of one of those flags with the same metrics over the same window. Target ≤ 10.
 * 2. Regression to 0%: a server (in this process, port 0) with one canary in flight over a small
 *    dataset; its cohort's errors rise; the tick measures (timed apart), then from its decision
 *    (the tick given that evidence decides, saves the state, sets the rollout) until (a) an OFREP
 *    evaluation, sent back to back from then, serves the baseline, and (b) an SSE subscriber of
 *    /api/v1/stream receives the change. BENCH_ROLLBACKS rounds (default 100). Target p99 < 50 ms.
 *
 * Run: npm run build && node bench/canary-tick.mjs
 * Env: BENCH_EVENTS, BENCH_CANARIES, BENCH_REPEAT (timed runs, default 7), BENCH_ROLLBACKS,
 *      BENCH_DIR (scratch dir, $TMPDIR/flagscope-bench-canary), BENCH_KEEP=1 keeps the data.
 */
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, timed } from './lib/measure.mjs';
import { createWideDataset } from './lib/wide-dataset.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const CANARIES = Number(process.env.BENCH_CANARIES ?? 50);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const ROLLBACKS = Number(process.env.BENCH_ROLLBACKS ?? 100);
const DIR = resolve(process.env.BENCH_DIR ?? join(tmpdir(), 'flagscope-bench-canary'));
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 2);
const USERS = 300_000;

const { openStores } = await import('../dist/store/factory.js');
const { FlagService } = await import('../dist/server/flags/flag-service.js');
const { CanaryService, MemoryCanaryRepository } = await import('../dist/server/canaries/index.js');
const { runCompare } = await import('../dist/server/analysis/analysis-service.js');

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- 1. The tick of CANARIES canaries vs one compare -------------------------------------------
await rm(DIR, { recursive: true, force: true });
await mkdir(DIR, { recursive: true });
const flagKeys = Array.from({ length: CANARIES }, (_, k) => `release_${k}`);
const userExpr = `(hash(i // 3) % ${USERS})`;
const { columns, fillMs } = await createWideDataset({
  path: join(DIR, 'events.duckdb'),
  dataset: 'bench',
  events: EVENTS,
  startMs: NOW - DAY_MS,
  spanMs: DAY_MS,
  shapeEvent: (event) => {
    for (const key of flagKeys) event.data[`flag.${key}`] = 'off';
    return event;
  },
  expressionFor: ({ name, type }) => {
    const release = /^flag\.release_(\d+)$/.exec(name);
    if (release) return `CASE WHEN hash(${userExpr} + ${Number(release[1]) * 7919}) % 100 < 5 THEN 'on' ELSE 'off' END`;
    if (name === 'error') return 'random() < 0.02';
    if (name === 'user.id') return `'user-' || ${userExpr}::VARCHAR`;
    if (name === 'duration_ms') return 'round(exp(3.5 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())), 3)';
    switch (type) {
      case 'string':
        return `'v-' || (hash(i + ${name.length}) % 50)::VARCHAR`;
      case 'integer':
        return '(hash(i) % 10000)::BIGINT';
      case 'float':
        return 'random() * 1000';
      case 'boolean':
        return 'random() < 0.5';
    }
    throw new Error(`unexpected column type ${type}`);
  },
});

let clock = NOW - DAY_MS;
const stores = await openStores(`duckdb:${DIR}`, { now: () => clock });
const flags = await FlagService.open(stores.control.flagStore(), () => clock);
for (const key of flagKeys) {
  await flags.create(
    { key, service: `svc-${key}`, kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    'bench',
    'setup',
  );
}
const service = new CanaryService({
  repository: new MemoryCanaryRepository(),
  events: stores.events,
  flags,
  now: () => clock,
  log: (line) => console.error(line.slice(0, 300)),
});
// Every canary started before the first event, holding its first step (a 7-day hold) for the whole day.
for (const key of flagKeys) {
  await service.start({ flag: key, dataset: 'bench', steps: '5,25,50,100', interval: '7d', minSample: 1000 }, 'bench');
}
clock = NOW;
const compareBody = {
  flags: [{ flag: flagKeys[0], control: 'off' }],
  metrics: ['RATE(error = true)', 'P95(duration_ms)'],
  start_time: (NOW - DAY_MS) / 1000,
  end_time: NOW / 1000 + 1,
};
const WARMUP = 2;
const tickTimes = [];
const compareTimes = [];
for (let run = 0; run < WARMUP + REPEAT; run++) {
  const tick = await timed(() => service.tickAll());
  const compare = await timed(() => runCompare(stores.events, 'bench', compareBody, NOW / 1000, flags));
  if (run >= WARMUP) {
    tickTimes.push(tick.ms);
    compareTimes.push(compare.ms);
  }
}
const records = await service.list();
const held = records.filter((r) => r.lastDecision?.kind === 'hold' || r.lastDecision?.kind === 'wait').length;
const cohort = records[0].lastDecision?.evidence?.sample;
flags.close();
await stores.close();
const tickMedian = median(tickTimes);
const compareMedian = median(compareTimes);
console.log(
  `canary tick benchmark: ${EVENTS} events × ${columns.length} columns, ${CANARIES} canaries in flight (default guards, per user), median of ${REPEAT} runs after ${WARMUP} warm-ups, in process  [bulk fill ${(fillMs / 1000).toFixed(1)} s]`,
);
console.log(`canaries decided hold/wait: ${held} of ${records.length}; first canary's sample ${JSON.stringify(cohort)}`);
console.log(
  `tick ${tickMedian.toFixed(1)} ms   one compare ${compareMedian.toFixed(1)} ms   ratio tick / compare ${(tickMedian / compareMedian).toFixed(2)} (target <= 10)`,
);
if (process.env.BENCH_KEEP !== '1') await rm(DIR, { recursive: true, force: true });

// ---- 2. From the tick that finds a regression to 0% at OFREP and on the stream ------------------
if (process.env.BENCH_SKIP_ROLLBACK !== '1') await rollbackLatency();

async function rollbackLatency() {
  const { startServer } = await import('../dist/server/index.js');
  const { Agent, request } = await import('undici');
  const dir = join(DIR, 'server');
  await mkdir(dir, { recursive: true });
  let context;
  // The server's own controller ticks rarely; this bench ticks its own service over the server's
  // flags and events (the same FlagService that serves OFREP and the stream).
  const server = await startServer({
    dataDir: dir,
    port: 0,
    canaryTickMs: 3_600_000,
    jobs: [{ name: 'bench-context', start: (c) => void (context = c), stop: () => undefined }],
  });
  const auth = { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' };
  const key = 'checkout_v2';
  await context.flags.create(
    { key, service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
    'bench',
    'setup',
  );
  let now = Date.now();
  const canaries = new CanaryService({
    repository: new MemoryCanaryRepository(),
    events: context.events,
    flags: context.flags,
    now: () => now,
  });
  const send = async (at, count, variant, errors) => {
    const batch = Array.from({ length: count }, (_, i) => ({
      time: at + (i % 1000),
      samplerate: 1,
      data: { [`flag.${key}`]: variant, error: i < errors, duration_ms: 100 + (i % 50), 'user.id': `${variant}-${at}-${i}` },
    }));
    await context.events.ingest('checkout', batch);
  };
  await send(now - 60_000, 10, 'off', 0);

  const sseEvents = [];
  let sseWaiter;
  const stream = await request(`${server.url}/api/v1/stream`, { headers: auth, dispatcher: new Agent({ connections: 1 }) });
  let buffered = '';
  stream.body.on('data', (chunk) => {
    const at = performance.now();
    buffered += chunk.toString('utf8');
    let end;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (!message.includes('event: flag') || !message.includes(`"key":"${key}"`)) continue;
      sseEvents.push({ message, at });
      sseWaiter?.();
    }
  });
  const evalAgent = new Agent({ connections: 1 });
  // A targeting key on the canary variant at 50%: it falls back to `off` when the canary rolls back.
  let onKey;
  const evaluate = async (targetingKey) => {
    const res = await request(`${server.url}/ofrep/v1/evaluate/flags/${key}`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ context: { targetingKey } }),
      dispatcher: evalAgent,
    });
    return (await res.body.json()).variant;
  };

  const toOfrep = [];
  const toSse = [];
  const measureTimes = [];
  for (let round = 0; round < ROLLBACKS; round++) {
    now += 10_000;
    await canaries.start({ flag: key, dataset: 'checkout', steps: '50,100', interval: '1h', minSample: 10 }, 'bench');
    if (onKey === undefined) {
      for (let i = 0; onKey === undefined; i++) if ((await evaluate(`user-${i}`)) === 'on') onKey = `user-${i}`;
    }
    if ((await evaluate(onKey)) !== 'on') throw new Error('the canary does not serve its variant');
    // Both cohorts' events after the start; the canary's fail 20 times as often.
    now += 2_000;
    await send(now - 1_000, 400, 'off', 4);
    await send(now - 1_000, 400, 'on', 80);
    const seen = sseEvents.length;
    const sseArrived = new Promise((resolvePromise) => {
      sseWaiter = () => {
        if (sseEvents.length > seen) resolvePromise();
      };
    });
    // The tick's measurement first (its time is reported apart), then the tick with that evidence:
    // decide, save, set the rollout. The clock starts when the evidence is in hand.
    const measureStarted = performance.now();
    const evidence = await canaries.measure(await canaries.get(key), now);
    measureTimes.push(performance.now() - measureStarted);
    const started = performance.now();
    const ticked = canaries.tick(key, { now, evidence });
    let visibleAt;
    while (visibleAt === undefined) {
      if ((await evaluate(onKey)) === 'off') visibleAt = performance.now();
    }
    const decision = await ticked;
    if (decision.kind !== 'rollback') throw new Error(`round ${round}: the tick decided ${decision.kind}: ${decision.reason}`);
    await sseArrived;
    toOfrep.push(visibleAt - started);
    toSse.push(sseEvents[seen].at - started);
  }
  stream.body.destroy();
  await evalAgent.close();
  await server.close();
  const line = (name, values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const p99 = percentile(sorted, 99);
    return `${name}: median ${percentile(sorted, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms (target p99 < 50 ms) ${p99 < 50 ? 'PASS' : 'FAIL'}`;
  };
  console.log(
    `regression to 0%: ${ROLLBACKS} canaries rolled back, from the decision of the tick that finds the regression (its evidence measured before; median ${median(measureTimes).toFixed(1)} ms), server in process on loopback`,
  );
  console.log(line('(a) OFREP evaluation serves the baseline', toOfrep));
  console.log(line('(b) SSE subscriber receives the rollback', toSse));
  await rm(dir, { recursive: true, force: true });
}
