/**
 * The flag store: flags and their audit history, kept in the control database
 * (`control.duckdb`) beside the API keys. Every write carries the version the
 * writer last saw; the store refuses a stale one with `FlagscopeError('conflict')`,
 * so two people changing one flag never lose an update. Archived flags stay,
 * with their whole history.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import type { FlagAction, FlagHistoryEntry, LastPress } from '../../api/flags.js';
import type { Flag } from '../../flags/model.js';
import type { FlagStore } from '../types.js';

/** The tables the flag store adds to the control database (appended to its migrations). */
export const FLAG_MIGRATIONS: readonly string[] = [
  // No primary keys: DuckDB checks unique constraints eagerly within a transaction,
  // and the store enforces one row per key itself under its single connection.
  `CREATE TABLE flags (
     key VARCHAR NOT NULL,
     version BIGINT NOT NULL,
     archived BOOLEAN NOT NULL,
     body VARCHAR NOT NULL
   )`,
  `CREATE TABLE flag_history (
     config_version BIGINT NOT NULL,
     key VARCHAR NOT NULL,
     version BIGINT NOT NULL,
     action VARCHAR NOT NULL,
     who VARCHAR NOT NULL,
     why VARCHAR NOT NULL,
     changed_at BIGINT NOT NULL,
     before_body VARCHAR,
     after_body VARCHAR NOT NULL
   )`,
];

/** Runs an operation on the control database's connection, after every other operation on it. */
export type ExclusiveRunner = <T>(operation: (connection: DuckDBConnection) => Promise<T>) => Promise<T>;

/** A flag store over the control database's connection. */
export function createDuckDbFlagStore(runExclusive: ExclusiveRunner): FlagStore {
  return {
    loadFlags: () =>
      runExclusive(async (c) => {
        const rows = (await c.runAndReadAll('SELECT body FROM flags ORDER BY key')).getRows();
        const version = (await c.runAndReadAll('SELECT coalesce(max(config_version), 0) FROM flag_history')).getRows();
        return { flags: rows.map((r) => JSON.parse(String(r[0])) as Flag), configVersion: Number(version[0]?.[0] ?? 0) };
      }),

    commitFlagChanges: (changes) =>
      runExclusive(async (c) => {
        await c.run('BEGIN TRANSACTION');
        try {
          let configVersion = Number(
            (await c.runAndReadAll('SELECT coalesce(max(config_version), 0) FROM flag_history')).getRows()[0]?.[0] ?? 0,
          );
          for (const change of changes) {
            const key = change.after.key;
            const stored = (await c.runAndReadAll('SELECT version FROM flags WHERE key = $1', [key])).getRows()[0];
            const storedVersion = stored === undefined ? null : Number(stored[0]);
            const expected = change.before === null ? null : change.before.version;
            if (storedVersion !== expected) {
              throw new FlagscopeError(
                'conflict',
                `flag ${key} is at version ${storedVersion ?? 'none'} in the store, not ${expected ?? 'none'}`,
                'read the flag again and retry your change',
              );
            }
            configVersion += 1;
            if (storedVersion !== null) await c.run('DELETE FROM flags WHERE key = $1', [key]);
            await c.run('INSERT INTO flags (key, version, archived, body) VALUES ($1, $2, $3, $4)', [
              key,
              BigInt(change.after.version),
              change.after.archived,
              JSON.stringify(change.after),
            ]);
            await c.run(
              'INSERT INTO flag_history (config_version, key, version, action, who, why, changed_at, before_body, after_body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
              [
                BigInt(configVersion),
                key,
                BigInt(change.after.version),
                change.action,
                change.who,
                change.why,
                BigInt(Math.trunc(change.at)),
                change.before === null ? null : JSON.stringify(change.before),
                JSON.stringify(change.after),
              ],
            );
          }
          await c.run('COMMIT');
          return configVersion;
        } catch (e) {
          await c.run('ROLLBACK');
          throw e;
        }
      }),

    flagHistory: (key, limit) =>
      runExclusive(async (c) => {
        const reader = await c.runAndReadAll(
          'SELECT config_version, key, version, action, who, why, changed_at, before_body, after_body FROM flag_history WHERE key = $1 ORDER BY config_version DESC LIMIT $2',
          [key, BigInt(Math.max(1, Math.trunc(limit)))],
        );
        return reader.getRows().map(rowToHistory);
      }),

    lastPresses: () =>
      runExclusive(async (c) => {
        const reader = await c.runAndReadAll(
          `SELECT key, who, why, changed_at FROM flag_history WHERE action = 'press'
           QUALIFY row_number() OVER (PARTITION BY key ORDER BY config_version DESC) = 1`,
        );
        const out = new Map<string, LastPress>();
        for (const row of reader.getRows()) {
          out.set(String(row[0]), { by: String(row[1]), reason: String(row[2]), at: new Date(Number(row[3])).toISOString() });
        }
        return out;
      }),
  };
}

function rowToHistory(row: DuckDBValue[]): FlagHistoryEntry {
  return {
    configVersion: Number(row[0]),
    key: String(row[1]),
    version: Number(row[2]),
    action: String(row[3]) as FlagAction,
    by: String(row[4]),
    reason: String(row[5]),
    at: new Date(Number(row[6])).toISOString(),
    before: row[7] === null ? null : (JSON.parse(String(row[7])) as Flag),
    after: JSON.parse(String(row[8])) as Flag,
  };
}
