/**
 * The control store: everything the server keeps besides events. Today that is
 * API keys; issue 3 adds flags, their audit history and kill-switch state behind
 * this same interface (embedded: DuckDB in `control.duckdb`; at scale: PostgreSQL).
 */

/** Scopes an API key can carry. `admin` implies every other scope. */
export const API_KEY_SCOPES = ['ingest', 'query', 'flags:read', 'flags:write', 'killswitch', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** One stored API key. Only the hash of the secret is ever stored. */
export interface ApiKeyRecord {
  /** Stable public identifier (`key_` + random), safe to show and log. */
  id: string;
  name: string;
  /** Hex sha256 of the secret key text. */
  hash: string;
  scopes: ApiKeyScope[];
  /** Unix milliseconds. */
  created_at: number;
  /** Name of the key that created this one; null for the bootstrap admin key. */
  created_by: string | null;
  /** Unix milliseconds of revocation; null while the key is valid. */
  revoked_at: number | null;
}

/** An API key as the management API shows it (never the hash). */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'hash'>;

export interface NewApiKey {
  id: string;
  name: string;
  hash: string;
  scopes: ApiKeyScope[];
  created_at: number;
  created_by: string | null;
}

export interface ControlStore {
  /** Every key, revoked ones included, oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Stores a new key; throws FlagscopeError('conflict') if the id or hash already exists. */
  createApiKey(key: NewApiKey): Promise<ApiKeyRecord>;
  /** Marks a key revoked; resolves to the updated record, or undefined when no key has that id. */
  revokeApiKey(id: string, at: number): Promise<ApiKeyRecord | undefined>;
  /** Finishes pending writes and closes the store. */
  close(): Promise<void>;
}

/** True when `scopes` grant `needed` (`admin` grants everything). */
export function scopesAllow(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** Type guard for a scope name. */
export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return typeof value === 'string' && (API_KEY_SCOPES as readonly string[]).includes(value);
}
