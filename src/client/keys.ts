/**
 * API keys: `/api/v1/keys` (docs/api.md, "Keys"); every call needs an admin key.
 */
import type { ApiKeyInfo, ApiKeyListResponse, ApiKeyScope, CreatedApiKey } from '../api/keys.js';
import type { HttpClient } from './http.js';

/** `POST /api/v1/keys`: the new key, with its secret shown this once. Not repeated: a retry could create two keys. */
export async function createApiKey(http: HttpClient, name: string, scopes: ApiKeyScope[]): Promise<CreatedApiKey> {
  return http.requestJson<CreatedApiKey>('POST', '/api/v1/keys', { name, scopes }, { idempotent: false });
}

/** `GET /api/v1/keys`: every key, revoked ones included, never their secrets. */
export async function listApiKeys(http: HttpClient): Promise<ApiKeyInfo[]> {
  return (await http.requestJson<ApiKeyListResponse>('GET', '/api/v1/keys')).keys;
}

/** `DELETE /api/v1/keys/{id}`: the revoked key's record. */
export async function revokeApiKey(http: HttpClient, id: string): Promise<ApiKeyInfo> {
  return http.requestJson<ApiKeyInfo>('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
}
