/**
 * The quick red buttons: `GET /api/v1/services` and the kill-switch press and
 * release (docs/api.md, "Kill switches").
 */
import type { PressResponse, ServiceButtons } from '../api/buttons.js';
import type { HttpClient } from './http.js';

/** `GET /api/v1/services`. */
export interface ServicesResponse {
  configVersion: number;
  services: ServiceButtons[];
}

/** `GET /api/v1/services`: services with their kill-switch buttons. */
export async function listServices(http: HttpClient): Promise<ServicesResponse> {
  return http.requestJson<ServicesResponse>('GET', '/api/v1/services');
}

/**
 * `POST /api/v1/flags/{key}/press` or `/release` with a reason. Repeating it
 * is safe: a second press of a pressed switch changes nothing.
 */
export async function pressOrRelease(http: HttpClient, verb: 'press' | 'release', key: string, reason: string): Promise<PressResponse> {
  return http.requestJson<PressResponse>(
    'POST',
    `/api/v1/flags/${encodeURIComponent(key)}/${verb}`,
    { reason },
    {
      idempotent: true,
      checkWith: 'flagscope buttons',
    },
  );
}
