/**
 * The flag management endpoints under `/api/v1` (docs/api.md): flags, history, rollout,
 * archive, flagd export/import and the change stream. Kill-switch presses and the services
 * view are in `../buttons/`, OFREP evaluation in `../ofrep/`.
 */
import type { IncomingMessage } from 'node:http';
import { invalidInput } from '../../errors.js';
import {
  flagKinds,
  fromFlagdDocument,
  nullOnlyRules,
  toFlagdDocument,
  type Flag,
  type FlagdImportDefaults,
  type FlagKind,
} from '../../flags/index.js';
import { etagMatches, readJsonObject, sendJson, sendNotModified } from '../http-io.js';
import type { TimerScheduler } from '../../scheduler.js';
import type { Router, RouteRequest } from '../router.js';
import { definitionOf, isStale, type FlagChangeEvent, type FlagService } from './flag-service.js';

export interface FlagRouteDependencies {
  flags: FlagService;
  limits: { maxBodyBytes: number };
  now: () => number;
  /** The stream's keep-alive timer. */
  scheduler: TimerScheduler;
  /** Seconds between SSE keep-alive comments. Default 15. */
  streamHeartbeatSeconds?: number;
}

/** Adds the flag management and stream routes to `router`. */
export function registerFlagRoutes(router: Router, deps: FlagRouteDependencies): void {
  const { flags } = deps;
  router.add('GET', '/api/v1/flags', 'flags:read', (r) => listFlags(deps, r));
  router.add('POST', '/api/v1/flags', 'flags:write', async (r) => {
    const body = await readObject(deps, r.req, 'flag');
    const { reason, rest } = takeReason(body);
    const written = await flags.create(rest, who(r), reason);
    sendJson(r.res, 201, { flag: written.flag, configVersion: written.configVersion }, { etag: flagEtag(written.flag) });
  });
  router.add('GET', '/api/v1/flags/:key', 'flags:read', ({ req, res, params }) => {
    const flag = flags.get(params.key as string);
    const etag = flagEtag(flag);
    if (etagMatches(req.headers['if-none-match'], etag)) return sendNotModified(res, etag);
    sendJson(res, 200, { flag, stale: isStale(flag, deps.now()) }, { etag });
  });
  for (const [method, mode] of [
    ['PUT', 'replace'],
    ['PATCH', 'merge'],
  ] as const) {
    router.add(method, '/api/v1/flags/:key', 'flags:write', async (r) => {
      const expected = requiredIfMatch(r.req);
      const body = await readObject(deps, r.req, 'flag update');
      const { reason, rest } = takeReason(body);
      const written = await flags.update(r.params.key as string, expected, rest, mode, who(r), reason);
      sendJson(r.res, 200, { flag: written.flag, configVersion: written.configVersion }, { etag: flagEtag(written.flag) });
    });
  }
  router.add('POST', '/api/v1/flags/:key/archive', 'flags:write', async (r) => {
    const body = await readObject(deps, r.req, 'archive request', true);
    const { reason } = takeReason(body);
    const written = await flags.archive(r.params.key as string, optionalIfMatch(r.req), who(r), reason);
    sendJson(r.res, 200, { flag: written.flag, configVersion: written.configVersion });
  });
  router.add('GET', '/api/v1/flags/:key/history', 'flags:read', async ({ res, params, query }) => {
    const limit = Number(new URLSearchParams(query).get('limit') ?? 100);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw invalidInput('`limit` must be an integer from 1 to 10000');
    sendJson(res, 200, { key: params.key, history: await flags.history(params.key as string, limit) });
  });
  router.add('PUT', '/api/v1/flags/:key/rollout', 'flags:write', async (r) => {
    const body = await readObject(deps, r.req, 'rollout request');
    const { reason, rest } = takeReason(body);
    if (!('rollout' in rest))
      throw invalidInput(
        'rollout request needs "rollout": percentages per variant or null',
        'e.g. {"rollout": {"on": 5, "off": 95}, "reason": "ramp"}',
      );
    const written = await flags.setRollout(r.params.key as string, rest['rollout'], optionalIfMatch(r.req), who(r), reason);
    sendJson(r.res, 200, { flag: written.flag, configVersion: written.configVersion }, { etag: flagEtag(written.flag) });
  });
  router.add('GET', '/api/v1/export/flagd', 'flags:read', ({ res }) => {
    const snapshot = flags.snapshot();
    sendJson(res, 200, toFlagdDocument(snapshot.live), { etag: `"c${snapshot.configVersion}"` });
  });
  router.add('POST', '/api/v1/import/flagd', 'flags:write', async (r) => {
    const body = await readObject(deps, r.req, 'flagd document');
    const params = new URLSearchParams(r.query);
    const reason = params.get('reason') ?? '';
    const definitions = fromFlagdDocument(body, importDefaults(params));
    const warnings = nullOnlyRules(definitions);
    if (params.get('strict') === 'true' && warnings.length > 0) {
      throw invalidInput(
        `the document has targeting that can never give an answer: ${warnings.map((w) => `flag ${w.flag}: ${w.message}`).join('; ')}`,
        'fix those rules, or import without `strict` to take them as flagd does (they evaluate to null, or to PARSE_ERROR for a missing $ref)',
        { warnings },
      );
    }
    const outcome = await flags.importDefinitions(definitions, who(r), reason);
    sendJson(r.res, 200, { ...outcome, warnings });
  });
  router.add('GET', '/api/v1/stream', 'flags:read', (r) => streamChanges(deps, r));
}

