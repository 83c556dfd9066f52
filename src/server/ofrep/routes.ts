/**
 * The OFREP endpoints (docs/api.md, "OFREP"): single-flag and bulk evaluation (bulk with
 * `ETag` / `If-None-Match` → 304) and the provider configuration, scope `flags:read`.
 * The evaluation path is hot: the body takes the lean read of `readBodyText`, no promise.
 */
import { createHash } from 'node:crypto';
import { etagMatches, readBodyText, sendJsonText, sendNotModified, type BodyText } from '../http-io.js';
import type { RouteRequest, Router } from '../router.js';
import type { FlagService } from '../flags/flag-service.js';
import { contextFromText, evaluateAllText, evaluateOneText, type ContextOutcome } from './evaluation.js';

/** What the OFREP endpoints need from the server. */
export interface OfrepRouteDependencies {
  flags: FlagService;
  limits: { maxBodyBytes: number };
  now: () => number;
}

/** The configuration answer never changes: serialised once. */
const CONFIGURATION_TEXT = JSON.stringify({
  name: 'flagscope',
  capabilities: {
    cacheInvalidation: { polling: { enabled: true, minPollingIntervalMs: 1000 } },
    flagEvaluation: { supportedTypes: ['boolean', 'string', 'int', 'float', 'object'] },
  },
});

/** Adds the OFREP routes to `router`. */
export function registerOfrepRoutes(router: Router, deps: OfrepRouteDependencies): void {
  router.add('POST', '/ofrep/v1/evaluate/flags/:key', 'flags:read', (r) => evaluateOneFlag(deps, r));
  router.add('POST', '/ofrep/v1/evaluate/flags', 'flags:read', (r) => evaluateAllFlags(deps, r));
  router.add('GET', '/ofrep/v1/configuration', 'flags:read', ({ res }) => sendJsonText(res, 200, CONFIGURATION_TEXT));
}

/**
 * A request's context from its body: a refusal of the body policy is OFREP's PARSE_ERROR,
 * except an oversize body, which gets flagscope's 413 (thrown).
 */
function contextOf(body: BodyText): ContextOutcome {
  if (body.ok) return contextFromText(body.text);
  if (body.error.code === 'payload_too_large') throw body.error;
  return { ok: false, errorCode: 'PARSE_ERROR', details: body.error.message };
}

/** Reads the request context and runs `answer` with it; an error in `answer` goes to `fail`. */
function withContext(
  { req, res, fail }: RouteRequest,
  maxBodyBytes: number,
  answer: (outcome: ContextOutcome) => void,
): Promise<void> | void {
  return readBodyText(req, maxBodyBytes, (body) => {
    try {
      answer(contextOf(body));
    } catch (e) {
      fail(req, res, e);
    }
  });
}

/** `POST /ofrep/v1/evaluate/flags/{key}`. */
function evaluateOneFlag(deps: OfrepRouteDependencies, request: RouteRequest): Promise<void> | void {
  const { res } = request;
  const key = request.params.key as string;
  return withContext(request, deps.limits.maxBodyBytes, (parsed) => {
    if (!parsed.ok) {
      sendJsonText(res, 400, JSON.stringify({ key, errorCode: parsed.errorCode, errorDetails: parsed.details }));
      return;
    }
    const { status, text } = evaluateOneText(deps.flags, key, parsed.context, deps.now());
    sendJsonText(res, status, text);
  });
}

/** `POST /ofrep/v1/evaluate/flags`: every live flag; `ETag` over the answer, `If-None-Match` → 304. */
function evaluateAllFlags(deps: OfrepRouteDependencies, request: RouteRequest): Promise<void> | void {
  const { req, res } = request;
  return withContext(request, deps.limits.maxBodyBytes, (parsed) => {
    if (!parsed.ok) {
      sendJsonText(res, 400, JSON.stringify({ errorCode: parsed.errorCode, errorDetails: parsed.details }));
      return;
    }
    const text = evaluateAllText(deps.flags, parsed.context, deps.now());
    const etag = `"${createHash('sha1').update(text).digest('base64url')}"`;
    if (etagMatches(req.headers['if-none-match'], etag)) return sendNotModified(res, etag);
    sendJsonText(res, 200, text, { etag });
  });
}
