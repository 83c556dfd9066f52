/**
 * The flag endpoints: the management API under `/api/v1` (flags, history,
 * rollout, kill switches, services and their buttons, flagd export/import,
 * the change stream) and OFREP evaluation (docs/api.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidInput } from '../../errors.js';
import { flagKinds, fromFlagdDocument, toFlagdDocument, type Flag, type FlagKind } from '../../flags/index.js';
import { parseJsonBody, readBody, sendJson } from '../http-io.js';
import type { Router, RouteRequest } from '../router.js';
import { definitionOf, isStale, type FlagChangeEvent, type FlagService } from './flag-service.js';
import { etagMatches, evaluateAllFlags, evaluateOneFlag, ofrepConfiguration } from './ofrep.js';

export interface FlagRouteDependencies {
  flags: FlagService;
  maxBodyBytes: number;
  now: () => number;
  /** Seconds between SSE keep-alive comments. Default 15. */
  streamHeartbeatSeconds?: number;
}

/** Adds the flag management, stream and OFREP routes to `router`. */
export function registerFlagRoutes(router: Router, deps: FlagRouteDependencies): void {
  const { flags } = deps;
  router.add('POST', '/ofrep/v1/evaluate/flags/:key', 'flags:read', (r) => evaluateOneFlag(flags, deps.maxBodyBytes, deps.now, r));
  router.add('POST', '/ofrep/v1/evaluate/flags', 'flags:read', (r) => evaluateAllFlags(flags, deps.maxBodyBytes, deps.now, r));
  router.add('GET', '/ofrep/v1/configuration', 'flags:read', ofrepConfiguration);

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
    if (etagMatches(req.headers['if-none-match'], etag)) return notModified(res, etag);
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
  for (const verb of ['press', 'release'] as const) {
    router.add('POST', `/api/v1/flags/:key/${verb}`, 'killswitch', async (r) => {
      const body = await readObject(deps, r.req, `${verb} request`);
      const result = await flags.killSwitch(verb, r.params.key as string, who(r), body['reason']);
      const flag = result.flag;
      const servedVariant = flag.pressed !== undefined && flag.safeVariant !== undefined ? flag.safeVariant : undefined;
      sendJson(r.res, 200, {
        changed: result.changed,
        ...(result.message !== undefined ? { message: result.message } : {}),
        ...(result.press !== undefined ? { press: result.press } : {}),
        flag,
        configVersion: result.configVersion,
        subscribers: result.subscribers,
        served:
          servedVariant === undefined
            ? { everyone: false, description: describeServed(flag) }
            : { everyone: true, variant: servedVariant, value: flag.variants[servedVariant] },
      });
    });
  }
  router.add('GET', '/api/v1/services', 'flags:read', ({ res }) => {
    sendJson(res, 200, { configVersion: flags.snapshot().configVersion, services: servicesView(flags) });
  });
  router.add('GET', '/api/v1/export/flagd', 'flags:read', ({ res }) => {
    const snapshot = flags.snapshot();
    sendJson(res, 200, toFlagdDocument(snapshot.live), { etag: `"c${snapshot.configVersion}"` });
  });
  router.add('POST', '/api/v1/import/flagd', 'flags:write', async (r) => {
    const body = await readObject(deps, r.req, 'flagd document');
    const reason = new URLSearchParams(r.query).get('reason') ?? '';
    const definitions = fromFlagdDocument(body);
    const outcome = await flags.importDefinitions(definitions, who(r), reason);
    sendJson(r.res, 200, outcome);
  });
  router.add('GET', '/api/v1/stream', 'flags:read', (r) => streamChanges(deps, r));
}

function who(r: RouteRequest): string {
  return r.key?.name ?? 'anonymous';
}

function flagEtag(flag: Flag): string {
  return `"${flag.version}"`;
}

function notModified(res: ServerResponse, etag: string): void {
  res.writeHead(304, { etag });
  res.end();
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

async function readObject(
  deps: FlagRouteDependencies,
  req: IncomingMessage,
  what: string,
  emptyIsObject = false,
): Promise<Record<string, unknown>> {
  const text = (await readBody(req, deps.maxBodyBytes)).toString('utf8');
  if (text.length === 0 && emptyIsObject) return {};
  const value = parseJsonBody(text, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidInput(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
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
  if (etagMatches(req.headers['if-none-match'], etag)) return notModified(res, etag);
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

/** What a flag serves when no kill switch overrides it, in a few words. */
export function describeServed(flag: Flag): string {
  if (flag.archived) return 'archived: not served';
  if (flag.state === 'disabled') return `disabled: ${flag.defaultVariant} to everyone`;
  const parts: string[] = [];
  if (flag.targeting !== undefined) parts.push('targeting rules');
  if (flag.rollout !== undefined) {
    const scale = 10 ** flag.rollout.precision;
    parts.push(flag.rollout.weights.map((w) => `${w.variant} ${w.weight / scale}%`).join(', '));
  }
  if (parts.length === 0) return `${flag.defaultVariant} to everyone`;
  return `${parts.join(', then ')} (default ${flag.defaultVariant})`;
}

/** One quick red button as `GET /api/v1/services` shows it. */
export interface ButtonView {
  key: string;
  description: string | null;
  safeVariant: string;
  safeValue: unknown;
  state: 'armed' | 'pressed';
  pressed: { by: string; at: string; reason: string } | null;
  lastPress: { by: string; at: string; reason: string } | null;
  runbookUrl: string | null;
  serves: string;
  version: number;
}

/** Services with their flag counts and buttons (kill switches), pressed buttons first. */
export function servicesView(flags: FlagService): Array<{ name: string; flags: number; buttons: ButtonView[] }> {
  const byService = new Map<string, { name: string; flags: number; buttons: ButtonView[] }>();
  for (const flag of flags.snapshot().live) {
    let service = byService.get(flag.service);
    if (service === undefined) byService.set(flag.service, (service = { name: flag.service, flags: 0, buttons: [] }));
    service.flags += 1;
    if (flag.kind !== 'kill-switch' || flag.safeVariant === undefined) continue;
    const pressed = flag.pressed === undefined ? null : { by: flag.pressed.by, at: flag.pressed.at, reason: flag.pressed.reason };
    service.buttons.push({
      key: flag.key,
      description: flag.description ?? null,
      safeVariant: flag.safeVariant,
      safeValue: flag.variants[flag.safeVariant],
      state: pressed === null ? 'armed' : 'pressed',
      pressed,
      lastPress: flags.lastPress(flag.key) ?? null,
      runbookUrl: flag.runbookUrl ?? null,
      serves: pressed === null ? describeServed(flag) : `${flag.safeVariant} to everyone (pressed)`,
      version: flag.version,
    });
  }
  const services = [...byService.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const s of services) s.buttons.sort((a, b) => (a.state === b.state ? (a.key < b.key ? -1 : 1) : a.state === 'pressed' ? -1 : 1));
  return services;
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
  const heartbeat = setInterval(
    () => {
      if (!res.destroyed) res.write(': keep-alive\n\n');
    },
    (deps.streamHeartbeatSeconds ?? 15) * 1000,
  );
  heartbeat.unref();
  let untrack: () => void = () => undefined;
  const end = (): void => {
    clearInterval(heartbeat);
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
