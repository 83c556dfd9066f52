/**
 * Runs the built server in its own process for the benchmarks, so the load
 * generator does not share the server's event loop or heap.
 * `node server-child.mjs DATA_DIR` (env BENCH_WORKERS: ingest worker threads, default the server's;
 * BENCH_SERVER_OPTIONS: JSON of more `startServer` options, e.g. `{"beaconWindowMs":1000}`) prints one JSON line {url, adminKey} once
 * listening; on SIGTERM it closes (finishing writes and checkpointing) and
 * prints {closed: true, cpuMicros} (the CPU time the whole process used, all threads) before exiting.
 */
import { startServer } from '../../dist/server/index.js';

const workers = process.env.BENCH_WORKERS === undefined ? {} : { ingestWorkers: Number(process.env.BENCH_WORKERS) };
const extra = process.env.BENCH_SERVER_OPTIONS === undefined ? {} : JSON.parse(process.env.BENCH_SERVER_OPTIONS);
const server = await startServer({ host: '127.0.0.1', port: 0, dataDir: process.argv[2], ...workers, ...extra });
process.stdout.write(`${JSON.stringify({ url: server.url, adminKey: server.adminKey ?? null })}\n`);
process.on('SIGTERM', () => {
  server.close().then(
    () => {
      const { user, system } = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ closed: true, cpuMicros: user + system })}\n`);
      process.exit(0);
    },
    (error) => {
      process.stderr.write(`${error.stack ?? error}\n`);
      process.exit(1);
    },
  );
});
