/**
 * The OFREP endpoints (docs/api.md, "OFREP"): single-flag and bulk evaluation (bulk with
 * `ETag` / `If-None-Match` → 304) and the provider configuration, scope `flags:read`.
 * The evaluation path is hot: the body takes the lean read of `readBodyText` (no promise, no
 * closure per request) and a success answer is written from its prepared text and head.
 */
import { createHash } from 'node:crypto';
import { etagMatches, readBodyText, sendJsonText, sendNotModified, sendPreparedJson, type BodyText } from '../http-io.js';
import type { RouteRequest, Router } from '../router.js';
import type { FlagService } from '../flags/flag-service.js';
import { contextFromText, evaluateAllText, evaluateOne, type ContextOutcome } from './evaluation.js';

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
  // Made once here, not per request: the body read hands the request back to them.
  const answerOne = (body: BodyText, request: RouteRequest): void => {
    try {
      answerOneFlag(deps, request, contextOf(body));
    } catch (e) {
      request.fail(request.req, request.res, e);
    }
  };
  const answerAll = (body: BodyText, request: RouteRequest): void => {
    try {
      answerAllFlags(deps, request, contextOf(body));
    } catch (e) {
      request.fail(request.req, request.res, e);
    }
  };
  const { maxBodyBytes } = deps.limits;
  router.add('POST', '/ofrep/v1/evaluate/flags/:key', 'flags:read', (r) => readBodyText(r.req, maxBodyBytes, answerOne, r));
  router.add('POST', '/ofrep/v1/evaluate/flags', 'flags:read', (r) => readBodyText(r.req, maxBodyBytes, answerAll, r));
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

/** `POST /ofrep/v1/evaluate/flags/{key}`, once its body is read. */
function answerOneFlag(deps: OfrepRouteDependencies, { res, params }: RouteRequest, parsed: ContextOutcome): void {
  const key = params.key as string;
  if (!parsed.ok) {
    sendJsonText(res, 400, JSON.stringify({ key, errorCode: parsed.errorCode, errorDetails: parsed.details }));
    return;
  }
  sendPreparedJson(res, evaluateOne(deps.flags, key, parsed.context, deps.now()));
}

/** `POST /ofrep/v1/evaluate/flags`, once its body is read: every live flag; `ETag` over the answer, `If-None-Match` → 304. */
function answerAllFlags(deps: OfrepRouteDependencies, { req, res }: RouteRequest, parsed: ContextOutcome): void {
  if (!parsed.ok) {
    sendJsonText(res, 400, JSON.stringify({ errorCode: parsed.errorCode, errorDetails: parsed.details }));
    return;
  }
  const text = evaluateAllText(deps.flags, parsed.context, deps.now());
  const etag = `"${createHash('sha1').update(text).digest('base64url')}"`;
  if (etagMatches(req.headers['if-none-match'], etag)) return sendNotModified(res, etag);
  sendJsonText(res, 200, text, { etag });
}
