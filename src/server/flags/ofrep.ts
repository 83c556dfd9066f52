/**
 * OpenFeature Remote Evaluation Protocol (OFREP) endpoints over the flag
 * snapshot: single-flag and bulk evaluation (bulk with `ETag` /
 * `If-None-Match` → 304), bodies and statuses as open-feature/protocol's
 * `service/openapi.yaml` defines them.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError } from '../../errors.js';
import { evaluateFlag, type EvaluationResult, type Flag } from '../../flags/index.js';
import { readBody, sendJsonText } from '../http-io.js';
import type { RouteRequest } from '../router.js';
import type { FlagService } from './flag-service.js';

/** One flag's OFREP answer: success (`value`) or failure (`errorCode`). */
export type OfrepEvaluation =
  | { key: string; value: unknown; reason: string; variant: string; metadata: Record<string, string | number | boolean> }
  | { key: string; errorCode: string; errorDetails: string; metadata?: Record<string, string | number | boolean> };

/** Turns an evaluation into OFREP's success or failure body. */
export function toOfrep(key: string, result: EvaluationResult): OfrepEvaluation {
  if (result.reason === 'ERROR' || result.value === undefined) {
    const failure: OfrepEvaluation = {
      key,
      errorCode: result.errorCode ?? 'GENERAL',
      errorDetails: result.errorMessage ?? 'evaluation failed',
    };
    if (result.flagMetadata !== undefined) failure.metadata = result.flagMetadata;
    return failure;
  }
  return { key, value: result.value, reason: result.reason, variant: result.variant as string, metadata: result.flagMetadata ?? {} };
}

type ContextOutcome =
  | { ok: true; context: Record<string, unknown> }
  | { ok: false; errorCode: 'PARSE_ERROR' | 'INVALID_CONTEXT'; details: string };

function readContext(text: string): ContextOutcome {
  if (text.length === 0) return { ok: true, context: {} };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return { ok: false, errorCode: 'PARSE_ERROR', details: `request body is not valid JSON: ${(e as Error).message}` };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      errorCode: 'INVALID_CONTEXT',
      details: 'request body must be a JSON object like {"context": {"targetingKey": "user-1"}}',
    };
  }
  const context = (body as Record<string, unknown>)['context'];
  if (context === undefined || context === null) return { ok: true, context: {} };
  if (typeof context !== 'object' || Array.isArray(context)) {
    return { ok: false, errorCode: 'INVALID_CONTEXT', details: '"context" must be a JSON object' };
  }
  return { ok: true, context: context as Record<string, unknown> };
}

function send(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  sendJsonText(res, status, text, headers);
}

/** True when the body can be read by `readSmallBodyThen`: uncompressed and declared within the limit. */
function isSmallPlainBody(req: IncomingMessage, maxBytes: number): boolean {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return false;
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) <= maxBytes;
}

/**
 * Reads a small uncompressed body with one listener per event and calls
 * `done` with its text (the hot path of OFREP: no stream iterator, no promise
 * per step). A read error becomes the PARSE_ERROR outcome, as in `contextOf`.
 */
function readSmallBodyThen(req: IncomingMessage, done: (outcome: ContextOutcome) => void): void {
  let first: Buffer | undefined;
  let rest: Buffer[] | undefined;
  let settled = false;
  req.on('data', (chunk: Buffer) => {
    if (first === undefined) first = chunk;
    else (rest ??= [first]).push(chunk);
  });
  req.on('end', () => {
    if (settled) return;
    settled = true;
    const body = rest !== undefined ? Buffer.concat(rest) : first;
    done(readContext(body === undefined ? '' : body.toString('utf8')));
  });
  req.on('error', (e) => {
    if (settled) return;
    settled = true;
    done({ ok: false, errorCode: 'PARSE_ERROR', details: `request body could not be read: ${e.message}` });
  });
}

