/**
 * The control store on PostgreSQL: API keys, flags with their history and presses, canaries and
 * beacon settings, for several `flagscope serve` replicas over one database.
 *
 * Every change on the feed (a flag write, a key created or revoked) runs in one transaction that
 * first takes a transaction-scoped advisory lock, then takes its config versions from the
 * `config_version_seq` sequence, records the last in `config_state` and sends `pg_notify` with it.
 * The lock makes versions commit in order, so a reader that sees version v has seen every version
 * below it: `changesSince` never skips a change that commits late. Compare-and-set writes are
 * single statements, so they would hold even without the lock. Reads use the pool.
 */
import pg from 'pg';
import { isApiKeyScope, type ApiKeyScope } from '../../api/keys.js';
import { FlagscopeError } from '../../errors.js';
import type {
  ApiKeyRecord,
  BeaconSettingsStore,
  CanaryStore,
  ControlChange,
  ControlChangeNotice,
  ControlStore,
  FlagStore,
  LeaseStore,
  NewApiKey,
} from '../types.js';
import { createPgBeaconSettingsStore, createPgCanaryStore } from './canary-store.js';
import { CHANNEL, PgChangeFeed } from './change-feed.js';
import { connectionError, redactUrl } from './connection.js';
import { createPgLeaseStore } from './lease-store.js';
import { createPgFlagStore, type HistoryRow, historyRowToChange } from './flag-store.js';
import { CONFIG_WRITE_LOCK, LOCK_CLASS, MIGRATIONS, migrate } from './schema.js';

