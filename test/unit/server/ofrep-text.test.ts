/**
 * The OFREP answers the routes send come from a cache of serialised successes: each text must
 * be exactly what serialising the answer gives, for successes, answers without a value, and
 * errors, also after the flag changes. The context of a body is read as a depth check then a
 * parse would read it, though a short body that parses skips the check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateFlag, validateFlagDefinition } from '../../../src/flags/index.js';
import { depthOverflowAt, MAX_JSON_DEPTH, tooDeep } from '../../../src/ingest/json-text.js';
import { contextFromText, ofrepAnswer, ofrepText, toOfrep, type ContextOutcome } from '../../../src/server/ofrep/evaluation.js';

const base = validateFlagDefinition({
  key: 'new-checkout',
  service: 'checkout',
  kind: 'release',
  variants: { on: { n: 1 }, off: { n: 0 } },
  defaultVariant: 'off',
  targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', null] },
  metadata: { owner: 'web' },
});

describe('ofrepText', () => {
  it('is the serialised answer, the first time and from the cache', () => {
    const contexts = [{ plan: 'pro' }, { plan: 'free' }, { plan: 'pro' }, { plan: 'x', targetingKey: 7 }, { plan: 'free' }];
    for (const flag of [base, { ...base, state: 'disabled' as const }, { ...base, defaultVariant: undefined }, undefined]) {
      for (const context of contexts) {
        const result = evaluateFlag(flag, context);
        expect(ofrepText('new-checkout', result)).toBe(JSON.stringify(toOfrep('new-checkout', result)));
      }
    }
  });

  it('follows a flag changed in place', () => {
    const flag = structuredClone(base);
    expect(JSON.parse(ofrepText('new-checkout', evaluateFlag(flag, { plan: 'pro' }))).metadata.owner).toBe('web');
    flag.metadata = { owner: 'payments' };
    flag.variants['on'] = { n: 2 };
    const text = ofrepText('new-checkout', evaluateFlag(flag, { plan: 'pro' }));
    expect(JSON.parse(text)).toMatchObject({ value: { n: 2 }, metadata: { owner: 'payments' } });
  });
});

/** The reading the hot path must agree with: the depth check first, then the parse. */
function contextByCheckThenParse(text: string): ContextOutcome {
  if (text.length === 0) return { ok: true, context: {} };
  const deep = depthOverflowAt(text, MAX_JSON_DEPTH);
  if (deep !== -1) return { ok: false, errorCode: 'PARSE_ERROR', details: tooDeep('request body', deep).message };
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

describe('contextFromText', () => {
  const nested = (depth: number, inner = '1', open = '[', close = ']') => open.repeat(depth) + inner + close.repeat(depth);
  const fixed = [
    '',
    '{"context": {"targetingKey": "user-12345", "country": "de"}}',
    '{"context": null}',
    '{"context": [1]}',
    '[1, 2]',
    '{"context": ',
    `{"context": {"a": ${nested(MAX_JSON_DEPTH - 1)}}}`,
    `{"context": {"a": ${nested(MAX_JSON_DEPTH)}}}`,
    `{"context": {"a": ${nested(MAX_JSON_DEPTH - 1, '1', '{"x":', '}')}}}`,
    nested(MAX_JSON_DEPTH + 1),
    nested(MAX_JSON_DEPTH + 1).slice(0, -1),
    '['.repeat(MAX_JSON_DEPTH + 1),
    `{"context": {"s": "${'['.repeat(200)}"}}`,
    `{"context": {"s": "${'['.repeat(200)}"`,
  ];

  it('answers exactly as the depth check then the parse would, on fixed bodies around the depth limit', () => {
    for (const text of fixed) expect(contextFromText(text), text.slice(0, 60)).toEqual(contextByCheckThenParse(text));
    expect(contextFromText(nested(MAX_JSON_DEPTH + 1))).toMatchObject({ ok: false, errorCode: 'PARSE_ERROR' });
  });

  it('answers exactly as the depth check then the parse would, on generated JSON and broken JSON of any depth', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(1, 'x', '[{', null, true),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('a', 'b', '"', '['), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    const text = fc.oneof(
      value.map((v) => JSON.stringify({ context: v })),
      fc
        .tuple(fc.integer({ min: 0, max: 2 * MAX_JSON_DEPTH }), value)
        .map(([depth, v]) => `{"context": {"a": ${nested(depth, JSON.stringify(v))}}}`),
      fc.tuple(value, fc.nat()).map(([v, cut]) => {
        const whole = JSON.stringify({ context: v });
        return whole.slice(0, cut % (whole.length + 1));
      }),
      fc.tuple(fc.integer({ min: 0, max: 2 * MAX_JSON_DEPTH }), fc.nat(300)).map(([depth, cut]) => nested(depth).slice(0, cut)),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(contextFromText(t)).toEqual(contextByCheckThenParse(t));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('ofrepAnswer', () => {
  it('is the text of ofrepText with its status, byte length and head, the same object again for the same success', () => {
    const flag = validateFlagDefinition({ ...base, variants: { on: 'ünïcode', off: 'plain' } });
    const success = evaluateFlag(flag, { plan: 'pro' });
    const answer = ofrepAnswer('new-checkout', success);
    expect(answer).toEqual({
      status: 200,
      text: ofrepText('new-checkout', success),
      bytes: Buffer.byteLength(answer.text),
      head: ['content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(answer.text))],
    });
    expect(answer.bytes).toBeGreaterThan(answer.text.length);
    expect(ofrepAnswer('new-checkout', evaluateFlag(flag, { plan: 'pro' }))).toBe(answer);
    const other = ofrepAnswer('new-checkout', evaluateFlag(flag, { plan: 'free' }));
    expect(JSON.parse(other.text)).toMatchObject({ value: 'plain', variant: 'off' });
    expect(ofrepAnswer('missing', evaluateFlag(undefined, {}))).toMatchObject({ status: 404 });
  });
});
