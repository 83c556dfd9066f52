/**
 * The embedded control store on DuckDB.
 *
 * It lives in its own file (`<data-dir>/control.duckdb`), separate from the
 * event store's `events.duckdb`: DuckDB has one writer per database, so keeping
 * keys and flags in a second database means a key or flag write (or a kill-switch
 * press) never waits behind a large ingest transaction.
 *
 * Schema changes are numbered migrations recorded in `schema_version`: the key table, then the
 * flag tables (flag-store.ts), then the change feed's counter (change-feed.ts). Every key or flag
 * write advances the config version in its transaction and notifies the feed's listeners.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
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
import { BEACON_SETTINGS_MIGRATIONS, createDuckDbBeaconSettingsStore } from './beacon-settings-store.js';
import { CANARY_MIGRATIONS, createDuckDbCanaryStore } from './canary-store.js';
import {
  API_KEY_COLUMNS,
  advanceConfigVersion,
  CHANGE_FEED_MIGRATIONS,
  ChangeNotifier,
  readChangesSince,
  readConfigVersion,
  rowToApiKey,
} from './change-feed.js';
import { createDuckDbFlagStore, FLAG_MIGRATIONS } from './flag-store.js';
import { createDuckDbLeaseStore, LEASE_MIGRATIONS, type LeaseMemory } from './lease-store.js';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE api_keys (
     id VARCHAR PRIMARY KEY,
     name VARCHAR NOT NULL,
     hash VARCHAR NOT NULL UNIQUE,
     scopes VARCHAR NOT NULL,
     created_at BIGINT NOT NULL,
     created_by VARCHAR,
     revoked_at BIGINT
   )`,
  ...FLAG_MIGRATIONS,
  ...CHANGE_FEED_MIGRATIONS,
  ...CANARY_MIGRATIONS,
  ...BEACON_SETTINGS_MIGRATIONS,
  ...LEASE_MIGRATIONS,
];

export interface DuckDbControlStoreOptions {
  /** The database file, e.g. `<data-dir>/control.duckdb`. */
  path: string;
}

/** Opens (creating and migrating if needed) the control store at `options.path`. */
export async function openControlStore(options: DuckDbControlStoreOptions): Promise<DuckDbControlStore> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(options.path);
  } catch (e) {
    const message = (e as Error).message;
    throw new FlagscopeError(
      /lock/i.test(message) ? 'usage' : 'internal',
      `cannot open control store ${options.path}: ${message}`,
      'another `flagscope serve` may be using this data directory; stop it or pass a different `--data-dir`',
      { cause: e },
    );
  }
  const connection = await instance.connect();
  const store = new DuckDbControlStore(instance, connection);
  await store.migrate();
  // DuckDB lets one process open the file, so whoever held a lease here before is gone (a server
  // killed with -9): expire its leases now, keeping their epochs, instead of waiting out the lease.
  await connection.run('UPDATE leases SET expires_at = 0');
  return store;
}

