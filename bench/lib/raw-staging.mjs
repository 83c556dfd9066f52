/**
 * Measures the "let DuckDB parse the JSON" design for docs/storage.md against the store's data
 * chunks, both from the Honeycomb batch bodies a server receives:
 *
 * - chunks: JSON.parse each body, find the item boundaries (the server does, for the per-event
 *   size limit), `DuckDbEventStore.ingest` the parsed events;
 * - raw staging: JSON.parse each body and find the item boundaries the same way, then write one
 *   NDJSON staging file per transaction whose lines reuse each item's raw bytes,
 *   `{"t":<µs>,"s":<rate>,"x":<item>}` (one writev of Buffer slices, no per-item strings), and
 *   `INSERT INTO t BY NAME SELECT make_timestamp(t), s, unnest(x.data) FROM read_json(…)` with
 *   every column's type given, so DuckDB does no sniffing.
 *
 * Both commit `groupEvents` events per transaction, parse the next group on the JavaScript thread
 * while DuckDB writes the previous one, and include the final checkpoint (closing the file), so
 * they compare with each other and with the bulk-load baseline. Each reports wall time,
 * main-thread busy share and process CPU per event (robust to a shared machine, unlike wall time).
 */
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const SQL_TYPES = { string: 'VARCHAR', integer: 'BIGINT', float: 'DOUBLE', boolean: 'BOOLEAN' };
const literal = (text) => `'${text.replaceAll("'", "''")}'`;
const quote = (name) => `"${name.replaceAll('"', '""')}"`;

/** [start, end) byte offsets of each element of the top-level JSON array `json` (valid JSON). */
export function arrayItemRanges(json) {
  const ranges = [];
  let depth = 0;
  let start = -1;
  let lastSolid = -1;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    if (depth === 1) {
      if (byte === 0x2c || byte === 0x5d) {
        if (start !== -1) ranges.push(start, lastSolid + 1);
        start = -1;
        if (byte === 0x5d) depth--;
        continue;
      }
      if (start === -1) start = i;
    }
    if (byte === 0x22) {
      let at = i;
      for (;;) {
        at = json.indexOf(0x22, at + 1);
        let backslashes = 0;
        while (json[at - 1 - backslashes] === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      i = at;
    } else if (byte === 0x5b || byte === 0x7b) depth++;
    else if (byte === 0x5d || byte === 0x7d) depth--;
    lastSolid = i;
  }
  return ranges;
}

async function measure(count, fn) {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return {
    perSecond: (count / ms) * 1000,
    mainThreadShare: performance.eventLoopUtilization(elu).utilization,
    cpuMicros: (used.user + used.system) / count,
  };
}

/** Splits the bodies into transactions of about `groupEvents` events. */
function groupsOf(bodies, batch, groupEvents) {
  const perGroup = Math.max(1, Math.round(groupEvents / batch));
  const groups = [];
  for (let i = 0; i < bodies.length; i += perGroup) groups.push(bodies.slice(i, i + perGroup));
  return groups;
}

async function chunkPath(bodies, batch, groupEvents, dir, count) {
  const { openEventStore } = await import('../../dist/store/duckdb/event-store.js');
  const store = await openEventStore({ path: join(dir, 'raw-chunks.duckdb') });
  const result = await measure(count, async () => {
    let previous = Promise.resolve();
    for (const group of groupsOf(bodies, batch, groupEvents)) {
      const events = [];
      for (const body of group) {
        arrayItemRanges(body);
        for (const item of JSON.parse(body.toString('utf8')))
          events.push({ time: Date.parse(item.time), samplerate: item.samplerate, data: item.data });
      }
      await previous;
      previous = store.ingest('bench', events);
    }
    await previous;
    await store.close();
  });
  await rm(join(dir, 'raw-chunks.duckdb'), { force: true });
  return result;
}

async function rawStagingPath(bodies, batch, groupEvents, dir, count, firstEvent) {
  // The table and its column types as the store creates them (one event through the store).
  const path = join(dir, 'raw-staging.duckdb');
  const { openEventStore } = await import('../../dist/store/duckdb/event-store.js');
  const store = await openEventStore({ path });
  await store.ingest('bench', [firstEvent]);
  const schema = await store.getSchema('bench');
  const table = store.dialect.quoteIdent(store.tableOf('bench'));
  await store.close();
  const instance = await DuckDBInstance.create(path, { checkpoint_threshold: '256MB' });
  const connection = await instance.connect();
  const struct = schema.columns.map((column) => `${quote(column.name)} ${SQL_TYPES[column.type]}`).join(', ');
  const columns = `{t: 'BIGINT', s: 'BIGINT', x: ${literal(`STRUCT(data STRUCT(${struct}))`)}}`;
  const closing = Buffer.from('}\n');
  let files = 0;
  const result = await measure(count, async () => {
    let previous = Promise.resolve();
    for (const group of groupsOf(bodies, batch, groupEvents)) {
      const parts = [];
      for (const body of group) {
        const ranges = arrayItemRanges(body);
        const items = JSON.parse(body.toString('utf8'));
        for (let i = 0; i < items.length; i++) {
          const item = items[i];
          parts.push(
            Buffer.from(`{"t":${Date.parse(item.time) * 1000},"s":${item.samplerate},"x":`),
            body.subarray(ranges[2 * i], ranges[2 * i + 1]),
            closing,
          );
        }
      }
      await previous;
      const staging = join(dir, `staging-${files++ % 2}.ndjson`);
      const handle = await open(staging, 'w');
      await handle.writev(parts);
      await handle.close();
      previous = (async () => {
        await connection.run('BEGIN TRANSACTION');
        await connection.run(
          `INSERT INTO ${table} BY NAME SELECT make_timestamp(t) AS _time, s AS _samplerate, unnest(x.data) ` +
            `FROM read_json(${literal(staging)}, format = 'newline_delimited', columns = ${columns}, maximum_object_size = 16777216)`,
        );
        await connection.run('COMMIT');
      })();
    }
    await previous;
    await connection.run('CHECKPOINT');
  });
  const [[rows]] = (await connection.runAndReadAll(`SELECT count(*) FROM ${table}`)).getRows();
  connection.closeSync();
  instance.closeSync();
  await rm(path, { force: true });
  if (Number(rows) !== count + 1) throw new Error(`raw staging stored ${rows} rows, expected ${count + 1}`);
  return result;
}

/**
 * Runs both paths at each transaction size in `groupSizes` (events), `rounds` times interleaved,
 * and returns the best wall time per path and size with its CPU figures.
 */
export async function compareRawStaging({ bodies, batch, count, firstEvent, dir, groupSizes, rounds }) {
  const best = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const groupEvents of groupSizes) {
      for (const [method, run] of [
        ['chunks', () => chunkPath(bodies, batch, groupEvents, dir, count)],
        ['raw bytes + read_json', () => rawStagingPath(bodies, batch, groupEvents, dir, count, firstEvent)],
      ]) {
        const key = `${method}, ${groupEvents.toLocaleString('en-US')}/tx`;
        const result = await run();
        if ((best.get(key)?.perSecond ?? 0) < result.perSecond) best.set(key, result);
      }
    }
  }
  return [...best].map(([method, result]) => ({ method, ...result }));
}
