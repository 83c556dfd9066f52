/**
 * The flag store: flags and their audit history, kept in the control database
 * (`control.duckdb`) beside the API keys. Every write carries the version the
 * writer last saw; the store refuses a stale one with `FlagscopeError('conflict')`,
 * so two people changing one flag never lose an update. Archived flags stay,
 * with their whole history. Each change takes the next config version of the
 * control store's counter in its transaction and goes out on its change feed.
 */
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
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

/** The statements of a flag commit, prepared once per connection and bound for each change. */
interface CommitStatements {
  begin: DuckDBPreparedStatement;
  advance: DuckDBPreparedStatement;
  insertFlag: DuckDBPreparedStatement;
  updateFlag: DuckDBPreparedStatement;
  insertHistory: DuckDBPreparedStatement;
  commit: DuckDBPreparedStatement;
}

const preparedByConnection = new WeakMap<DuckDBConnection, Promise<CommitStatements>>();

function commitStatements(c: DuckDBConnection): Promise<CommitStatements> {
  let statements = preparedByConnection.get(c);
  if (statements === undefined) {
    statements = (async () => ({
      begin: await c.prepare('BEGIN TRANSACTION'),
      advance: await c.prepare('UPDATE config_version SET version = version + $1 RETURNING version'),
      // Flags are never deleted: a change without `before` inserts the first row, one with it
      // updates the row still at the version the writer read; a change count of 0 is a conflict.
      insertFlag: await c.prepare(
        'INSERT INTO flags (key, version, archived, body) SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM flags WHERE key = $1) RETURNING 1',
      ),
      updateFlag: await c.prepare('UPDATE flags SET version = $2, archived = $3, body = $4 WHERE key = $1 AND version = $5 RETURNING 1'),
      insertHistory: await c.prepare(
        `INSERT INTO flag_history (config_version, key, version, action, who, why, changed_at, before_body, after_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      ),
      commit: await c.prepare('COMMIT'),
    }))();
    preparedByConnection.set(c, statements);
    statements.catch(() => preparedByConnection.delete(c));
  }
  return statements;
}

/**
 * Checks and commits `changes` in one transaction and resolves to the config version of the last
 * one. Every value is a bound parameter of a statement prepared once per connection, so a commit
 * costs one round trip per statement and no parsing. A change whose flag is not at the version
 * its writer read (or, for a new flag, already exists) rolls the transaction back as a conflict.
 */
async function writeFlagChanges(c: DuckDBConnection, changes: readonly FlagChange[]): Promise<number> {
  const s = await commitStatements(c);
  await s.begin.run();
  try {
    s.advance.bind([changes.length]);
    const last = Number((await s.advance.runAndReadAll()).getRows()[0]?.[0]);
    for (const [i, change] of changes.entries()) {
      const { key, version, archived } = change.after;
      const body = JSON.stringify(change.after);
      const write = change.before === null ? s.insertFlag : s.updateFlag;
      write.bind(change.before === null ? [key, version, archived, body] : [key, version, archived, body, change.before.version]);
      if ((await write.runAndReadAll()).getRows().length === 0) throw await conflictOf(c, change);
      s.insertHistory.bind([
        last - (changes.length - 1 - i),
        key,
        version,
        change.action,
        change.who,
        change.why,
        Math.trunc(change.at),
        change.before === null ? null : JSON.stringify(change.before),
        body,
      ]);
      await s.insertHistory.run();
    }
    await s.commit.run();
    return last;
  } catch (error) {
    await c.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The conflict of a change whose flag is not (or, for a new flag, already) in the store at the version its writer read. */
async function conflictOf(c: DuckDBConnection, change: FlagChange): Promise<FlagscopeError> {
  const key = change.after.key;
  const stored = (await c.runAndReadAll('SELECT version FROM flags WHERE key = $1', [key])).getRows()[0];
  return new FlagscopeError(
    'conflict',
    `flag ${key} is at version ${stored === undefined ? 'none' : Number(stored[0])} in the store, not ${change.before?.version ?? 'none'}`,
    'read the flag again and retry your change',
  );
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