export class DuckDbControlStore implements ControlStore {
  /** Every operation runs after the previous one: one connection, no interleaved transactions. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly notifier = new ChangeNotifier();
  /** The leases' expiry, shared by every lease store of this control store (lease-store.ts). */
  private readonly leases: LeaseMemory = new Map();

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** Applies the migrations this file has not seen yet, each in its own transaction. */
  async migrate(): Promise<void> {
    await this.serially(async () => {
      await this.connection.run('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      const reader = await this.connection.runAndReadAll('SELECT max(version) FROM schema_version');
      const current = Number(reader.getRows()[0]?.[0] ?? 0);
      for (let version = current + 1; version <= MIGRATIONS.length; version++) {
        await this.connection.run('BEGIN TRANSACTION');
        try {
          await this.connection.run(MIGRATIONS[version - 1] as string);
          await this.connection.run('INSERT INTO schema_version VALUES ($1)', [version]);
          await this.connection.run('COMMIT');
        } catch (e) {
          await this.connection.run('ROLLBACK');
          throw e;
        }
      }
    });
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.serially(async () => {
      const reader = await this.connection.runAndReadAll(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
      return reader.getRows().map(rowToApiKey);
    });
  }

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.serially(async () => {
      const clash = await this.connection.runAndReadAll('SELECT count(*) FROM api_keys WHERE id = $1 OR hash = $2', [key.id, key.hash]);
      if (Number(clash.getRows()[0]?.[0] ?? 0) > 0) {
        throw new FlagscopeError('conflict', `api key ${key.id} already exists`, 'create the key again to get a fresh id');
      }
      const sameName = await this.connection.runAndReadAll('SELECT id FROM api_keys WHERE name = $1 AND revoked_at IS NULL', [key.name]);
      const holder = sameName.getRows()[0]?.[0];
      if (holder !== undefined) {
        throw new FlagscopeError(
          'name_taken',
          `a valid API key is already named "${key.name}" (${String(holder)})`,
          'choose another name, or revoke that key first (`flagscope keys revoke NAME`); names tell keys apart in flag history',
          { details: { name: key.name, id: String(holder) } },
        );
      }
      const record = await this.inTransaction(async (c) => {
        const configVersion = await advanceConfigVersion(c, 1);
        await c.run(`INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)`, [
          key.id,
          key.name,
          key.hash,
          key.scopes.join(','),
          BigInt(Math.trunc(key.created_at)),
          key.created_by,
          BigInt(configVersion),
        ]);
        return { ...key, scopes: [...key.scopes], revoked_at: null, configVersion };
      });
      this.notifyKey(record);
      return record;
    });
  }

  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | undefined> {
    return this.serially(async () => {
      const reader = await this.connection.runAndReadAll(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
      const row = reader.getRows()[0];
      if (row === undefined) return undefined;
      const stored = rowToApiKey(row);
      if (stored.revoked_at !== null) return stored;
      const revoked = await this.inTransaction(async (c) => {
        const configVersion = await advanceConfigVersion(c, 1);
        await c.run('UPDATE api_keys SET revoked_at = $2, config_version = $3 WHERE id = $1', [
          id,
          BigInt(Math.trunc(at)),
          BigInt(configVersion),
        ]);
        return { ...stored, revoked_at: Math.trunc(at), configVersion };
      });
      this.notifyKey(revoked);
      return revoked;
    });
  }

  currentVersion(): Promise<number> {
    return this.serially(() => readConfigVersion(this.connection));
  }

  changesSince(configVersion: number): Promise<ControlChange[]> {
    return this.serially(() => readChangesSince(this.connection, configVersion));
  }

  listen(listener: (notice: ControlChangeNotice) => void): () => void {
    return this.notifier.listen(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => undefined);
    try {
      await this.connection.run('CHECKPOINT');
    } finally {
      this.connection.closeSync();
      this.instance.closeSync();
    }
  }

  /** The flags and their audit history, in this same database and on the same feed (flag-store.ts). */
  flagStore(): FlagStore {
    return createDuckDbFlagStore({
      runExclusive: (operation) => this.serially(() => operation(this.connection)),
      notify: (notice) => this.notifier.notify(notice),
      feed: this,
    });
  }

  /** The canaries, in this same database (canary-store.ts). */
  canaryStore(): CanaryStore {
    return createDuckDbCanaryStore((operation) => this.serially(() => operation(this.connection)));
  }

  /** The leases, in this same database (lease-store.ts). */
  leaseStore(): LeaseStore {
    return createDuckDbLeaseStore((operation) => this.serially(() => operation(this.connection)), this.leases);
  }

  beaconSettingsStore(): BeaconSettingsStore {
    return createDuckDbBeaconSettingsStore((operation) => this.serially(() => operation(this.connection)));
  }

  /** Runs `operation` in one transaction on the connection (the caller already holds it). */
  private async inTransaction<T>(operation: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    await this.connection.run('BEGIN TRANSACTION');
    try {
      const result = await operation(this.connection);
      await this.connection.run('COMMIT');
      return result;
    } catch (e) {
      await this.connection.run('ROLLBACK');
      throw e;
    }
  }

  private notifyKey(key: ApiKeyRecord): void {
    this.notifier.notify({ configVersion: key.configVersion, changes: [{ kind: 'key', configVersion: key.configVersion, key }] });
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed)
      return Promise.reject(new FlagscopeError('server_error', 'control store is closed', 'the server is shutting down; retry shortly'));
    const run = this.tail.then(operation, operation);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
