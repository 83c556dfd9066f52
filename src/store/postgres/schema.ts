/**
 * The PostgreSQL control database's schema: numbered migrations recorded in `schema_migrations`,
 * applied at open in one transaction under a transaction-scoped advisory lock, so several
 * replicas starting at once apply each migration exactly once (the others wait for the lock, then
 * find nothing left to do). PostgreSQL's DDL is transactional: a failed migration leaves nothing.
 */
import type pg from 'pg';

/** The advisory-lock class of flagscope's locks (`pg_advisory_xact_lock(LOCK_CLASS, n)`): "flag" in ASCII. */
export const LOCK_CLASS = 0x666c6167;
/** Held while migrating. */
export const MIGRATION_LOCK = 1;
/** Held by every transaction that advances the config version, so versions become visible in order. */
export const CONFIG_WRITE_LOCK = 2;

/**
 * The migrations, in order; `schema_migrations` records those applied. Bodies are kept as the
 * JSON text the server wrote (not `jsonb`, which would reorder keys), timestamps as Unix
 * milliseconds, like the DuckDB store.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: API keys. Only the sha256 of a secret is stored. A name is unique among valid keys.
  `CREATE TABLE api_keys (
     id text PRIMARY KEY,
     name text NOT NULL,
     hash text NOT NULL UNIQUE,
     scopes text NOT NULL,
     created_at bigint NOT NULL,
     created_by text,
     revoked_at bigint,
     config_version bigint NOT NULL DEFAULT 0
   );
   CREATE UNIQUE INDEX api_keys_valid_name ON api_keys (name) WHERE revoked_at IS NULL;
   CREATE INDEX api_keys_config_version ON api_keys (config_version)`,
  // 2: flags and their audit history (kill-switch presses are history rows with action 'press').
  `CREATE TABLE flags (
     key text PRIMARY KEY,
     version bigint NOT NULL,
     archived boolean NOT NULL,
     body text NOT NULL
   );
   CREATE TABLE flag_history (
     config_version bigint PRIMARY KEY,
     key text NOT NULL,
     version bigint NOT NULL,
     action text NOT NULL,
     who text NOT NULL,
     why text NOT NULL,
     changed_at bigint NOT NULL,
     before_body text,
     after_body text NOT NULL
   );
   CREATE INDEX flag_history_key ON flag_history (key, config_version DESC);
   CREATE INDEX flag_history_presses ON flag_history (key, config_version DESC) WHERE action = 'press'`,
  // 3: the change feed: versions come from a sequence; config_state holds the last committed one.
  `CREATE SEQUENCE config_version_seq MINVALUE 1 START 1;
   CREATE TABLE config_state (
     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     version bigint NOT NULL
   );
   INSERT INTO config_state (version) VALUES (0)`,
  // 4: canaries, oldest first by seq, guarded by their revision.
  `CREATE TABLE canaries (
     seq bigint GENERATED ALWAYS AS IDENTITY,
     id text PRIMARY KEY,
     flag text NOT NULL,
     revision bigint NOT NULL,
     body text NOT NULL
   )`,
  // 5: beacon settings, one row per dataset.
  'CREATE TABLE beacon_settings (dataset text PRIMARY KEY, body text NOT NULL)',
  // 6: leases (the canary controller's): one holder at a time, the epoch a fencing token (lease-store.ts).
  'CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL, expires_at bigint NOT NULL)',
];

/** What {@link migrate} found and did. */
export interface MigrationReport {
  /** The schema version before this open (0 for an empty database). */
  from: number;
  /** The schema version now. */
  to: number;
}

/**
 * Applies the migrations the database has not seen, in one transaction under the migration lock.
 * Refuses a database whose schema is newer than this build knows.
 */
export async function migrate(client: pg.ClientBase): Promise<MigrationReport> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const result = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const from = Number(result.rows[0]?.version ?? 0);
    if (from > MIGRATIONS.length) {
      throw new SchemaTooNewError(from, MIGRATIONS.length);
    }
    for (let version = from + 1; version <= MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version - 1] as string);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, MIGRATIONS.length) };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The database was migrated by a newer flagscope. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`the control database is at schema version ${found}, newer than this flagscope knows (${known})`);
  }
}
