/**
 * The flag store: flags and their audit history, kept in the control database
 * (`control.duckdb`) beside the API keys. Every write carries the version the
 * writer last saw; the store refuses a stale one with `FlagscopeError('conflict')`,
 * so two people changing one flag never lose an update. Archived flags stay,
 * with their whole history. Each change takes the next config version of the
 * control store's counter in its transaction and goes out on its change feed.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import type { FlagAction, FlagHistoryEntry, LastPress } from '../../api/flags.js';
import type { Flag } from '../../flags/model.js';
import type { ControlChangeFeed, ControlChangeNotice, FlagChange, FlagStore } from '../types.js';
import { readConfigVersion } from './change-feed.js';

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

/** What the flag store borrows from the control store it lives in. */
export interface FlagStoreHost {
  runExclusive: ExclusiveRunner;
  /** Tells the feed's listeners about a commit; call only inside `runExclusive`, after the commit. */
  notify: (notice: ControlChangeNotice) => void;
  /** The control store's feed, which the flag store shares. */
  feed: ControlChangeFeed;
}

/** A flag store over the control database's connection. */
export function createDuckDbFlagStore(host: FlagStoreHost): FlagStore {
  const { runExclusive, feed } = host;
  return {
    currentVersion: () => feed.currentVersion(),
    changesSince: (configVersion) => feed.changesSince(configVersion),
    listen: (listener) => feed.listen(listener),

    loadFlags: () =>
      runExclusive(async (c) => {
        const rows = (await c.runAndReadAll('SELECT body FROM flags ORDER BY key')).getRows();
        return { flags: rows.map((r) => JSON.parse(String(r[0])) as Flag), configVersion: await readConfigVersion(c) };
      }),

    commitFlagChanges: (changes) =>
      runExclusive(async (c) => {
        const last = await writeFlagChanges(c, changes);
        const first = last - changes.length + 1;
        host.notify({ configVersion: last, changes: changes.map((change, i) => ({ kind: 'flag', configVersion: first + i, change })) });
        return last;
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

/** Marks the error a version check raises inside the commit script. */
const CONFLICT_MARK = 'flagscope-flag-conflict:';

/**
 * Checks and commits `changes` in one transaction and resolves to the config version of the last
 * one. The transaction is one script, sent to DuckDB in one call: a press is visible only once it
 * is committed, and each round trip to DuckDB's threads costs milliseconds on a busy machine
 * (a parameterised statement takes three). The values go in as SQL literals (`sqlLiteral`); a
 * stale `before.version` stops the script with `error()`, and the transaction is rolled back.
 */
async function writeFlagChanges(c: DuckDBConnection, changes: readonly FlagChange[]): Promise<number> {
  const n = changes.length;
  // The first statement with a result is what DuckDB answers the script with: the new version.
  const script = ['BEGIN TRANSACTION', `UPDATE config_version SET version = version + ${n} RETURNING version`];
  changes.forEach((change, i) => {
    const key = sqlLiteral(change.after.key);
    const version = sqlLiteral(change.after.version);
    const body = sqlLiteral(JSON.stringify(change.after));
    const conflict = `error(${sqlLiteral(CONFLICT_MARK + change.after.key)})`;
    // The version check sits in the write's condition; it names the key again, so it holds
    // whatever order DuckDB evaluates the condition in. Flags are never deleted: a change with a
    // `before` updates a stored row, one without inserts the first.
    script.push(
      change.before === null
        ? `INSERT INTO flags (key, version, archived, body) SELECT ${key}, ${version}, ${change.after.archived}, ${body}
           WHERE CASE WHEN EXISTS (SELECT 1 FROM flags WHERE key = ${key}) THEN ${conflict} ELSE true END`
        : `UPDATE flags SET version = ${version}, archived = ${change.after.archived}, body = ${body}
           WHERE key = ${key} AND CASE WHEN key = ${key} AND version <> ${sqlLiteral(change.before.version)} THEN ${conflict} ELSE true END`,
      `INSERT INTO flag_history (config_version, key, version, action, who, why, changed_at, before_body, after_body)
       SELECT version - ${n - 1 - i}, ${key}, ${version}, ${sqlLiteral(change.action)}, ${sqlLiteral(change.who)},
         ${sqlLiteral(change.why)}, ${sqlLiteral(Math.trunc(change.at))}, ${change.before === null ? 'NULL' : sqlLiteral(JSON.stringify(change.before))},
         ${body} FROM config_version`,
    );
  });
  script.push('COMMIT');
  try {
    const reader = await c.runAndReadAll(script.join(';\n'));
    if (reader.columnNames()[0] === 'version' && reader.getRows().length === 1) return Number(reader.getRows()[0]?.[0]);
    return readConfigVersion(c);
  } catch (error) {
    await c.run('ROLLBACK').catch(() => undefined);
    const message = error instanceof Error ? error.message : '';
    const at = message.indexOf(CONFLICT_MARK);
    if (at === -1) throw error;
    const key = message.slice(at + CONFLICT_MARK.length);
    const change = changes.find((candidate) => candidate.after.key === key);
    const expected = change?.before?.version ?? null;
    const stored = (await c.runAndReadAll('SELECT version FROM flags WHERE key = $1', [key])).getRows()[0];
    throw new FlagscopeError(
      'conflict',
      `flag ${key} is at version ${stored === undefined ? 'none' : Number(stored[0])} in the store, not ${expected ?? 'none'}`,
      'read the flag again and retry your change',
    );
  }
}

/**
 * A value as a DuckDB SQL literal: a string in single quotes (quotes doubled; DuckDB reads
 * backslashes as themselves; a NUL, which would end the C string the script travels as, as
 * `chr(0)`), or an integer.
 */
export function sqlLiteral(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`${value} is not an integer a flag store keeps`);
    return String(value);
  }
  return `'${value.replaceAll("'", "''").replaceAll('\0', "' || chr(0) || '")}'`;
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
