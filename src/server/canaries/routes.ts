/**
 * The canary endpoints under `/api/v1/canaries` (docs/api.md, "Canaries"): list, start (or
 * check a plan with `dryRun`), read, and the steering commands. Thin: the controller's service
 * decides, {@link canaryView} shapes the answer. The ETag of a canary is `"<revision>"`; a
 * command with a stale `If-Match` is refused with 409.
 */
import type { IncomingMessage } from 'node:http';
import type { CanaryListResponse } from '../../api/canaries.js';
import { type CanaryTransition, isTerminal } from '../../canary/index.js';
import { FlagscopeError, invalidInput } from '../../errors.js';
import { etagMatches, readJsonObject, sendJson, sendNotModified } from '../http-io.js';
import type { FlagService } from '../flags/flag-service.js';
import type { RouteRequest, Router } from '../router.js';
import type { CanaryRecord } from './canary-repository.js';
import type { CanaryService } from './canary-service.js';
import { canaryDryRunView, canaryView } from './canary-view.js';
import { DEFAULT_CANARY_TICK_MS } from './controller-job.js';

export interface CanaryRouteDependencies {
  flags: FlagService;
  /** The controller's service (undefined until the controller has started). */
  canaries?: () => CanaryService | undefined;
  canaryTickMs?: number;
  limits: { maxBodyBytes: number };
  now: () => number;
}

/** Adds the canary routes to `router`. */
export function registerCanaryRoutes(router: Router, deps: CanaryRouteDependencies): void {
  router.add('GET', '/api/v1/canaries', 'flags:read', async ({ res, query }) => {
    const all = new URLSearchParams(query).get('all');
    if (all !== null && all !== 'true' && all !== 'false') throw invalidInput('`all` must be true or false');
    const records = (await service(deps).list()).filter((r) => all === 'true' || !isTerminal(r.state.status));
    // In flight first, then newest first.
    records.sort(
      (a, b) => Number(isTerminal(a.state.status)) - Number(isTerminal(b.state.status)) || b.state.createdAt - a.state.createdAt,
    );
    const answer: CanaryListResponse = { canaries: records.map((r) => view(deps, r)) };
    sendJson(res, 200, answer);
  });

  router.add('POST', '/api/v1/canaries', 'flags:write', async (r) => {
    const body = await readJsonObject(r.req, deps.limits.maxBodyBytes, 'canary start request', {
      hint: 'e.g. {"flag": "checkout_v2", "dataset": "checkout", "steps": [1, 5, 25, 50, 100], "interval": "10m"}',
    });
    const { reason, dryRun, ...plan } = body;
    if (dryRun !== undefined && typeof dryRun !== 'boolean') throw invalidInput('"dryRun" must be true or false');
    const why = reasonOf(reason);
    const canaries = service(deps);
    if (dryRun === true) {
      const checked = await canaries.preparePlan(plan);
      sendJson(r.res, 200, canaryDryRunView(checked, deps.now()));
      return;
    }
    const record = await canaries.start(plan, who(r), why);
    sendJson(r.res, 201, view(deps, record), { etag: etagOf(record) });
  });

  router.add('GET', '/api/v1/canaries/:flag', 'flags:read', async ({ req, res, params }) => {
    const record = await service(deps).get(params.flag as string);
    const etag = etagOf(record);
    if (etagMatches(req.headers['if-none-match'], etag)) return sendNotModified(res, etag);
    sendJson(res, 200, view(deps, record), { etag });
  });

  command(router, deps, 'ramp', 'flags:write', (body) => {
    const to = body['to'];
    if (typeof to !== 'number' || !Number.isFinite(to)) {
      throw invalidInput('a ramp needs "to": the percentage of a step of the plan', 'e.g. {"to": 25}');
    }
    const force = body['force'];
    if (force !== undefined && typeof force !== 'boolean') throw invalidInput('"force" must be true or false');
    if (force === true && reasonOf(body['reason']) === '') {
      throw invalidInput('a forced ramp needs a reason', 'pass {"force": true, "reason": "…"} (--force --reason TEXT)');
    }
    return force === true ? { type: 'ramp', to, force } : { type: 'ramp', to };
  });
  command(router, deps, 'promote', 'flags:write', () => ({ type: 'promote' }));
  command(router, deps, 'pause', 'flags:write', () => ({ type: 'pause', cause: 'manual' }));
  command(router, deps, 'resume', 'flags:write', () => ({ type: 'resume' }));
  command(router, deps, 'abort', ['flags:write', 'killswitch'], (body) => {
    if (reasonOf(body['reason']) === '') {
      throw invalidInput('an abort needs a reason', 'pass {"reason": "…"} (--reason TEXT): it goes to the timeline and the flag history');
    }
    return { type: 'abort' };
  });
}

/** A steering command: `POST /api/v1/canaries/{flag}/{verb}`, body `{reason?, …}`, optional `If-Match`. */
function command(
  router: Router,
  deps: CanaryRouteDependencies,
  verb: 'ramp' | 'promote' | 'pause' | 'resume' | 'abort',
  scope: Parameters<Router['add']>[2],
  actionOf: (body: Record<string, unknown>) => CanaryTransition,
): void {
  router.add('POST', `/api/v1/canaries/:flag/${verb}`, scope, async (r) => {
    const expected = ifMatchRevision(r.req);
    const body = await readJsonObject(r.req, deps.limits.maxBodyBytes, `${verb} request`, { emptyIsObject: true });
    const action = actionOf(body);
    const record = await service(deps).steer(r.params.flag as string, action, reasonOf(body['reason']), who(r), expected);
    sendJson(r.res, 200, view(deps, record), { etag: etagOf(record) });
  });
}

function service(deps: CanaryRouteDependencies): CanaryService {
  const canaries = deps.canaries?.();
  if (canaries === undefined) {
    throw new FlagscopeError('overloaded', 'the canary controller is starting', 'retry in a second', {
      details: { retryAfterSeconds: 1 },
    });
  }
  return canaries;
}

function view(deps: CanaryRouteDependencies, record: CanaryRecord): ReturnType<typeof canaryView> {
  let serviceName: string | null = null;
  try {
    serviceName = deps.flags.get(record.plan.flag).service;
  } catch {
    serviceName = null;
  }
  return canaryView(record, { service: serviceName, now: deps.now(), tickMs: deps.canaryTickMs ?? DEFAULT_CANARY_TICK_MS });
}

function etagOf(record: CanaryRecord): string {
  return `"${record.state.revision}"`;
}

function who(r: RouteRequest): string {
  return r.key?.name ?? 'anonymous';
}

function reasonOf(reason: unknown): string {
  if (reason === undefined || reason === null) return '';
  if (typeof reason !== 'string') throw invalidInput('"reason" must be a string');
  return reason.trim();
}

/** The revision of an `If-Match: "<revision>"` header, or undefined without one. */
function ifMatchRevision(req: IncomingMessage): number | undefined {
  const raw = req.headers['if-match'];
  const header = Array.isArray(raw) ? raw[0] : raw;
  if (header === undefined) return undefined;
  const tag = header
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  const n = Number(tag);
  if (!/^\d+$/.test(tag) || !Number.isSafeInteger(n)) {
    throw invalidInput(
      `\`If-Match\` ${JSON.stringify(header)} is not a canary revision`,
      'send the ETag of GET /api/v1/canaries/FLAG, e.g. `If-Match: "3"`',
    );
  }
  return n;
}
