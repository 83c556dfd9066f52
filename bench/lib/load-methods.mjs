/**
 * Ways of loading already-parsed wide events into DuckDB, measured side by
 * side for docs/storage.md: the per-value appender, an NDJSON staging file
 * loaded with read_json and explicit column types, and the event store's
 * data chunks. Each loads the same events in batches of `batch`, one
 * transaction per batch, into a fresh file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampValue } from '@duckdb/node-api';

function columnTypes(events) {
  const types = new Map();
  for (const [name, value] of Object.entries(events[0].data)) {
    types.set(
      name,
      typeof value === 'string' ? 'VARCHAR' : typeof value === 'boolean' ? 'BOOLEAN' : Number.isInteger(value) ? 'BIGINT' : 'DOUBLE',
    );
  }
  return types;
}

const quote = (name) => `"${name.replaceAll('"', '""')}"`;
const literal = (text) => `'${text.replaceAll("'", "''")}'`;

async function freshTable(path, types) {
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  const columns = [...types].map(([name, type]) => `${quote(name)} ${type}`).join(', ');
  await connection.run(`CREATE TABLE t (_time TIMESTAMP, _samplerate BIGINT, ${columns})`);
  return { instance, connection };
}

/** Wall time and the share of it the main thread was busy (event-loop utilisation). */
async function measure(fn) {
  const before = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const elu = performance.eventLoopUtilization(before);
  return { ms, mainThreadShare: elu.utilization, mainThreadMs: elu.active, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Microseconds of main-thread and of total CPU time per event: robust to a busy machine, unlike wall time. */
function perEvent(count, { mainThreadMs, cpuMs }) {
  return { mainThreadMicros: (mainThreadMs * 1000) / count, cpuMicros: (cpuMs * 1000) / count };
}

export async function compareLoadMethods(events, batch, dir) {
  const types = columnTypes(events);
  const names = [...types.keys()];
  const kinds = names.map((name) => types.get(name));
  const results = [];

  {
    const { instance, connection } = await freshTable(join(dir, 'appender.duckdb'), types);
    const { ms, mainThreadShare, ...rest } = await measure(async () => {
      for (let offset = 0; offset < events.length; offset += batch) {
        await connection.run('BEGIN');
        const appender = await connection.createAppender('t');
        for (const event of events.slice(offset, offset + batch)) {
          appender.appendTimestamp(new DuckDBTimestampValue(BigInt(event.time) * 1000n));
          appender.appendBigInt(BigInt(event.samplerate));
          for (let i = 0; i < names.length; i++) {
            const value = event.data[names[i]];
            if (value === undefined || value === null) appender.appendNull();
            else if (kinds[i] === 'VARCHAR') appender.appendVarchar(value);
            else if (kinds[i] === 'BIGINT') appender.appendBigInt(BigInt(value));
            else if (kinds[i] === 'DOUBLE') appender.appendDouble(value);
            else appender.appendBoolean(value);
          }
          appender.endRow();
        }
        appender.closeSync();
        await connection.run('COMMIT');
      }
    });
    connection.closeSync();
    instance.closeSync();
    results.push({
      method: 'per-value appender',
      perSecond: (events.length / ms) * 1000,
      mainThreadShare,
      ...perEvent(events.length, rest),
    });
  }

  {
    const { instance, connection } = await freshTable(join(dir, 'staging.duckdb'), types);
    const staging = join(dir, 'staging.ndjson');
    const columns = `{_time: 'TIMESTAMP', _samplerate: 'BIGINT', ${[...types].map(([name, type]) => `${literal(name)}: '${type}'`).join(', ')}}`;
    const { ms, mainThreadShare, ...rest } = await measure(async () => {
      for (let offset = 0; offset < events.length; offset += batch) {
        const lines = events.slice(offset, offset + batch).map((event) => {
          const row = JSON.stringify(event.data);
          return `{"_time":"${new Date(event.time).toISOString()}","_samplerate":${event.samplerate},${row.slice(1)}`;
        });
        await writeFile(staging, lines.join('\n'));
        await connection.run('BEGIN');
        await connection.run(
          `INSERT INTO t BY NAME SELECT * FROM read_json(${literal(staging)}, columns = ${columns}, format = 'newline_delimited')`,
        );
        await connection.run('COMMIT');
      }
    });
    connection.closeSync();
    instance.closeSync();
    results.push({
      method: 'NDJSON staging + read_json',
      perSecond: (events.length / ms) * 1000,
      mainThreadShare,
      ...perEvent(events.length, rest),
    });
  }

  {
    const { openEventStore } = await import('../../dist/store/duckdb/event-store.js');
    const store = await openEventStore({ path: join(dir, 'chunks.duckdb') });
    const { ms, mainThreadShare, ...rest } = await measure(async () => {
      for (let offset = 0; offset < events.length; offset += batch) await store.ingest('bench', events.slice(offset, offset + batch));
    });
    await store.close();
    results.push({
      method: 'store data chunks',
      perSecond: (events.length / ms) * 1000,
      mainThreadShare,
      ...perEvent(events.length, rest),
    });
  }
  return results;
}
