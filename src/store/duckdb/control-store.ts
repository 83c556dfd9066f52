/**
 * The embedded control store on DuckDB.
 *
 * It lives in its own file (`<data-dir>/control.duckdb`), separate from the
 * event store's `events.duckdb`: DuckDB has one writer per database, so keeping
 * keys and flags in a second database means a key or flag write (or a kill-switch
 * press) never waits behind a large ingest transaction.
 *
 * Schema changes are numbered migrations recorded in `schema_version`; issue 3
 * appends its flag, audit and kill-switch tables as further migrations.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import { isApiKeyScope, type ApiKeyScope } from '../../api/keys.js';
import type { ApiKeyRecord, ControlStore, NewApiKey } from '../types.js';
import { createDuckDbFlagStore, FLAG_MIGRATIONS } from './flag-store.js';
import type { FlagStore } from '../types.js';

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
  return store;
}

export class DuckDbControlStore implements ControlStore {
  /** Every operation runs after the previous one: one connection, no interleaved transactions. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

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
      const reader = await this.connection.runAndReadAll(
        'SELECT id, name, hash, scopes, created_at, created_by, revoked_at FROM api_keys ORDER BY created_at, id',
      );
      return reader.getRows().map(rowToApiKey);
    });
  }

  createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.serially(async () => {
      const clash = await this.connection.runAndReadAll('SELECT count(*) FROM api_keys WHERE id = $1 OR hash = $2', [key.id, key.hash]);
      if (Number(clash.getRows()[0]?.[0] ?? 0) > 0) {
        throw new FlagscopeError('conflict', `api key ${key.id} already exists`, 'create the key again to get a fresh id');
      }
      await this.connection.run(
        'INSERT INTO api_keys (id, name, hash, scopes, created_at, created_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)',
        [key.id, key.name, key.hash, key.scopes.join(','), BigInt(Math.trunc(key.created_at)), key.created_by],
      );
      return { ...key, scopes: [...key.scopes], revoked_at: null };
    });
  }

  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | undefined> {
    return this.serially(async () => {
      await this.connection.run('UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, BigInt(Math.trunc(at))]);
      const reader = await this.connection.runAndReadAll(
        'SELECT id, name, hash, scopes, created_at, created_by, revoked_at FROM api_keys WHERE id = $1',
        [id],
      );
      const row = reader.getRows()[0];
      return row === undefined ? undefined : rowToApiKey(row);
    });
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

  /** The flags and their audit history, in this same database (src/store/control-flags.ts). */
  flagStore(): FlagStore {
    return createDuckDbFlagStore((operation) => this.serially(() => operation(this.connection)));
  }

  private serially<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed)
      return Promise.reject(new FlagscopeError('server_error', 'control store is closed', 'the server is shutting down; retry shortly'));
    const run = this.tail.then(operation, operation);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function rowToApiKey(row: DuckDBValue[]): ApiKeyRecord {
  const scopes = String(row[3] ?? '')
    .split(',')
    .filter((s): s is ApiKeyScope => isApiKeyScope(s));
  return {
    id: String(row[0]),
    name: String(row[1]),
    hash: String(row[2]),
    scopes,
    created_at: Number(row[4]),
    created_by: row[5] === null ? null : String(row[5]),
    revoked_at: row[6] === null ? null : Number(row[6]),
  };
}
