// Space given back by a retention sweep: the event store's file, its used and free blocks and the
// dataset's own blocks, before and after deleting the older half of the events (DELETE, then
// CHECKPOINT), and after as many new events again (are the free blocks reused?).
// Usage: npm run build && node bench/retention.mjs [events=1200000] [days=10]
// Loopback-free: the store is opened directly in a temp directory. Bounded: ~1-2 minutes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from '../dist/store/duckdb/event-store.js';

const EVENTS = Number(process.argv[2] ?? 1_200_000);
const DAYS = Number(process.argv[3] ?? 10);
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 5, 12);
const MiB = (b) => `${(b / 1048576).toFixed(1)} MiB`;

const dir = await mkdtemp(join(tmpdir(), 'flagscope-bench-retention-'));
const store = await openEventStore({ path: join(dir, 'events.duckdb') });
const routes = ['/cart', '/checkout', '/search', '/product/:id', '/login', '/api/v2/orders'];

async function load(count, fromMs, spanMs, seed) {
  const batch = 20_000;
  for (let done = 0; done < count; done += batch) {
    const events = [];
    for (let i = done; i < Math.min(count, done + batch); i++) {
      const x = (i * 2654435761 + seed) >>> 0;
      events.push({
        time: fromMs + Math.floor((i / count) * spanMs),
        samplerate: 1,
        data: {
          'service.name': `svc-${x % 7}`,
          route: routes[x % routes.length],
          status_code: x % 50 === 0 ? 503 : 200,
          duration_ms: (x % 10_000) / 10,
          'user.id': `u-${x % 50_000}`,
          'flag.checkout_v2': x % 2 === 0 ? 'on' : 'off',
          browser: ['Firefox', 'Chrome', 'Safari'][x % 3],
          trace_id: x.toString(16).padStart(8, '0') + (x * 31).toString(16),
        },
      });
    }
    await store.ingest('shop', events);
  }
}

async function figures(label) {
  const { datasets, storage } = await store.describeDatasets();
  const shop = datasets.find((d) => d.name === 'shop');
  const row = { label, rows: shop?.rows ?? 0, dataset: shop?.size_bytes ?? 0, ...storage };
  console.log(
    `${label.padEnd(34)} events ${String(row.rows).padStart(9)}  dataset blocks ${MiB(row.dataset).padStart(10)}  file ${MiB(row.file_bytes).padStart(10)}  free ${MiB(row.free_bytes).padStart(10)}  WAL ${MiB(row.wal_bytes)}`,
  );
  return row;
}

try {
  const started = Date.now();
  await load(EVENTS, NOW - DAYS * DAY, DAYS * DAY, 1);
  await store.reclaimSpace();
  await figures('loaded, checkpointed');
  const cutoff = NOW - Math.ceil(DAYS / 2) * DAY;
  const { rows } = await store.deleteEventsBefore('shop', cutoff);
  await figures(`deleted ${rows} (before checkpoint)`);
  const checkpointed = await store.reclaimSpace();
  await figures(`after CHECKPOINT (${checkpointed ? 'ran' : 'deferred'})`);
  await load(rows, NOW - Math.floor(DAYS / 2) * DAY, Math.floor(DAYS / 2) * DAY, 2);
  await store.reclaimSpace();
  await figures(`as many events again, checkpointed`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
