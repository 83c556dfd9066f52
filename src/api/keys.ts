/**
 * API keys as the management API and the CLI see them: scopes and the public record.
 * Shared by the server, the stores and the API client.
 */

/** Scopes an API key can carry. `admin` implies every other scope. */
export const API_KEY_SCOPES = ['ingest', 'query', 'flags:read', 'flags:write', 'killswitch', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** An API key as the management API shows it (never the hash). */
export interface ApiKeyInfo {
  /** Stable public identifier (`key_` + random), safe to show and log. */
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  /** Unix milliseconds. */
  created_at: number;
  /** Name of the key that created this one; null for the bootstrap admin key. */
  created_by: string | null;
  /** Unix milliseconds of revocation; null while the key is valid. */
  revoked_at: number | null;
}

/** True when `scopes` grant `needed` (`admin` grants everything). */
export function scopesAllow(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** Type guard for a scope name. */
export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return typeof value === 'string' && (API_KEY_SCOPES as readonly string[]).includes(value);
}

/** `POST /api/v1/keys`: the new key's record and, this once, its secret. */
export type CreatedApiKey = ApiKeyInfo & { key: string };

/** `GET /api/v1/keys`. */
export interface ApiKeyListResponse {
  keys: ApiKeyInfo[];
}

/** `DELETE /api/v1/keys/{id}`: the key's record; `already_revoked` when it was revoked before this call (nothing changed). */
export type RevokedApiKey = ApiKeyInfo & { already_revoked: boolean };

/** `GET /api/v1/whoami`: the key the request was made with (any valid key may ask). */
export interface WhoAmIResponse {
  key: Omit<ApiKeyInfo, 'revoked_at'>;
}