/** `?service=S&kind=K` of an import: what flags whose metadata names none get. */
function importDefaults(params: URLSearchParams): FlagdImportDefaults {
  const defaults: FlagdImportDefaults = {};
  const service = params.get('service');
  if (service !== null) defaults.service = service;
  const kind = params.get('kind');
  if (kind !== null) {
    if (!(flagKinds as readonly string[]).includes(kind))
      throw invalidInput(`unknown kind ${JSON.stringify(kind)}`, `kinds are ${flagKinds.join(', ')}`);
    defaults.kind = kind as FlagKind;
  }
  return defaults;
}

function who(r: RouteRequest): string {
  return r.key?.name ?? 'anonymous';
}

function flagEtag(flag: Flag): string {
  return `"${flag.version}"`;
}

function parseVersionTag(text: string): number | undefined {
  const tag = text
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  const n = Number(tag);
  return /^\d+$/.test(tag) && Number.isSafeInteger(n) ? n : undefined;
}

function headerText(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function requiredIfMatch(req: IncomingMessage): number {
  const header = headerText(req, 'if-match');
  if (header === undefined) {
    throw invalidInput(
      'an update needs an `If-Match` header with the version you read',
      'send `If-Match: "VERSION"` (the ETag of GET /api/v1/flags/KEY)',
    );
  }
  const version = parseVersionTag(header);
  if (version === undefined)
    throw invalidInput(
      `\`If-Match\` ${JSON.stringify(header)} is not a flag version`,
      'send the ETag of GET /api/v1/flags/KEY, e.g. `If-Match: "3"`',
    );
  return version;
}

function optionalIfMatch(req: IncomingMessage): number | undefined {
  return headerText(req, 'if-match') === undefined ? undefined : requiredIfMatch(req);
}

function readObject(
  deps: FlagRouteDependencies,
  req: IncomingMessage,
  what: string,
  emptyIsObject = false,
): Promise<Record<string, unknown>> {
  return readJsonObject(req, deps.limits.maxBodyBytes, what, { emptyIsObject });
}

function takeReason(body: Record<string, unknown>): { reason: string; rest: Record<string, unknown> } {
  const { reason, ...rest } = body;
  if (reason !== undefined && reason !== null && typeof reason !== 'string') throw invalidInput('"reason" must be a string');
  return { reason: typeof reason === 'string' ? reason.trim() : '', rest };
}

function listFlags(deps: FlagRouteDependencies, { req, res, query }: RouteRequest): void {
  const params = new URLSearchParams(query);
  const kind = params.get('kind') ?? undefined;
  if (kind !== undefined && !(flagKinds as readonly string[]).includes(kind)) {
    throw invalidInput(`unknown kind ${JSON.stringify(kind)}`, `kinds are ${flagKinds.join(', ')}`);
  }
  const snapshot = deps.flags.snapshot();
  const etag = `"c${snapshot.configVersion}-${query}"`;
  if (etagMatches(req.headers['if-none-match'], etag)) return sendNotModified(res, etag);
  const filter: Parameters<FlagService['list']>[0] = {};
  const service = params.get('service');
  if (service !== null) filter.service = service;
  if (kind !== undefined) filter.kind = kind as FlagKind;
  if (params.get('stale') === 'true') filter.stale = true;
  if (params.get('archived') === 'true') filter.includeArchived = true;
  const nowMs = deps.now();
  const list = deps.flags.list(filter).map((flag) => ({ ...flag, stale: isStale(flag, nowMs) }));
  sendJson(res, 200, { configVersion: snapshot.configVersion, flags: list }, { etag });
}

function streamChanges(deps: FlagRouteDependencies, { req, res }: RouteRequest): void {
  const snapshot = deps.flags.snapshot();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.socket?.setNoDelay(true);
  res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ configVersion: snapshot.configVersion })}\n\n`);
  const unsubscribe = deps.flags.subscribe((event: FlagChangeEvent) => {
    if (res.destroyed || res.writableEnded) return false;
    const { flag, ...rest } = event;
    res.write(`id: ${event.configVersion}\nevent: flag\ndata: ${JSON.stringify({ ...rest, flag: definitionWithVersion(flag) })}\n\n`);
    return true;
  });
  const heartbeat = deps.scheduler.setInterval(
    () => {
      if (!res.destroyed) res.write(': keep-alive\n\n');
    },
    (deps.streamHeartbeatSeconds ?? 15) * 1000,
  );
  let untrack: () => void = () => undefined;
  const end = (): void => {
    heartbeat.clear();
    unsubscribe();
    untrack();
  };
  untrack = deps.flags.trackStream(() => {
    end();
    res.end();
  });
  req.on('close', end);
  res.on('close', end);
}

function definitionWithVersion(flag: Flag): Record<string, unknown> {
  return { ...definitionOf(flag), version: flag.version, updatedBy: flag.updatedBy, updatedAt: flag.updatedAt, archived: flag.archived };
}
