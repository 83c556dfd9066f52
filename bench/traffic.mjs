#!/usr/bin/env node
/**
 * Canary traffic benchmark: how fast the traffic driver (src/cli/demo/traffic-driver.ts) runs
 * simulated time against a server, i.e. how fast a demo or a test clock may go. A release flag
 * at 20%; the driver sends BENCH_SECONDS of simulated traffic at BENCH_RATE events/s from
 * BENCH_USERS users, in slices of BENCH_SLICE_MS, each slice evaluating its distinct users once
 * through OFREP (single-flag, then bulk) and sending its events through POST /1/batch.
 * Figures: wall time, events/s and evaluations/s sent, and simulated seconds per wall second.
 * The server runs in a child process; the driver runs here.
 *
 * Run: npm run build && node bench/traffic.mjs
 * Env: BENCH_SECONDS (default 60), BENCH_RATE (1000), BENCH_USERS (2000), BENCH_SLICE_MS (5000),
 *      BENCH_ROUNDS (2: single then bulk, per round), BENCH_DIST (built code, default dist).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const USERS = Number(process.env.BENCH_USERS ?? 2000);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');
const START = Date.UTC(2026, 0, 1, 12, 0, 0);

async function serve() {
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-bench-traffic-'));
  const { startServer } = await import(join(DIST, 'server/index.js'));
  const server = await startServer({ dataDir: dir, port: 0 });
  process.on('disconnect', async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  });
  process.send({ url: server.url, key: server.adminKey });
}

async function measure(url, apiKey, evaluation, round) {
  const { createApiClient } = await import(join(DIST, 'client/api-client.js'));
  const { createFlag } = await import(join(DIST, 'client/flags.js'));
  const { createTrafficGenerator } = await import(join(DIST, 'demo/traffic.js'));
  const { createTrafficDriver } = await import(join(DIST, 'cli/demo/traffic-driver.js'));
  const client = createApiClient({ baseUrl: url, apiKey });
  const flag = `bench.${evaluation}.${round}`;
  await createFlag(client, {
    key: flag,
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    rollout: { on: 20, off: 80 },
  });
  const generator = createTrafficGenerator(
    {
      flag,
      ratePerSecond: RATE,
      users: USERS,
      baseline: { errorRate: 0.005, medianMs: 120, p95Ms: 300 },
      variants: { on: { errorRate: 0.025 } },
    },
    { seed: 1, startMs: START },
  );
  let now = START;
  const driver = createTrafficDriver({ http: client, dataset: `traffic_${evaluation}_${round}`, generator, now: () => now, evaluation });
  let evaluations = 0;
  const started = performance.now();
  while (now < START + SECONDS * 1000) {
    now += SLICE_MS;
    evaluations += (await driver.tick()).evaluations;
  }
  const wallS = (performance.now() - started) / 1000;
  const totals = driver.totals();
  await client.close();
  const sent = Object.values(totals.sent).reduce((a, b) => a + b, 0);
  console.log(
    `round ${round}, ${evaluation}: ${sent} events (on ${totals.sent.on}), ${evaluations} OFREP evaluations in ${wallS.toFixed(2)} s: ` +
      `${Math.round(sent / wallS)} events/s, ${Math.round(evaluations / wallS)} evaluations/s, ` +
      `${(SECONDS / wallS).toFixed(1)} simulated s per wall s`,
  );
}

if (process.argv[2] === '--serve') {
  await serve();
} else {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const info = await new Promise((resolvePromise, reject) => {
    child.once('message', resolvePromise);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  console.log(
    `canary traffic: ${SECONDS} s simulated at ${RATE} events/s, ${USERS} users, slices of ${SLICE_MS} ms, flag at 20% on, loopback`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    await measure(info.url, info.key, 'single', round);
    await measure(info.url, info.key, 'bulk', round);
  }
  child.disconnect();
}
