/**
 * The beacon endpoints (docs/api.md, "Beacons"): `POST /1/beacons/{dataset}` (scope `ingest`,
 * the key in a header or, for `navigator.sendBeacon`, in `?key=`, which must then be an
 * ingest-only key), its CORS preflight `OPTIONS /1/beacons/{dataset}`, and a dataset's beacon
 * settings, `GET` (scope `query`) and `PUT` (scope `admin`) `/api/v1/datasets/{dataset}/beacons`.
 * Thin: parse, authorise, call the beacon service, answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BeaconSettings, MAX_BEACON_BODY_BYTES } from '../../api/beacons.js';
import { validateDatasetName } from '../../api/dataset-name.js';
import { FlagscopeError } from '../../errors.js';
import { discardBody, parseJsonRequest, readBody, readJsonObject, sendEmpty, sendJson } from '../http-io.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { Router } from '../router.js';
import type { BeaconService } from './beacon-service.js';

export interface BeaconRouteDependencies {
  beacons: BeaconService;
  keys: KeyRing;
  /** The request body limit of the settings route. */
  limits: { maxBodyBytes: number };
}

/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/** Adds the beacon routes to `router`. */
export function registerBeaconRoutes(router: Router, deps: BeaconRouteDependencies): void {
  const { beacons } = deps;

  router.add('OPTIONS', '/1/beacons/:dataset', null, async ({ req, res, params }) => {
    await discardBody(req);
    const dataset = params.dataset as string;
    validateDatasetName(dataset);
    allowOrigin(req, res, await beacons.settingsOf(dataset), true);
    sendEmpty(res, 204, {
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, x-honeycomb-team, authorization',
      'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
    });
  });

  // Scope checked in the handler: the key may come in the URL, where the router does not look.
  router.add('POST', '/1/beacons/:dataset', null, async ({ req, res, params, query }) => {
    const dataset = params.dataset as string;
    validateDatasetName(dataset);
    allowOrigin(req, res, await beacons.settingsOf(dataset), false);
    authorizeBeacon(deps.keys, req, query);
    beacons.admit();
    const body = await readBody(req, MAX_BEACON_BODY_BYTES);
    const value = parseJsonRequest(body, 'beacon body');
    sendJson(res, 202, beacons.accept(dataset, value));
  });

  router.add('GET', '/api/v1/datasets/:dataset/beacons', 'query', async ({ req, res, params }) => {
    await discardBody(req);
    const dataset = params.dataset as string;
    validateDatasetName(dataset);
    sendJson(res, 200, await beacons.settingsOf(dataset));
  });

  router.add('PUT', '/api/v1/datasets/:dataset/beacons', 'admin', async ({ req, res, params }) => {
    const dataset = params.dataset as string;
    validateDatasetName(dataset);
    const change = await readJsonObject(req, deps.limits.maxBodyBytes, 'beacon settings', {
      hint: 'send {"allowed_origins": ["https://shop.example"], "execution_id_field": "execution_id"}',
    });
    sendJson(res, 200, await beacons.updateSettings(dataset, change));
  });
}

/**
 * CORS: a request without `Origin` (curl, a server) passes; one from an allowed origin gets it
 * echoed in `Access-Control-Allow-Origin` (on every answer, errors included); any other is
 * refused (403).
 */
function allowOrigin(req: IncomingMessage, res: ServerResponse, settings: BeaconSettings, preflight: boolean): void {
  const origin = req.headers.origin;
  if (origin === undefined) {
    if (!preflight) return;
    throw new FlagscopeError(
      'invalid_input',
      'a CORS preflight needs an `Origin` header',
      'browsers send it; nothing to do for other clients',
    );
  }
  res.setHeader('vary', 'Origin');
  if (!settings.allowed_origins.includes(origin)) {
    throw new FlagscopeError(
      'forbidden',
      `origin ${JSON.stringify(origin.slice(0, 200))} may not send beacons to dataset ${settings.dataset}`,
      `allow it: \`flagscope datasets beacons ${settings.dataset} --allow-origin ${origin.slice(0, 200)}\``,
    );
  }
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
}

/**
 * A beacon's key: `?key=` when given (it must be ingest-only: a URL ends up in logs and page
 * source), else the headers' key with the `ingest` scope.
 */
function authorizeBeacon(keys: KeyRing, req: IncomingMessage, query: string): void {
  const inUrl = query === '' ? null : new URLSearchParams(query).get('key');
  if (inUrl === null) {
    keys.authorize(req.headers, 'ingest');
    return;
  }
  const key = keys.find(inUrl);
  if (key === undefined) {
    throw new FlagscopeError(
      'unauthenticated',
      'API key in `?key=` is not valid or was revoked',
      'check the key; `flagscope keys list` shows the valid ones',
    );
  }
  if (key.scopes.length !== 1 || key.scopes[0] !== 'ingest') {
    throw new FlagscopeError(
      'forbidden',
      `API key "${key.name}" has the scopes ${key.scopes.join(', ')}: a key in a URL must hold the "ingest" scope alone (URLs end up in logs and page source)`,
      'create an ingest-only key for pages (`flagscope keys create --name web-beacons --scope ingest`), and revoke this one if it was published',
    );
  }
}