/** Body text and parsed context of any other request body (compressed, chunked, oversize: 413). */
async function contextOf(req: IncomingMessage, maxBodyBytes: number): Promise<ContextOutcome> {
  try {
    return readContext((await readBody(req, maxBodyBytes)).toString('utf8'));
  } catch (e) {
    if (e instanceof FlagscopeError && e.code !== 'payload_too_large') return { ok: false, errorCode: 'PARSE_ERROR', details: e.message };
    throw e;
  }
}

/**
 * Reads the request context and runs `answer` with it: a small plain body by
 * the lean reader, with no promise (an error in `answer` goes to `fail`);
 * anything else by the general reader, as a promise.
 */
function withContext(
  { req, res, fail }: RouteRequest,
  maxBodyBytes: number,
  answer: (outcome: ContextOutcome) => void,
): Promise<void> | void {
  if (!isSmallPlainBody(req, maxBodyBytes)) return contextOf(req, maxBodyBytes).then(answer);
  readSmallBodyThen(req, (outcome) => {
    try {
      answer(outcome);
    } catch (e) {
      fail(req, res, e);
    }
  });
}

function evaluate(flag: Flag | undefined, context: Record<string, unknown>, nowMs: number): EvaluationResult {
  return evaluateFlag(flag, context, undefined, { timestamp: Math.floor(nowMs / 1000) });
}

/** `POST /ofrep/v1/evaluate/flags/{key}`: 200 success, 404 `FLAG_NOT_FOUND`, 400 other failures. */
export function evaluateOneFlag(flags: FlagService, maxBodyBytes: number, now: () => number, request: RouteRequest): Promise<void> | void {
  const { res } = request;
  const key = request.params.key as string;
  return withContext(request, maxBodyBytes, (parsed) => {
    if (!parsed.ok) {
      send(res, 400, JSON.stringify({ key, errorCode: parsed.errorCode, errorDetails: parsed.details }));
      return;
    }
    const body = toOfrep(key, evaluate(flags.snapshot().flags.get(key), parsed.context, now()));
    const status = 'errorCode' in body ? (body.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400) : 200;
    send(res, status, JSON.stringify(body));
  });
}

/** `POST /ofrep/v1/evaluate/flags`: every live flag; `ETag` over the answer, `If-None-Match` → 304. */
export function evaluateAllFlags(flags: FlagService, maxBodyBytes: number, now: () => number, request: RouteRequest): Promise<void> | void {
  return withContext(request, maxBodyBytes, (parsed) => answerAllFlags(flags, now, request.req, request.res, parsed));
}

function answerAllFlags(flags: FlagService, now: () => number, req: IncomingMessage, res: ServerResponse, parsed: ContextOutcome): void {
  if (!parsed.ok) {
    send(res, 400, JSON.stringify({ errorCode: parsed.errorCode, errorDetails: parsed.details }));
    return;
  }
  const nowMs = now();
  const results: OfrepEvaluation[] = [];
  for (const flag of flags.snapshot().live) results.push(toOfrep(flag.key, evaluate(flag, parsed.context, nowMs)));
  const text = JSON.stringify({ flags: results });
  const etag = `"${createHash('sha1').update(text).digest('base64url')}"`;
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, { etag });
    res.end();
    return;
  }
  send(res, 200, text, { etag });
}

/** The configuration answer never changes: serialised once. */
const CONFIGURATION_TEXT = JSON.stringify({
  name: 'flagscope',
  capabilities: {
    cacheInvalidation: { polling: { enabled: true, minPollingIntervalMs: 1000 } },
    flagEvaluation: { supportedTypes: ['boolean', 'string', 'int', 'float', 'object'] },
  },
});

/** `GET /ofrep/v1/configuration`: what the OFREP providers may rely on. */
export function ofrepConfiguration({ res }: RouteRequest): void {
  send(res, 200, CONFIGURATION_TEXT);
}

/** True when an `If-None-Match` header lists `etag` (or `*`). */
export function etagMatches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  for (const part of text.split(',')) {
    const tag = part.trim().replace(/^W\//, '');
    if (tag === '*' || tag === etag) return true;
  }
  return false;
}
