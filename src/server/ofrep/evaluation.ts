/**
 * OpenFeature Remote Evaluation Protocol (OFREP) answers over the flag snapshot, as
 * open-feature/protocol's `service/openapi.yaml` defines their bodies and statuses.
 * No HTTP here but the prepared answers (http-io's `prepareJson`: text, length and head made
 * once per flag version and answer); `routes.ts` is the wire.
 */
import { evaluateFlag, type EvaluationResult, type Flag } from '../../flags/index.js';
import type { FlagService } from '../flags/flag-service.js';
import { depthOverflowAt, MAX_JSON_DEPTH, tooDeep } from '../../ingest/json-text.js';
import { prepareJson, type PreparedJson } from '../http-io.js';

/** One flag's OFREP answer: success (`value`) or failure (`errorCode`). */
export type OfrepEvaluation =
  | { key: string; value?: unknown; reason: string; variant?: string; metadata: Record<string, string | number | boolean> }
  | { key: string; errorCode: string; errorDetails: string; metadata?: Record<string, string | number | boolean> };

/** The evaluation context of a request body, or why the body does not hold one. */
export type ContextOutcome =
  | { ok: true; context: Record<string, unknown> }
  | { ok: false; errorCode: 'PARSE_ERROR' | 'INVALID_CONTEXT'; details: string };

/**
 * Turns an evaluation into OFREP's success or failure body. A success without a value
 * (a disabled flag, a flag without a default variant) tells the provider to use the
 * caller's default, as open-feature/protocol defines it.
 */
export function toOfrep(key: string, result: EvaluationResult): OfrepEvaluation {
  if (result.reason === 'ERROR') {
    const failure: OfrepEvaluation = {
      key,
      errorCode: result.errorCode ?? 'GENERAL',
      errorDetails: result.errorMessage ?? 'evaluation failed',
    };
    if (result.flagMetadata !== undefined) failure.metadata = result.flagMetadata;
    return failure;
  }
  if (result.value === undefined) return { key, reason: result.reason, metadata: result.flagMetadata ?? {} };
  return { key, value: result.value, reason: result.reason, variant: result.variant as string, metadata: result.flagMetadata ?? {} };
}

/** Reads `{"context": {...}}` from a request body's text (an empty body is an empty context). */
export function contextFromText(text: string): ContextOutcome {
  if (text.length === 0) return { ok: true, context: {} };
  // The answer is the one of a depth check first, then the parse; but a text that parses and is
  // shorter than twice the limit cannot be too deep (each level opens and closes), so a usual
  // context is scanned once, by the parse. V8's JSON.parse recurses on no stack, so a deep text
  // is safe to parse before it is refused.
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    const deep = depthOverflowAt(text, MAX_JSON_DEPTH);
    if (deep !== -1) return tooDeepBody(deep);
    return { ok: false, errorCode: 'PARSE_ERROR', details: `request body is not valid JSON: ${(e as Error).message}` };
  }
  if (text.length > 2 * MAX_JSON_DEPTH) {
    const deep = depthOverflowAt(text, MAX_JSON_DEPTH);
    if (deep !== -1) return tooDeepBody(deep);
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

/** The options of evaluations in one second: made once a second, not once a request. */
let optionsOfSecond: { second: number; options: { timestamp: number } } = { second: Number.NaN, options: { timestamp: 0 } };

function tooDeepBody(at: number): ContextOutcome {
  return { ok: false, errorCode: 'PARSE_ERROR', details: tooDeep('request body', at).message };
}

function evaluate(flag: Flag | undefined, context: Record<string, unknown>, nowMs: number): EvaluationResult {
  const second = Math.floor(nowMs / 1000);
  if (optionsOfSecond.second !== second) optionsOfSecond = { second, options: { timestamp: second } };
  return evaluateFlag(flag, context, undefined, optionsOfSecond.options);
}

/**
 * Success answers already serialised and prepared to be written, per flag version: a flag's
 * evaluations differ only by variant and reason, so each (reason, variant) answer is built
 * once. Keyed by the evaluation's metadata object, which evaluation prepares once per flag
 * version; the value is compared too, so an answer never outlives what it says.
 */
const successAnswers = new WeakMap<object, Map<string, Map<string, { value: unknown; answer: PreparedJson }>>>();

/**
 * One flag's answer, serialised and prepared: `JSON.stringify(toOfrep(key, result))` with its
 * status (200 success, 404 `FLAG_NOT_FOUND`, 400 other failures), from a cache when it is a success.
 */
export function ofrepAnswer(key: string, result: EvaluationResult): PreparedJson {
  const metadata = result.flagMetadata;
  if (result.reason === 'ERROR' || metadata === undefined || !Object.isFrozen(metadata))
    return prepareJson(statusOf(result), JSON.stringify(toOfrep(key, result)));
  // By reason, then variant ('' for none): no key text is built per request.
  let byReason = successAnswers.get(metadata);
  if (byReason === undefined) {
    byReason = new Map();
    successAnswers.set(metadata, byReason);
  }
  let byVariant = byReason.get(result.reason);
  if (byVariant === undefined) {
    byVariant = new Map();
    byReason.set(result.reason, byVariant);
  }
  const variant = result.variant ?? '';
  const known = byVariant.get(variant);
  if (known !== undefined && known.value === result.value) return known.answer;
  const answer = prepareJson(200, JSON.stringify(toOfrep(key, result)));
  byVariant.set(variant, { value: result.value, answer });
  return answer;
}

/** {@link toOfrep}, serialised: `JSON.stringify(toOfrep(key, result))`, from a cache when the answer is a success. */
export function ofrepText(key: string, result: EvaluationResult): string {
  return ofrepAnswer(key, result).text;
}

function statusOf(result: EvaluationResult): number {
  if (result.reason !== 'ERROR') return 200;
  return result.errorCode === 'FLAG_NOT_FOUND' ? 404 : 400;
}

/** One flag's answer with its status: 200 success, 404 `FLAG_NOT_FOUND`, 400 other failures. */
export function evaluateOne(flags: FlagService, key: string, context: Record<string, unknown>, nowMs: number): PreparedJson {
  return ofrepAnswer(key, evaluate(flags.snapshot().flags.get(key), context, nowMs));
}

/** The bulk answer's text: every live flag's answer, sorted by key (the snapshot's order), built from the cached answers. */
export function evaluateAllText(flags: FlagService, context: Record<string, unknown>, nowMs: number): string {
  let text = '{"flags":[';
  let first = true;
  for (const flag of flags.snapshot().live) {
    if (!first) text += ',';
    first = false;
    text += ofrepText(flag.key, evaluate(flag, context, nowMs));
  }
  return `${text}]}`;
}
