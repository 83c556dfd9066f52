/**
 * The control database's change feed: one config-version counter that every committed change
 * (a flag write, a key created or revoked) advances in its own transaction, the reading of the
 * changes after a version, and the in-process notification of the listeners after each commit
 * (what PostgreSQL's LISTEN/NOTIFY does between processes).
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { FlagAction } from '../../api/flags.js';
import { isApiKeyScope, type ApiKeyScope } from '../../api/keys.js';
import type { Flag } from '../../flags/model.js';
import type { ApiKeyRecord, ControlChange, ControlChangeNotice } from '../types.js';

/**
 * The tables of the feed (appended to the control database's migrations, after the key and flag
 * tables). The counter starts at the flag history's last version, so versions already shown to
 * clients are never given out again.
 */
export const CHANGE_FEED_MIGRATIONS: readonly string[] = [
  'CREATE TABLE config_version (version BIGINT NOT NULL)',
  'INSERT INTO config_version SELECT coalesce(max(config_version), 0) FROM flag_history',
  'ALTER TABLE api_keys ADD COLUMN config_version BIGINT DEFAULT 0',
];

/** The columns of `api_keys` that {@link rowToApiKey} reads, in its order. */
export const API_KEY_COLUMNS = 'id, name, hash, scopes, created_at, created_by, revoked_at, config_version';

/** Reads the config version of the last committed change. */
export async function readConfigVersion(connection: DuckDBConnection): Promise<number> {
  const rows = (await connection.runAndReadAll('SELECT version FROM config_version')).getRows();
  return Number(rows[0]?.[0] ?? 0);
}

/**
 * Advances the counter by `count` inside the caller's transaction and returns its new value:
 * the changes of that transaction take the versions `value - count + 1` to `value`.
 */
export async function advanceConfigVersion(connection: DuckDBConnection, count: number): Promise<number> {
  const reader = await connection.runAndReadAll('UPDATE config_version SET version = version + $1 RETURNING version', [BigInt(count)]);
  return Number(reader.getRows()[0]?.[0]);
}

/** The changes committed after `configVersion`, oldest first (see `ControlChangeFeed.changesSince`). */
export async function readChangesSince(connection: DuckDBConnection, configVersion: number): Promise<ControlChange[]> {
  const after = BigInt(Math.max(0, Math.trunc(configVersion)));
  const flagRows = await connection.runAndReadAll(
    `SELECT config_version, action, who, why, changed_at, before_body, after_body FROM flag_history
     WHERE config_version > $1 ORDER BY config_version`,
    [after],
  );
  const keyRows = await connection.runAndReadAll(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE config_version > $1`, [after]);
  const changes: ControlChange[] = flagRows.getRows().map(rowToFlagChange);
  for (const row of keyRows.getRows()) {
    const key = rowToApiKey(row);
    changes.push({ kind: 'key', configVersion: key.configVersion, key });
  }
  return changes.sort((a, b) => a.configVersion - b.configVersion);
}

function rowToFlagChange(row: DuckDBValue[]): ControlChange {
  const after = JSON.parse(String(row[6])) as Flag;
  return {
    kind: 'flag',
    configVersion: Number(row[0]),
    change: {
      action: String(row[1]) as FlagAction,
      before: row[5] === null ? null : (JSON.parse(String(row[5])) as Flag),
      after,
      who: String(row[2]),
      why: String(row[3]),
      at: Number(row[4]),
    },
  };
}

/** An `api_keys` row, selected as {@link API_KEY_COLUMNS}. */
export function rowToApiKey(row: DuckDBValue[]): ApiKeyRecord {
  return {
    id: String(row[0]),
    name: String(row[1]),
    hash: String(row[2]),
    scopes: String(row[3] ?? '')
      .split(',')
      .filter((s): s is ApiKeyScope => isApiKeyScope(s)),
    created_at: Number(row[4]),
    created_by: row[5] === null ? null : String(row[5]),
    revoked_at: row[6] === null ? null : Number(row[6]),
    configVersion: Number(row[7] ?? 0),
  };
}

/** The listeners of one store's feed, told after each commit in commit order. */
export class ChangeNotifier {
  private readonly listeners = new Set<(notice: ControlChangeNotice) => void>();

  /** Adds a listener; returns its removal. */
  listen(listener: (notice: ControlChangeNotice) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Tells every listener; one that throws neither stops the others nor the commit that notified. */
  notify(notice: ControlChangeNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch {
        // A listener's failure is its own: it catches up from `changesSince` on the next notice.
      }
    }
  }
}
