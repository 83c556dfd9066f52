/**
 * flagd documents flagd loads and flagscope used to refuse: no default variant, flag and
 * flag-set metadata, computed and negative fractional weights, and rules that can only give
 * null (or a parse error). Each imports; the null-only parts are listed for a warning.
 */
import { describe, expect, it } from 'vitest';
import { evaluateFlag, fromFlagdDocument, nullOnlyRules, toFlagdDocument, validateFlagDefinition } from '../../../src/flags/index.js';

const variants = { a: 'a', b: 'b', fallback: 'fallback' };

function importOne(flag: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const [definition] = fromFlagdDocument({ flags: { f: { state: 'ENABLED', variants, ...flag } }, ...extra }, { service: 'svc' });
  return definition!;
}

describe('flagd import of what flagd loads', () => {
  it.each([
    ['null', { defaultVariant: null }],
    ['absent', {}],
  ])('a %s defaultVariant imports as no default variant and exports without one', (_name, flag) => {
    const definition = importOne(flag);
    expect(definition.defaultVariant).toBeUndefined();
    expect(toFlagdDocument([definition]).flags['f']).not.toHaveProperty('defaultVariant');
    expect(evaluateFlag(definition, {})).toEqual({ reason: 'DEFAULT', flagMetadata: { service: 'svc', kind: 'release' } });
  });

  it("keeps the flag's own metadata, the flag set's merged under it, and round-trips it", () => {
    const definition = importOne(
      { defaultVariant: 'a', metadata: { owner: 'team-a', version: 3 } },
      { metadata: { flagSetId: 'set-1', owner: 'set-owner', kind: 'operational' } },
    );
    expect(definition.metadata).toEqual({ flagSetId: 'set-1', owner: 'team-a', version: 3 });
    expect(definition.kind).toBe('operational');
    expect(fromFlagdDocument(toFlagdDocument([definition]))).toEqual([definition]);
  });

  it("refuses a flag whose own metadata takes one of flagscope's fields", () => {
    const definition = importOne({ defaultVariant: 'a' });
    expect(() => validateFlagDefinition({ ...definition, metadata: { service: 'x' } })).toThrow(
      /metadata key service is one of flagscope's own fields/,
    );
  });

  it('accepts fractional weights computed per call and negative weights (clamped to 0)', () => {
    const computed = importOne({
      defaultVariant: 'fallback',
      targeting: { fractional: [{ var: 'targetingKey' }, ['a', { if: [{ '==': [{ var: 'tier' }, 'premium'] }, 100, 0] }], ['b', 10]] },
    });
    expect(evaluateFlag(computed, { targetingKey: 'k', tier: 'basic' })).toMatchObject({ variant: 'b', reason: 'TARGETING_MATCH' });
    const negative = importOne({
      defaultVariant: 'fallback',
      targeting: { fractional: [{ var: 'targetingKey' }, ['a', -50], ['b', 100]] },
    });
    expect(evaluateFlag(negative, { targetingKey: 'anyone' })).toMatchObject({ variant: 'b' });
  });

  it.each([
    ['an unknown sem_ver comparison', { sem_ver: [{ var: 'v' }, '===', '1.0.0'] }, 'null', /unknown sem_ver comparison "==="/],
    ['sem_ver with two arguments', { sem_ver: [{ var: 'v' }, '='] }, 'null', /"sem_ver" in targeting takes 3 arguments, got 2/],
    ['starts_with with one argument', { starts_with: ['abc'] }, 'null', /"starts_with" in targeting takes 2 arguments, got 1/],
    ['ends_with with one argument', { ends_with: ['xyz'] }, 'null', /"ends_with" in targeting takes 2 arguments, got 1/],
    ['a $ref to no evaluator', { if: [{ $ref: 'nowhere' }, 'a', 'b'] }, 'parse-error', /\$ref to unknown evaluator nowhere/],
  ])('imports %s and names it as a rule that can never answer', (_name, targeting, outcome, message) => {
    const definition = importOne({ defaultVariant: 'fallback', targeting }, { $evaluators: { other: { var: 'x' } } });
    const [finding, ...rest] = nullOnlyRules([definition]);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({ flag: 'f', outcome });
    expect(finding!.message).toMatch(message);
    const result = evaluateFlag(definition, { v: '1.0.0' });
    if (outcome === 'null') expect(result).toMatchObject({ value: 'fallback', variant: 'fallback', reason: 'DEFAULT' });
    else expect(result).toMatchObject({ reason: 'ERROR', errorCode: 'PARSE_ERROR' });
  });

  it('finds nothing to warn about in ordinary targeting', () => {
    const definition = importOne({ defaultVariant: 'a', targeting: { if: [{ sem_ver: [{ var: 'v' }, '>=', '1.0.0'] }, 'b', null] } });
    expect(nullOnlyRules([definition])).toEqual([]);
  });
});
