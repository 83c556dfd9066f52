/**
 * Typed calls of the flag endpoints (docs/api.md, "Flags") over the generic
 * API client, shared by `flags`, `buttons` and `keys`.
 */
import type { ApiClient } from '../../client/api-client.js';
import type { Flag } from '../../flags/model.js';
import type { FlagHistoryEntry } from '../../api/flags.js';
import type { ButtonView } from '../../api/buttons.js';

export type ListedFlag = Flag & { stale: boolean };

/** The wire shape of a button is the server's own type (type-only: nothing of the server loads). */
export type { ButtonView };

export interface ServiceView {
  name: string;
  flags: number;
  buttons: ButtonView[];
}

export interface KillSwitchResponse {
  changed: boolean;
  message?: string;
  press?: { by: string; at: string; reason: string };
  flag: Flag;
  configVersion: number;
  subscribers: number;
  served: { everyone: true; variant: string; value: unknown } | { everyone: false; description: string };
}

export interface OfrepAnswer {
  key: string;
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  errorDetails?: string;
  metadata?: Record<string, unknown>;
}

const flagPath = (key: string): string => `/api/v1/flags/${encodeURIComponent(key)}`;

/** `GET /api/v1/flags` with the given filters. */
export async function listFlags(
  client: ApiClient,
  filter: { service?: string; kind?: string; stale?: boolean; archived?: boolean },
): Promise<{ configVersion: number; flags: ListedFlag[] }> {
  const params = new URLSearchParams();
  if (filter.service !== undefined) params.set('service', filter.service);
  if (filter.kind !== undefined) params.set('kind', filter.kind);
  if (filter.stale === true) params.set('stale', 'true');
  if (filter.archived === true) params.set('archived', 'true');
  const query = params.toString();
  return client.requestJson('GET', `/api/v1/flags${query === '' ? '' : `?${query}`}`);
}

/** `GET /api/v1/flags/{key}`. */
export async function getFlag(client: ApiClient, key: string): Promise<{ flag: Flag; stale: boolean }> {
  return client.requestJson('GET', flagPath(key));
}

/** `POST /api/v1/flags`; the definition may carry `reason`. */
export async function createFlag(client: ApiClient, definition: Record<string, unknown>): Promise<{ flag: Flag; configVersion: number }> {
  return client.requestJson('POST', '/api/v1/flags', definition, { idempotent: false });
}

/** `PATCH /api/v1/flags/{key}` with `If-Match: "version"`; 409 (exit 6) when the version is stale. */
export async function patchFlag(
  client: ApiClient,
  key: string,
  version: number,
  fields: Record<string, unknown>,
): Promise<{ flag: Flag; configVersion: number }> {
  return client.requestJson('PATCH', flagPath(key), fields, { headers: { 'if-match': `"${version}"` }, idempotent: false });
}

/** `PUT /api/v1/flags/{key}/rollout`; `rollout` null removes it. */
export async function setRollout(
  client: ApiClient,
  key: string,
  version: number | undefined,
  rollout: unknown,
  reason: string | undefined,
): Promise<{ flag: Flag; configVersion: number }> {
  const headers: Record<string, string> = version === undefined ? {} : { 'if-match': `"${version}"` };
  return client.requestJson(
    'PUT',
    `${flagPath(key)}/rollout`,
    { rollout, ...(reason === undefined ? {} : { reason }) },
    { headers, idempotent: false },
  );
}

/** `POST /api/v1/flags/{key}/archive`. */
export async function archiveFlag(
  client: ApiClient,
  key: string,
  reason: string | undefined,
): Promise<{ flag: Flag; configVersion: number }> {
  return client.requestJson('POST', `${flagPath(key)}/archive`, reason === undefined ? {} : { reason }, { idempotent: false });
}

/** `GET /api/v1/flags/{key}/history`, newest first. */
export async function flagHistory(client: ApiClient, key: string, limit: number): Promise<{ key: string; history: FlagHistoryEntry[] }> {
  return client.requestJson('GET', `${flagPath(key)}/history?limit=${limit}`);
}

/** `POST /api/v1/flags/{key}/press` or `/release` with a reason. */
export async function pressOrRelease(
  client: ApiClient,
  verb: 'press' | 'release',
  key: string,
  reason: string,
): Promise<KillSwitchResponse> {
  return client.requestJson('POST', `${flagPath(key)}/${verb}`, { reason }, { idempotent: true });
}

/** `GET /api/v1/services`: services with their kill-switch buttons. */
export async function listServices(client: ApiClient): Promise<{ configVersion: number; services: ServiceView[] }> {
  return client.requestJson('GET', '/api/v1/services');
}

/** `GET /api/v1/export/flagd`: the live flags as a flagd document. */
export async function exportFlagd(client: ApiClient): Promise<unknown> {
  return client.requestJson('GET', '/api/v1/export/flagd');
}

/** `POST /api/v1/import/flagd`: creates or updates flags from a flagd document. */
export async function importFlagd(
  client: ApiClient,
  document: unknown,
  reason: string | undefined,
): Promise<{ created: string[]; updated: string[]; unchanged: string[]; configVersion: number }> {
  const query = reason === undefined ? '' : `?reason=${encodeURIComponent(reason)}`;
  return client.requestJson('POST', `/api/v1/import/flagd${query}`, document, { idempotent: true });
}

/**
 * Evaluates a flag through OFREP. OFREP answers failures with 400/404 and its
 * own body (`errorCode`, `errorDetails`), so this reads the body of those too.
 */
export async function evaluateOfrep(
  connection: { apiUrl: string; apiKey?: string | undefined },
  key: string,
  context: Record<string, unknown>,
  timeoutMs: number,
): Promise<OfrepAnswer> {
  const [{ request }, { httpError, transportError }] = await Promise.all([import('undici'), import('../../client/api-client.js')]);
  const baseUrl = connection.apiUrl.replace(/\/+$/, '');
  const path = `/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (connection.apiKey !== undefined && connection.apiKey !== '') headers.authorization = `Bearer ${connection.apiKey}`;
  let status: number;
  let text: string;
  try {
    const response = await request(baseUrl + path, {
      method: 'POST',
      headers,
      body: JSON.stringify({ context }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (e) {
    throw transportError(e, baseUrl, timeoutMs);
  }
  if (status === 200 || status === 400 || status === 404) {
    try {
      const body = JSON.parse(text) as OfrepAnswer;
      if (typeof body === 'object' && body !== null && (body.errorCode !== undefined || status === 200)) return body;
    } catch {
      // fall through to the generic error
    }
  }
  throw httpError(status, text, 'POST', path, baseUrl);
}
