/**
 * The flag management endpoints (docs/api.md, "Flags"): list, get, create,
 * update with `If-Match`, rollout, archive, history, flagd export and import.
 */
import type { FlagdImportResponse, FlagGetResponse, FlagHistoryResponse, FlagListResponse, FlagWriteResponse } from '../api/flags.js';
import type { HttpClient } from './http.js';

const flagPath = (key: string): string => `/api/v1/flags/${encodeURIComponent(key)}`;
const ifMatch = (version: number): Record<string, string> => ({ 'if-match': `"${version}"` });

/** Filters of `GET /api/v1/flags`. */
export interface FlagListFilter {
  service?: string;
  kind?: string;
  stale?: boolean;
  archived?: boolean;
}

/** `GET /api/v1/flags` with the given filters. */
export async function listFlags(http: HttpClient, filter: FlagListFilter = {}): Promise<FlagListResponse> {
  const params = new URLSearchParams();
  if (filter.service !== undefined) params.set('service', filter.service);
  if (filter.kind !== undefined) params.set('kind', filter.kind);
  if (filter.stale === true) params.set('stale', 'true');
  if (filter.archived === true) params.set('archived', 'true');
  const query = params.toString();
  return http.requestJson<FlagListResponse>('GET', `/api/v1/flags${query === '' ? '' : `?${query}`}`);
}

/** `GET /api/v1/flags/{key}`. */
export async function getFlag(http: HttpClient, key: string): Promise<FlagGetResponse> {
  return http.requestJson<FlagGetResponse>('GET', flagPath(key));
}

/** `POST /api/v1/flags`; the definition may carry `reason`. */
export async function createFlag(http: HttpClient, definition: Record<string, unknown>): Promise<FlagWriteResponse> {
  return http.requestJson<FlagWriteResponse>('POST', '/api/v1/flags', definition, {
    idempotent: false,
    checkWith: 'flagscope flags list',
  });
}

/** `PATCH /api/v1/flags/{key}` with `If-Match: "version"`; 409 (exit 6) when the version is stale. */
export async function patchFlag(
  http: HttpClient,
  key: string,
  version: number,
  fields: Record<string, unknown>,
): Promise<FlagWriteResponse> {
  return http.requestJson<FlagWriteResponse>('PATCH', flagPath(key), fields, {
    headers: ifMatch(version),
    idempotent: false,
    checkWith: `flagscope flags history ${key}`,
  });
}

/** `PUT /api/v1/flags/{key}/rollout`; `rollout` null removes it. */
export async function setRollout(
  http: HttpClient,
  key: string,
  version: number | undefined,
  rollout: unknown,
  reason: string | undefined,
): Promise<FlagWriteResponse> {
  return http.requestJson<FlagWriteResponse>(
    'PUT',
    `${flagPath(key)}/rollout`,
    { rollout, ...(reason === undefined ? {} : { reason }) },
    { headers: version === undefined ? {} : ifMatch(version), idempotent: false, checkWith: `flagscope flags history ${key}` },
  );
}

/** `POST /api/v1/flags/{key}/archive`. */
export async function archiveFlag(http: HttpClient, key: string, reason: string | undefined): Promise<FlagWriteResponse> {
  return http.requestJson<FlagWriteResponse>('POST', `${flagPath(key)}/archive`, reason === undefined ? {} : { reason }, {
    idempotent: false,
    checkWith: `flagscope flags history ${key}`,
  });
}

/** `GET /api/v1/flags/{key}/history`, newest first. */
export async function flagHistory(http: HttpClient, key: string, limit: number): Promise<FlagHistoryResponse> {
  return http.requestJson<FlagHistoryResponse>('GET', `${flagPath(key)}/history?limit=${limit}`);
}

/** `GET /api/v1/export/flagd`: the live flags as a flagd document. */
export async function exportFlagd(http: HttpClient): Promise<unknown> {
  return http.requestJson('GET', '/api/v1/export/flagd');
}

/** `POST /api/v1/import/flagd`: creates or updates flags from a flagd document (repeating it changes nothing more). */
export async function importFlagd(
  http: HttpClient,
  document: unknown,
  reason: string | undefined,
  defaults: { service?: string; kind?: string; strict?: boolean } = {},
): Promise<FlagdImportResponse> {
  const params = new URLSearchParams();
  if (reason !== undefined) params.set('reason', reason);
  if (defaults.service !== undefined) params.set('service', defaults.service);
  if (defaults.kind !== undefined) params.set('kind', defaults.kind);
  if (defaults.strict === true) params.set('strict', 'true');
  const query = params.size === 0 ? '' : `?${params.toString()}`;
  return http.requestJson<FlagdImportResponse>('POST', `/api/v1/import/flagd${query}`, document, {
    idempotent: true,
    checkWith: 'flagscope flags list',
  });
}
