/**
 * Browser beacons on the wire (docs/api.md, "Beacons"): a dataset's beacon settings
 * (`GET`/`PUT /api/v1/datasets/{dataset}/beacons`, `flagscope datasets beacons`) and their rules.
 * Shared by the server and the API client. Pure.
 */
import { invalidInput } from '../errors.js';
import { DEFAULT_EXECUTION_ID_FIELD } from '../ingest/beacons/beacon.js';

export { DEFAULT_EXECUTION_ID_FIELD };

/** The largest beacon request body, in bytes: a browser's `sendBeacon` cap. Larger bodies get 413. */
export const MAX_BEACON_BODY_BYTES = 65_536;
/** Most allowed origins per dataset. */
export const MAX_ALLOWED_ORIGINS = 100;
/** The longest execution id field name. */
const MAX_FIELD_NAME_LENGTH = 200;

/** A dataset's beacon settings. */
export interface BeaconSettings {
  dataset: string;
  /** Origins (`https://shop.example`) whose pages may send beacons; requests from other origins get 403. */
  allowed_origins: string[];
  /** The field holding each beacon's execution id. */
  execution_id_field: string;
}

/** The body of `PUT /api/v1/datasets/{dataset}/beacons`: the settings to change (absent ones stay). */
export interface BeaconSettingsChange {
  allowed_origins?: string[];
  execution_id_field?: string;
}

/** The settings of a dataset nobody configured. */
export function defaultBeaconSettings(dataset: string): BeaconSettings {
  return { dataset, allowed_origins: [], execution_id_field: DEFAULT_EXECUTION_ID_FIELD };
}

/**
 * An origin as browsers send it in `Origin` (`scheme://host[:port]`, no path), from what a
 * user wrote (a trailing slash is dropped). Throws `invalid_input` for anything else.
 */
export function parseOrigin(text: unknown): string {
  const hint = 'give an origin as the browser sends it, e.g. https://shop.example or http://127.0.0.1:8080';
  if (typeof text !== 'string' || text.length === 0 || text.length > 500) throw invalidInput('an allowed origin must be a URL', hint);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidInput(`allowed origin ${JSON.stringify(text)} is not a URL`, hint);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== text.replace(/\/$/, '')) {
    throw invalidInput(`allowed origin ${JSON.stringify(text)} is not an origin (scheme, host and port only)`, hint);
  }
  return url.origin;
}

/** Applies a change (a request body) to settings; throws `invalid_input` for a bad one, changing nothing. */
export function applyBeaconSettingsChange(current: BeaconSettings, change: Record<string, unknown>): BeaconSettings {
  const hint = 'send {"allowed_origins": ["https://shop.example"], "execution_id_field": "execution_id"} (either may be left out)';
  for (const name in change) {
    if (name !== 'allowed_origins' && name !== 'execution_id_field')
      throw invalidInput(`unknown beacon setting ${JSON.stringify(name)}`, hint);
  }
  const next = { ...current, allowed_origins: [...current.allowed_origins] };
  if (change.allowed_origins !== undefined) {
    if (!Array.isArray(change.allowed_origins)) throw invalidInput('allowed_origins must be an array of origins', hint);
    if (change.allowed_origins.length > MAX_ALLOWED_ORIGINS) {
      throw invalidInput(`at most ${MAX_ALLOWED_ORIGINS} allowed origins per dataset`, 'list the origins your pages are served from');
    }
    next.allowed_origins = [...new Set(change.allowed_origins.map(parseOrigin))];
  }
  if (change.execution_id_field !== undefined) {
    const field = change.execution_id_field;
    if (typeof field !== 'string' || field.length === 0 || field.length > MAX_FIELD_NAME_LENGTH || /[\u0000-\u001f]/.test(field)) {
      throw invalidInput(`execution_id_field must be a field name of 1-${MAX_FIELD_NAME_LENGTH} characters`, hint);
    }
    if (field.startsWith('beacon.') || field.startsWith('meta.')) {
      throw invalidInput(`execution_id_field ${JSON.stringify(field)} is in a namespace the server writes (beacon., meta.)`, hint);
    }
    next.execution_id_field = field;
  }
  return next;
}