export interface PostgresControlStoreOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`). */
  url: string;
  /** Where the store logs what it recovers from (a lost LISTEN connection). Default: nothing. */
  log?: (line: string) => void;
  /** Milliseconds between polls of the committed config version (the fallback of LISTEN); 0: no poll. Default 1000. */
  pollMs?: number;
  /** The first delay before reconnecting a lost LISTEN connection (doubling up to 5 s). Default 100. */
  reconnectMs?: number;
  /** Connections of the pool. Default 10. */
  poolSize?: number;
}

interface KeyRow {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  created_at: string;
  created_by: string | null;
  revoked_at: string | null;
  config_version: string;
}

const KEY_COLUMNS = 'id, name, hash, scopes, created_at, created_by, revoked_at, config_version';

function rowToApiKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    hash: row.hash,
    scopes: row.scopes.split(',').filter((s): s is ApiKeyScope => isApiKeyScope(s)),
    created_at: Number(row.created_at),
    created_by: row.created_by,
    revoked_at: row.revoked_at === null ? null : Number(row.revoked_at),
    configVersion: Number(row.config_version),
  };
}

/** Connects a pool, and checks the connection works, with a clear error when it does not. */
function connectPool(url: string, max: number, log: (line: string) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'flagscope', connectionTimeoutMillis: 10_000 });
  // An idle pooled connection that dies (a restarted server) must not crash the process: the pool drops it.
  pool.on('error', (e) => log(`control store: a pooled connection to ${redactUrl(url)} failed: ${e.message}`));
  return pool;
}

/** Opens the control store at `options.url`: connects, migrates (under the migration lock) and starts listening. */
export async function openPostgresControlStore(options: PostgresControlStoreOptions): Promise<PostgresControlStore> {
  const log = options.log ?? (() => undefined);
  const pool = connectPool(options.url, options.poolSize ?? 10, log);
  try {
    const client = await pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
    const store = new PostgresControlStore(pool, options, log);
    await store.start();
    return store;
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw connectionError(options.url, e);
  }
}

/** What `checkPostgresControlStore` found. */
export interface PostgresControlStoreCheck {
  /** The URL without its password. */
  url: string;
  /** The schema version before the check, and after it (the check migrates). */
  schemaVersion: { from: number; to: number };
  configVersion: number;
  flags: number;
  apiKeys: number;
  /** Keys not revoked. */
  validApiKeys: number;
  canaries: number;
}

/** Connects, migrates and counts what the control database holds (`flagscope serve --check-stores`). */
export async function checkPostgresControlStore(url: string): Promise<PostgresControlStoreCheck> {
  const client = new pg.Client({ connectionString: url, application_name: 'flagscope-check', connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const schemaVersion = await migrate(client);
    const counts = await client.query<Record<string, string>>(
      `SELECT (SELECT version FROM config_state) AS config_version,
              (SELECT count(*) FROM flags) AS flags,
              (SELECT count(*) FROM api_keys) AS api_keys,
              (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL) AS valid_api_keys,
              (SELECT count(*) FROM canaries) AS canaries`,
    );
    const row = counts.rows[0] ?? {};
    return {
      url: redactUrl(url),
      schemaVersion,
      configVersion: Number(row.config_version ?? 0),
      flags: Number(row.flags ?? 0),
      apiKeys: Number(row.api_keys ?? 0),
      validApiKeys: Number(row.valid_api_keys ?? 0),
      canaries: Number(row.canaries ?? 0),
    };
  } catch (e) {
    throw connectionError(url, e);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The schema version this build migrates to. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

export class PostgresControlStore implements ControlStore {
  private closed = false;
  private readonly feed: PgChangeFeed;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresControlStoreOptions,
    log: (line: string) => void,
  ) {
    this.feed = new PgChangeFeed({
      url: options.url,
      readVersion: () => this.currentVersion(),
      log,
      pollMs: options.pollMs ?? 1000,
      reconnectMs: options.reconnectMs ?? 100,
      maxReconnectMs: 5000,
    });
  }

  /** Starts the LISTEN session and the poll. */
  async start(): Promise<void> {
    await this.feed.start(await this.currentVersion());
  }

  /** The backend pid of the LISTEN session (tests terminate it to prove the reconnect). */
  get listenPid(): number | undefined {
    return this.feed.listenPid;
  }

  /** Polls the committed version now, as the timer does (tests call it instead of waiting a second). */
  pollNow(): Promise<void> {
    return this.feed.poll();
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.read(async (c) =>
      (await c.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`)).rows.map(rowToApiKey),
    );
  }

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.write(async (c, advance) => {
      const clash = await c.query<{ n: string }>('SELECT count(*) AS n FROM api_keys WHERE id = $1 OR hash = $2', [key.id, key.hash]);
      if (Number(clash.rows[0]?.n ?? 0) > 0) {
        throw new FlagscopeError('conflict', `api key ${key.id} already exists`, 'create the key again to get a fresh id');
      }
      const sameName = await c.query<{ id: string }>('SELECT id FROM api_keys WHERE name = $1 AND revoked_at IS NULL', [key.name]);
      const holder = sameName.rows[0]?.id;
      if (holder !== undefined) {
        throw new FlagscopeError(
          'name_taken',
          `a valid API key is already named "${key.name}" (${holder})`,
          'choose another name, or revoke that key first (`flagscope keys revoke NAME`); names tell keys apart in flag history',
          { details: { name: key.name, id: holder } },
        );
      }
      const configVersion = await advance(1);
      await c.query(`INSERT INTO api_keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)`, [
        key.id,
        key.name,
        key.hash,
        key.scopes.join(','),
        Math.trunc(key.created_at),
        key.created_by,
        configVersion,
      ]);
      const record: ApiKeyRecord = { ...key, scopes: [...key.scopes], revoked_at: null, configVersion };
      return { result: record, notice: keyNotice(record) };
    });
  }

  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | undefined> {
    return this.write(async (c, advance) => {
      const row = (await c.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id])).rows[0];
      if (row === undefined) return { result: undefined };
      const stored = rowToApiKey(row);
      if (stored.revoked_at !== null) return { result: stored };
      const configVersion = await advance(1);
      await c.query('UPDATE api_keys SET revoked_at = $2, config_version = $3 WHERE id = $1', [id, Math.trunc(at), configVersion]);
      const revoked: ApiKeyRecord = { ...stored, revoked_at: Math.trunc(at), configVersion };
      return { result: revoked, notice: keyNotice(revoked) };
    });
  }

  currentVersion(): Promise<number> {
    return this.read(async (c) => Number((await c.query<{ version: string }>('SELECT version FROM config_state')).rows[0]?.version ?? 0));
  }

  changesSince(configVersion: number): Promise<ControlChange[]> {
    const after = Math.max(0, Math.trunc(configVersion));
    return this.read(async (c) => {
      const flagRows = await c.query<HistoryRow>(
        `SELECT config_version, key, version, action, who, why, changed_at, before_body, after_body
         FROM flag_history WHERE config_version > $1 ORDER BY config_version`,
        [after],
      );
      const keyRows = await c.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE config_version > $1`, [after]);
      const changes: ControlChange[] = flagRows.rows.map((row) => ({ kind: 'flag', ...historyRowToChange(row) }));
      for (const row of keyRows.rows) {
        const key = rowToApiKey(row);
        changes.push({ kind: 'key', configVersion: key.configVersion, key });
      }
      return changes.sort((a, b) => a.configVersion - b.configVersion);
    }, true);
  }

  listen(listener: (notice: ControlChangeNotice) => void): () => void {
    return this.feed.listen(listener);
  }

  flagStore(): FlagStore {
    return createPgFlagStore({
      read: (operation, snapshot) => this.read(operation, snapshot),
      write: (operation) => this.write(operation),
      feed: this,
    });
  }

  canaryStore(): CanaryStore {
    return createPgCanaryStore((operation) => this.read(operation));
  }

  leaseStore(): LeaseStore {
    return createPgLeaseStore((operation) => this.read(operation));
  }

  beaconSettingsStore(): BeaconSettingsStore {
    return createPgBeaconSettingsStore((operation) => this.read(operation));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.feed.close();
    await this.pool.end();
  }

  /** Runs `operation` on a pooled connection (in one repeatable-read snapshot when `snapshot`). */
  private async read<T>(operation: (client: pg.PoolClient) => Promise<T>, snapshot = false): Promise<T> {
    const client = await this.connection();
    let broken: Error | undefined;
    try {
      if (!snapshot) return await operation(client);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const result = await operation(client);
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    } catch (e) {
      broken = brokenConnection(e);
      throw this.failure(e);
    } finally {
      this.release(client, broken);
    }
  }

  private async write<T>(
    operation: (
      client: pg.PoolClient,
      advance: (count: number) => Promise<number>,
    ) => Promise<{ result: T; notice?: ControlChangeNotice | undefined }>,
  ): Promise<T> {
    const client = await this.connection();
    let broken: Error | undefined;
    let outcome: { result: T; notice?: ControlChangeNotice | undefined };
    try {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, CONFIG_WRITE_LOCK]);
        const advance = async (count: number): Promise<number> => {
          const result = await client.query<{ last: string }>(
            'SELECT max(v) AS last FROM (SELECT nextval($1::regclass) AS v FROM generate_series(1, $2::int)) AS versions',
            ['config_version_seq', count],
          );
          const last = Number(result.rows[0]?.last);
          await client.query('UPDATE config_state SET version = $1', [last]);
          await client.query('SELECT pg_notify($1, $2)', [CHANNEL, String(last)]);
          return last;
        };
        outcome = await operation(client, advance);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    } catch (e) {
      broken = brokenConnection(e);
      throw this.failure(e);
    } finally {
      this.release(client, broken);
    }
    if (outcome.notice !== undefined) this.feed.notifyLocal(outcome.notice);
    return outcome.result;
  }

  /**
   * A pooled connection. While checked out, a connection that dies emits `error` on itself (the
   * pool listens only to idle ones); the statement in flight fails with it, so the event is only
   * noted here, where an unhandled one would end the process.
   */
  private async connection(): Promise<pg.PoolClient> {
    if (this.closed) throw new FlagscopeError('server_error', 'control store is closed', 'the server is shutting down; retry shortly');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.failure(e);
    }
    client.on('error', ignoreCheckedOutError);
    return client;
  }

  /** Gives a connection back to the pool; one that failed (`broken`) is closed instead. */
  private release(client: pg.PoolClient, broken: Error | undefined): void {
    client.off('error', ignoreCheckedOutError);
    client.release(broken);
  }

  /** Flagscope's own errors pass; a database failure becomes a server error naming the database (not its password). */
  private failure(error: unknown): unknown {
    if (error instanceof FlagscopeError) return error;
    const e = error as Error & { code?: string };
    return new FlagscopeError(
      'server_error',
      `the control store ${redactUrl(this.options.url)} failed: ${e?.message ?? String(error)}`,
      'check that PostgreSQL is up and reachable; retry shortly',
      { cause: error },
    );
  }
}

function keyNotice(key: ApiKeyRecord): ControlChangeNotice {
  return { configVersion: key.configVersion, changes: [{ kind: 'key', configVersion: key.configVersion, key }] };
}

/** The `error` listener of a checked-out connection: its statement in flight fails with the same error. */
function ignoreCheckedOutError(): void {}

/**
 * The error, when it means the connection itself failed (no SQLSTATE: a reset socket, a
 * terminated backend), so the pool drops the connection instead of handing it out again.
 */
function brokenConnection(error: unknown): Error | undefined {
  if (error instanceof FlagscopeError) return undefined;
  const code = (error as { code?: unknown })?.code;
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlState !== undefined && !sqlState.startsWith('08') && !sqlState.startsWith('57P')) return undefined;
  return error instanceof Error ? error : new Error(String(error));
}
