/**
 * API keys: `/api/v1/keys` (docs/api.md, "Keys"), where every call needs an admin key; and
 * `/api/v1/whoami`, which any valid key may call.
 */
import type { ApiKeyInfo, ApiKeyListResponse, ApiKeyScope, CreatedApiKey, RevokedApiKey, WhoAmIResponse } from '../api/keys.js';
import type { HttpClient } from './http.js';

/** `POST /api/v1/keys`: the new key, with its secret shown this once. Not repeated: a retry could create two keys. */
export async function createApiKey(http: HttpClient, name: string, scopes: ApiKeyScope[]): Promise<CreatedApiKey> {
  return http.requestJson<CreatedApiKey>('POST', '/api/v1/keys', { name, scopes }, { idempotent: false });
}

/** `GET /api/v1/keys`: every key, revoked ones included, never their secrets. */
export async function listApiKeys(http: HttpClient): Promise<ApiKeyInfo[]> {
  return (await http.requestJson<ApiKeyListResponse>('GET', '/api/v1/keys')).keys;
}

/** `DELETE /api/v1/keys/{id}`: the revoked key's record; `already_revoked` when nothing changed. */
export async function revokeApiKey(http: HttpClient, id: string): Promise<RevokedApiKey> {
  return http.requestJson<RevokedApiKey>('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
}

/** `GET /api/v1/whoami`: the key the client sends (name, id, scopes). */
export async function whoAmI(http: HttpClient): Promise<WhoAmIResponse['key']> {
  return (await http.requestJson<WhoAmIResponse>('GET', '/api/v1/whoami')).key;
}
