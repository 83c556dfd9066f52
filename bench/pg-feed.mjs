#!/usr/bin/env node
/**
 * The PostgreSQL control store's change feed between two stores (two replicas) over one database:
 * for BENCH_CHANGES flag edits committed through store X, the time from the start of the commit
 * until store Y's listener hears of it (LISTEN/NOTIFY) and until Y has read the change with
 * `changesSince` (what a replica does before it serves the change). Then the same with Y's LISTEN
 * connection down, so only the version poll (BENCH_POLL_MS) finds the changes.
 * PostgreSQL is a throwaway cluster (bench/lib/postgres.mjs) on loopback.
 *
 * Run: npm run build && node bench/pg-feed.mjs
 * Env: BENCH_CHANGES (default 300), BENCH_POLL_MS (default 1000), BENCH_DIST (built code, default dist).
 */
import { resolve, join } from 'node:path';
import pg from 'pg';
import { startPostgres } from './lib/postgres.mjs';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 300);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 1000);
const DIST = resolve(process.env.BENCH_DIST ?? 'dist');

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function flag(version, description) {
  return {
    key: 'bench.flag',
    service: 'bench',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    state: 'enabled',
    description,
    version,
    createdBy: 'bench',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'bench',
    updatedAt: '2026-01-01T00:00:00.000Z',
    archived: false,
  };
}

/** Commits CHANGES edits through x; for each, ms until y's listener hears it and until y has read it. */
async function measure(x, y, count, beforeEach) {
  const committed = [];
  const heard = [];
  const read = [];
  let current = (await x.flagStore().loadFlags()).flags[0];
  let waiting;
  const stop = y.listen((notice) => waiting?.(notice));
  for (let i = 0; i < count; i++) {
    await beforeEach?.();
    const start = performance.now();
    const noticed = new Promise((resolveNotice) => {
      waiting = (notice) => {
        if (notice.configVersion >= current.version + 1) resolveNotice(notice);
      };
    });
    const next = flag(current.version + 1, `edit ${i}`);
    const version = await x
      .flagStore()
      .commitFlagChanges([{ action: 'update', before: current, after: next, who: 'bench', why: '', at: Date.now() }]);
    committed.push(performance.now() - start);
    await noticed;
    heard.push(performance.now() - start);
    const changes = await y.changesSince(version - 1);
    if (changes.length !== 1) throw new Error(`expected one change after ${version - 1}, read ${changes.length}`);
    read.push(performance.now() - start);
    current = next;
  }
  stop();
  return { committed, heard, read };
}

function report(label, { committed, heard, read }) {
  const f = (v) => v.toFixed(1).padStart(7);
  console.log(
    `${label}: commit p50 ${f(percentile(committed, 50))} ms | heard p50 ${f(percentile(heard, 50))} ms  p99 ${f(percentile(heard, 99))} ms | read p50 ${f(percentile(read, 50))} ms  p99 ${f(percentile(read, 99))} ms  (n=${heard.length})`,
  );
}

const cluster = await startPostgres();
try {
  const url = await cluster.createDatabase('bench_feed');
  const { openPostgresControlStore } = await import(join(DIST, 'store/postgres/control-store.js'));
  const x = await openPostgresControlStore({ url, pollMs: 0 });
  const y = await openPostgresControlStore({ url, pollMs: 0 });
  const polled = await openPostgresControlStore({ url, pollMs: POLL_MS, reconnectMs: 3_600_000 });
  try {
    await x
      .flagStore()
      .commitFlagChanges([{ action: 'create', before: null, after: flag(1, 'new'), who: 'bench', why: '', at: Date.now() }]);
    await measure(x, y, 20); // warm-up
    report('LISTEN/NOTIFY', await measure(x, y, CHANGES));
    // Poll only: kill the LISTEN session of `polled`; its reconnect waits an hour.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1, 5000)', [polled.listenPid]);
    await admin.end();
    report(`poll only (every ${POLL_MS} ms)`, await measure(x, polled, Math.min(CHANGES, 20)));
  } finally {
    await Promise.all([x.close(), y.close(), polled.close()]);
  }
} finally {
  await cluster.stop();
}
