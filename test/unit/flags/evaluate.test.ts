import { describe, expect, it } from 'vitest';
import { evaluateFlag, rolloutVariant, validateFlagDefinition, type FlagDefinition } from '../../../src/flags/index.js';

function flag(extra: Record<string, unknown> = {}): FlagDefinition {
  return validateFlagDefinition({
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    ...extra,
  });
}

describe('evaluateFlag reasons', () => {
  it('STATIC: no targeting, no rollout', () => {
    expect(evaluateFlag(flag(), {})).toEqual({
      value: false,
      variant: 'off',
      reason: 'STATIC',
      flagMetadata: { service: 'checkout', kind: 'release' },
    });
  });

  it('TARGETING_MATCH: targeting names a variant', () => {
    const f = flag({ targeting: { if: [{ ends_with: [{ var: 'email' }, '@corp.com'] }, 'on', null] } });
    expect(evaluateFlag(f, { email: 'a@corp.com' })).toMatchObject({ value: true, variant: 'on', reason: 'TARGETING_MATCH' });
  });

  it('DEFAULT: targeting returns null', () => {
    const f = flag({ targeting: { if: [{ ends_with: [{ var: 'email' }, '@corp.com'] }, 'on', null] } });
    expect(evaluateFlag(f, { email: 'a@else.com' })).toMatchObject({ value: false, variant: 'off', reason: 'DEFAULT' });
  });

  it('TARGETING_MATCH: a boolean or number result names the variant by its text, as flagd does', () => {
    const f = validateFlagDefinition({
      key: 'k',
      service: 's',
      kind: 'experiment',
      variants: { true: 'yes', false: 'no', '3': 'three' },
      defaultVariant: 'false',
      targeting: { if: [{ var: 'x' }, { '==': [1, 1] }, 3] },
    });
    expect(evaluateFlag(f, { x: 1 })).toMatchObject({ value: 'yes', variant: 'true' });
    expect(evaluateFlag(f, { x: 0 })).toMatchObject({ value: 'three', variant: '3' });
  });

  it('SPLIT: a percentage rollout buckets by targeting key', () => {
    const f = flag({ rollout: { on: 50, off: 50 } });
    const r = evaluateFlag(f, { targetingKey: 'user-1' });
    expect(r.reason).toBe('SPLIT');
    expect(r.variant).toBe(rolloutVariant('new-checkout', 'user-1', f.rollout!));
  });

  it('targeting falls through to the rollout when it returns null', () => {
    const f = flag({ targeting: { if: [{ '==': [{ var: 'tier' }, 'staff'] }, 'on', null] }, rollout: { on: 0, off: 100 } });
    expect(evaluateFlag(f, { targetingKey: 'u', tier: 'staff' })).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(f, { targetingKey: 'u', tier: 'guest' })).toMatchObject({ variant: 'off', reason: 'SPLIT' });
  });

  it("DISABLED: a disabled flag gives no value and no variant, so the caller's default applies", () => {
    const result = evaluateFlag(flag({ state: 'disabled', rollout: { on: 100, off: 0 } }), { targetingKey: 'u' }, 'boolean');
    expect(result).toEqual({ reason: 'DISABLED', flagMetadata: { service: 'checkout', kind: 'release' } });
  });

  it('a user keeps their variant as the percentage grows', () => {
    const steps = [1, 5, 25, 50, 100];
    const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    let previous = new Set<string>();
    for (const pct of steps) {
      const f = flag({ rollout: { on: pct, off: 100 - pct } });
      const on = new Set(keys.filter((k) => evaluateFlag(f, { targetingKey: k }).variant === 'on'));
      for (const k of previous) expect(on.has(k)).toBe(true);
      expect(Math.abs(on.size / keys.length - pct / 100)).toBeLessThan(0.03);
      previous = on;
    }
  });

  it('injects $flagd.flagKey and the given $flagd.timestamp, ignoring a spoofed $flagd', () => {
    const f = flag({
      targeting: {
        if: [
          { and: [{ '==': [{ var: '$flagd.flagKey' }, 'new-checkout'] }, { '>=': [{ var: '$flagd.timestamp' }, 1767225600] }] },
          'on',
          'off',
        ],
      },
    });
    expect(evaluateFlag(f, { $flagd: { flagKey: 'x', timestamp: 0 } }, undefined, { timestamp: 1767225600 }).variant).toBe('on');
    expect(evaluateFlag(f, {}, undefined, { timestamp: 1767225599 }).variant).toBe('off');
    expect(evaluateFlag(f, {}).variant).toBe('off');
  });
});

describe('evaluateFlag errors', () => {
  it('FLAG_NOT_FOUND for a missing or archived flag', () => {
    expect(evaluateFlag(undefined, {})).toEqual({ reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorMessage: 'flag not found' });
    expect(evaluateFlag({ ...flag(), archived: true }, {}).errorCode).toBe('FLAG_NOT_FOUND');
  });

  it('TARGETING_KEY_MISSING for a rollout without targeting key', () => {
    const f = flag({ rollout: { on: 10, off: 90 } });
    for (const ctx of [{}, { targetingKey: '' }, { targetingKey: null }]) {
      const r = evaluateFlag(f, ctx);
      expect(r).toMatchObject({ reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
      expect(r.value).toBeUndefined();
    }
  });

  it('INVALID_CONTEXT for a non-object context or a non-string targeting key', () => {
    expect(evaluateFlag(flag(), [] as never).errorCode).toBe('INVALID_CONTEXT');
    expect(evaluateFlag(flag(), { targetingKey: 42 }).errorCode).toBe('INVALID_CONTEXT');
  });

  it('TYPE_MISMATCH when the caller expects another type', () => {
    expect(evaluateFlag(flag(), {}, 'boolean')).toMatchObject({ value: false, reason: 'STATIC' });
    expect(evaluateFlag(flag(), {}, 'string')).toMatchObject({ reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
    const objects = validateFlagDefinition({ key: 'o', service: 's', kind: 'operational', variants: { a: { x: 1 } }, defaultVariant: 'a' });
    expect(evaluateFlag(objects, {}, 'object').value).toEqual({ x: 1 });
    expect(evaluateFlag(objects, {}, 'number').errorCode).toBe('TYPE_MISMATCH');
  });

  it('PARSE_ERROR for targeting that is not valid JSON Logic', () => {
    const f: FlagDefinition = { ...flag(), targeting: { regex: ['a', 'b'] } };
    expect(evaluateFlag(f, {})).toMatchObject({ reason: 'ERROR', errorCode: 'PARSE_ERROR' });
  });

  it('GENERAL when targeting names no variant, as flagd does', () => {
    const f = flag({ targeting: { var: 'choice' } });
    expect(evaluateFlag(f, { choice: 'maybe' })).toMatchObject({
      reason: 'ERROR',
      errorCode: 'GENERAL',
      errorMessage: "variant 'maybe' not found in flag with key 'new-checkout'",
    });
  });

  it('GENERAL when targeting cannot be evaluated for this context', () => {
    const f = flag({ targeting: { if: [{ '>': [{ var: 'age' }, 18] }, 'on', 'off'] } });
    expect(evaluateFlag(f, { age: 'old' })).toMatchObject({ reason: 'ERROR', errorCode: 'GENERAL' });
    expect(evaluateFlag(f, { age: 21 }).variant).toBe('on');
  });
});
