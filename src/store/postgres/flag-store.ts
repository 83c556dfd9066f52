/**
 * Flags and their audit history in PostgreSQL, on the control store's change feed. A write carries
 * the version its writer read; each change is one compare-and-set statement (`UPDATE … WHERE key
 * = $1 AND version = $2`, or an insert that does nothing when the flag exists), so of two replicas
 * writing the same version exactly one wins and the other gets `conflict`.
 */
import type { FlagAction, FlagHistoryEntry, LastPress } from '../../api/flags.js';
import { FlagscopeError } from '../../errors.js';
import type { Flag } from '../../flags/model.js';
import type { ControlChangeFeed, FlagChange, FlagStore } from '../types.js';
import type { FeedWriter, PgRunner } from './runner.js';

/** What the flag store borrows from the control store it lives in. */
export interface PgFlagStoreHost {
  /** Runs a read on a pooled connection (in one snapshot when `snapshot`). */
  read: PgRunner;
  /** Runs a transaction that may advance the config version, and announces it after commit. */
  write: FeedWriter;
  feed: ControlChangeFeed;
}

interface HistoryRow {
  config_version: string;
  key: string;
  version: string;
  action: string;
  who: string;
  why: string;
  changed_at: string;
  before_body: string | null;
  after_body: string;
}

export function createPgFlagStore(host: PgFlagStoreHost): FlagStore {
  const { read, write, feed } = host;
  return {
    currentVersion: () => feed.currentVersion(),
    changesSince: (configVersion) => feed.changesSince(configVersion),
    listen: (listener) => feed.listen(listener),

    loadFlags: () =>
      read(async (c) => {
        const flags = await c.query<{ body: string }>('SELECT body FROM flags ORDER BY key');
        const version = await c.query<{ version: string }>('SELECT version FROM config_state');
        return { flags: flags.rows.map((r) => JSON.parse(r.body) as Flag), configVersion: Number(version.rows[0]?.version ?? 0) };
      }, true),

    commitFlagChanges: async (changes) => {
      if (changes.length === 0) return feed.currentVersion();
      return write(async (c, advance) => {
        for (const change of changes) {
          const { key, version, archived } = change.after;
          const body = JSON.stringify(change.after);
          const result =
            change.before === null
              ? await c.query('INSERT INTO flags (key, version, archived, body) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING', [
                  key,
                  version,
                  archived,
                  body,
                ])
              : await c.query('UPDATE flags SET version = $2, archived = $3, body = $4 WHERE key = $1 AND version = $5', [
                  key,
                  version,
                  archived,
                  body,
                  change.before.version,
                ]);
          if (result.rowCount !== 1) {
            const stored = await c.query<{ version: string }>('SELECT version FROM flags WHERE key = $1', [key]);
            throw new FlagscopeError(
              'conflict',
              `flag ${key} is at version ${stored.rows[0] === undefined ? 'none' : Number(stored.rows[0].version)} in the store, not ${change.before?.version ?? 'none'}`,
              'read the flag again and retry your change',
            );
          }
        }
        const last = await advance(changes.length);
        const first = last - changes.length + 1;
        await c.query(
          `INSERT INTO flag_history (config_version, key, version, action, who, why, changed_at, before_body, after_body)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[])`,
          [
            changes.map((_, i) => first + i),
            changes.map((ch) => ch.after.key),
            changes.map((ch) => ch.after.version),
            changes.map((ch) => ch.action),
            changes.map((ch) => ch.who),
            changes.map((ch) => ch.why),
            changes.map((ch) => Math.trunc(ch.at)),
            changes.map((ch) => (ch.before === null ? null : JSON.stringify(ch.before))),
            changes.map((ch) => JSON.stringify(ch.after)),
          ],
        );
        return {
          result: last,
          notice: {
            configVersion: last,
            changes: changes.map((change, i) => ({ kind: 'flag' as const, configVersion: first + i, change })),
          },
        };
      });
    },

    flagHistory: (key, limit) =>
      read(async (c) => {
        const result = await c.query<HistoryRow>(
          `SELECT config_version, key, version, action, who, why, changed_at, before_body, after_body
           FROM flag_history WHERE key = $1 ORDER BY config_version DESC LIMIT $2`,
          [key, Math.max(1, Math.trunc(limit))],
        );
        return result.rows.map(rowToHistory);
      }),

    lastPresses: () =>
      read(async (c) => {
        const result = await c.query<{ key: string; who: string; why: string; changed_at: string }>(
          `SELECT DISTINCT ON (key) key, who, why, changed_at FROM flag_history
           WHERE action = 'press' ORDER BY key, config_version DESC`,
        );
        const out = new Map<string, LastPress>();
        for (const row of result.rows) {
          out.set(row.key, { by: row.who, reason: row.why, at: new Date(Number(row.changed_at)).toISOString() });
        }
        return out;
      }),
  };
}

/** A `flag_history` row as a change of the feed. */
export function historyRowToChange(row: HistoryRow): { configVersion: number; change: FlagChange } {
  return {
    configVersion: Number(row.config_version),
    change: {
      action: row.action as FlagAction,
      before: row.before_body === null ? null : (JSON.parse(row.before_body) as Flag),
      after: JSON.parse(row.after_body) as Flag,
      who: row.who,
      why: row.why,
      at: Number(row.changed_at),
    },
  };
}

function rowToHistory(row: HistoryRow): FlagHistoryEntry {
  return {
    configVersion: Number(row.config_version),
    key: row.key,
    version: Number(row.version),
    action: row.action as FlagAction,
    by: row.who,
    reason: row.why,
    at: new Date(Number(row.changed_at)).toISOString(),
    before: row.before_body === null ? null : (JSON.parse(row.before_body) as Flag),
    after: JSON.parse(row.after_body) as Flag,
  };
}

export type { HistoryRow };
