/**
 * The targeting shorthand of `flags target`: the grammar compiles to flagd JSON Logic, and the
 * flag evaluator (src/flags/evaluate.ts) serves the targeted variant to the targeted keys and
 * contexts and the usual answer to everyone else. Also the toggle and the per-field diff.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  describeChange,
  describeRule,
  describeTargeting,
  diffFlags,
  editTargeting,
  evaluateFlag,
  parseTargetingRule,
  toggleFields,
  toggleVariants,
  validateFlagDefinition,
  type Flag,
  type FlagDefinition,
  type TargetingEdit,
} from '../../../src/flags/index.js';

function flag(overrides: Partial<FlagDefinition> = {}): FlagDefinition {
  return validateFlagDefinition({
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    state: 'enabled',
    ...overrides,
  });
}

function stored(definition: FlagDefinition, version = 1): Flag {
  return {
    ...definition,
    version,
    createdBy: 'alice',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'alice',
    updatedAt: '2026-01-01T00:00:00.000Z',
    archived: false,
  };
}

function apply(definition: FlagDefinition, ...edits: TargetingEdit[]): FlagDefinition {
  let targeting: unknown = definition.targeting ?? null;
  for (const edit of edits) targeting = editTargeting(targeting, edit, definition.variants).targeting;
  const { targeting: _old, ...rest } = definition;
  return validateFlagDefinition(targeting === null ? rest : { ...rest, targeting });
}

const variantFor = (definition: FlagDefinition, context: Record<string, unknown>) => evaluateFlag(definition, context).variant;

describe('the rule shorthand', () => {
  it.each([
    ['country in [DE,FR] => on', { in: [{ var: 'country' }, ['DE', 'FR']] }, 'on'],
    ['country not in [DE, "FR"] => off', { '!': { in: [{ var: 'country' }, ['DE', 'FR']] } }, 'off'],
    ['plan == pro => on', { '==': [{ var: 'plan' }, 'pro'] }, 'on'],
    ['age >= 18 and age < 65 => on', { and: [{ '>=': [{ var: 'age' }, 18] }, { '<': [{ var: 'age' }, 65] }] }, 'on'],
    [
      'plan == pro or (country in [DE] and beta == true) => on',
      { or: [{ '==': [{ var: 'plan' }, 'pro'] }, { and: [{ in: [{ var: 'country' }, ['DE']] }, { '==': [{ var: 'beta' }, true] }] }] },
      'on',
    ],
    ['email ends_with "@example.com" => on', { ends_with: [{ var: 'email' }, '@example.com'] }, 'on'],
    ['app.version semver >= 2.4.0 => on', { sem_ver: [{ var: 'app.version' }, '>=', '2.4.0'] }, 'on'],
    ["team == 'data eng' => on", { '==': [{ var: 'team' }, 'data eng'] }, 'on'],
    ['id in ["42", 42] => on', { in: [{ var: 'id' }, ['42', 42]] }, 'on'],
  ])('%s', (text, condition, variant) => {
    expect(parseTargetingRule(text)).toEqual({ condition, variant });
  });

  it.each([
    ['', /the rule is empty/],
    ['country in [DE,FR]', /expected `=> VARIANT`/],
    ['country in DE => on', /expected `\[` opening a list/],
    ['country in [] => on', /at least one value/],
    ['country in [DE => on', /expected `,` or `\]`/],
    ['country ~= DE => on', /expected in, not in/],
    ['and == x => on', /expected an attribute name/],
    ['plan == pro => on off', /expected the end of the rule/],
    ['plan == "pro => on', /quote opened here is not closed/],
    ['(plan == pro => on', /expected `\)`/],
    ['v semver ?? 1.0.0 => on', /unexpected|expected a semver comparison/],
  ])('refuses %j clearly', (text, message) => {
    expect(() => parseTargetingRule(text)).toThrow(message);
  });

  it('names where the rule went wrong and how to write one', () => {
    try {
      parseTargetingRule('country in DE => on');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain('at character 12');
      expect((e as { hint?: string }).hint).toContain("--rule 'country in [DE,FR] => on'");
    }
  });

  it('describes a compiled rule in the shorthand it came from', () => {
    for (const text of [
      'country in [DE, FR] => on',
      'country not in [DE] => off',
      'age >= 18 and plan == pro => on',
      'plan == pro or (country in [DE] and beta == true) => on',
      'app.version semver >= 2.4.0 => on',
      'id in ["42", 42] => on',
    ]) {
      const rule = parseTargetingRule(text);
      expect(describeRule(rule)).toBe(text);
      expect(parseTargetingRule(describeRule(rule))).toEqual(rule);
    }
  });
});

describe('targeting edits, evaluated by the flag evaluator', () => {
  it('serves the variant to the targeted keys and the rollout to everyone else', () => {
    const base = flag({
      rollout: {
        weights: [
          { variant: 'on', weight: 0 },
          { variant: 'off', weight: 100 },
        ],
        precision: 0,
      },
    });
    const targeted = apply(base, { type: 'add-keys', variant: 'on', keys: ['u1', 'u2'] });
    expect(evaluateFlag(targeted, { targetingKey: 'u1' })).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(targeted, { targetingKey: 'u2' })).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(targeted, { targetingKey: 'u3' })).toMatchObject({ variant: 'off', reason: 'SPLIT' });
  });

  it('serves a rule to the contexts it matches, keys first, and falls through for others', () => {
    const targeted = apply(
      flag(),
      { type: 'add-rule', rule: parseTargetingRule('country in [DE,FR] and plan == pro => on') },
      { type: 'add-keys', variant: 'off', keys: ['vip-off'] },
    );
    expect(variantFor(targeted, { targetingKey: 'a', country: 'DE', plan: 'pro' })).toBe('on');
    expect(variantFor(targeted, { targetingKey: 'a', country: 'FR', plan: 'pro' })).toBe('on');
    expect(evaluateFlag(targeted, { targetingKey: 'a', country: 'DE', plan: 'free' })).toMatchObject({ variant: 'off', reason: 'DEFAULT' });
    expect(variantFor(targeted, { targetingKey: 'a', country: 'US', plan: 'pro' })).toBe('off');
    expect(variantFor(targeted, { targetingKey: 'a', plan: 'pro' })).toBe('off');
    // Individual keys win over rules.
    expect(evaluateFlag(targeted, { targetingKey: 'vip-off', country: 'DE', plan: 'pro' })).toMatchObject({
      variant: 'off',
      reason: 'TARGETING_MATCH',
    });
  });

  it('treats a missing attribute as docs/flags.md says: no match, except `not in`; a mistyped comparison is an error', () => {
    const rule = (text: string) => apply(flag(), { type: 'add-rule', rule: parseTargetingRule(text) });
    expect(evaluateFlag(rule('plan == pro => on'), { targetingKey: 'a' })).toMatchObject({ variant: 'off', reason: 'DEFAULT' });
    expect(evaluateFlag(rule('country in [DE] => on'), { targetingKey: 'a' })).toMatchObject({ variant: 'off', reason: 'DEFAULT' });
    expect(evaluateFlag(rule('country not in [DE] => on'), { targetingKey: 'a' })).toMatchObject({ variant: 'on' });
    expect(evaluateFlag(rule('plan == pro => on'), { targetingKey: 'a', plan: 3 })).toMatchObject({
      reason: 'ERROR',
      errorCode: 'GENERAL',
    });
    expect(evaluateFlag(rule('v semver >= 1.2.0 => on'), { targetingKey: 'a', v: 'x' })).toMatchObject({ variant: 'off' });
    expect(evaluateFlag(rule('v semver >= 1.2.0 => on'), { targetingKey: 'a', v: '1.10.0' })).toMatchObject({ variant: 'on' });
    expect(evaluateFlag(rule('age >= 18 => on'), { targetingKey: 'a', age: '21' })).toMatchObject({ variant: 'on' });
  });

  it('keeps each key in one place, removes keys and rules, and clears', () => {
    let t = apply(
      flag(),
      { type: 'add-keys', variant: 'on', keys: ['u1', 'u2'] },
      { type: 'add-keys', variant: 'off', keys: ['u2', 'u3'] },
    );
    expect(describeTargeting(t.targeting)).toEqual(['targetingKey in [u1] => on', 'targetingKey in [u2, u3] => off']);
    expect(variantFor(t, { targetingKey: 'u2' })).toBe('off');
    t = apply(t, { type: 'remove-keys', keys: ['u1'] });
    expect(describeTargeting(t.targeting)).toEqual(['targetingKey in [u2, u3] => off']);
    expect(evaluateFlag(t, { targetingKey: 'u1' })).toMatchObject({ variant: 'off', reason: 'DEFAULT' });
    const rule = parseTargetingRule('plan == pro => on');
    t = apply(t, { type: 'add-rule', rule });
    expect(variantFor(t, { targetingKey: 'x', plan: 'pro' })).toBe('on');
    t = apply(t, { type: 'remove-rule', rule });
    expect(variantFor(t, { targetingKey: 'x', plan: 'pro' })).toBe('off');
    t = apply(t, { type: 'remove-keys', keys: ['u2', 'u3'] });
    expect(t.targeting).toBeUndefined();
    t = apply(flag({ targeting: { if: [true, 'on', null] } }), { type: 'clear' });
    expect(t.targeting).toBeUndefined();
  });

  it('keeps targeting of another shape as the fallback after its own rules', () => {
    const custom = { if: [{ starts_with: [{ var: 'email' }, 'admin'] }, 'on', null] };
    const wrapped = {
      fractional: [
        ['on', 50],
        ['off', 50],
      ],
    };
    const base = flag({ targeting: wrapped });
    const t = apply(base, { type: 'add-keys', variant: 'off', keys: ['u1'] });
    expect(t.targeting).toEqual({ if: [{ in: [{ var: 'targetingKey' }, ['u1']] }, 'off', wrapped] });
    expect(variantFor(t, { targetingKey: 'u1' })).toBe('off');
    for (const user of ['a', 'b', 'c', 'd']) expect(variantFor(t, { targetingKey: user })).toBe(variantFor(base, { targetingKey: user }));
    // An `if` chain written by hand is read as rules.
    expect(describeTargeting(custom)).toEqual(['email starts_with admin => on']);
  });

  it('refuses a variant the flag does not have, and removing a rule it does not have', () => {
    expect(() => editTargeting(null, { type: 'add-keys', variant: 'onn', keys: ['u1'] }, { on: true, off: false })).toThrow(
      /"onn" is not a variant of the flag/,
    );
    expect(() => editTargeting(null, { type: 'add-rule', rule: parseTargetingRule('a == 1 => yes') }, { on: true, off: false })).toThrow(
      /"yes" is not a variant/,
    );
    expect(() => editTargeting(null, { type: 'remove-rule', rule: parseTargetingRule('a == 1 => on') }, { on: true })).toThrow(
      /has no rule a == 1 => on/,
    );
  });

  it('reports adding what is there already as no change', () => {
    const t = apply(flag(), { type: 'add-keys', variant: 'on', keys: ['u1'] });
    const again = editTargeting(t.targeting, { type: 'add-keys', variant: 'on', keys: ['u1'] }, t.variants);
    expect(again.changed).toBe(false);
    expect(again.notes).toEqual(['u1 already → on']);
  });

  it('serves exactly the targeted keys their variant and leaves every other key as before (property)', () => {
    const key = fc.stringMatching(/^[a-z0-9-]{1,8}$/);
    fc.assert(
      fc.property(fc.uniqueArray(key, { minLength: 1, maxLength: 6 }), fc.array(key, { maxLength: 10 }), (targetedKeys, others) => {
        const base = flag({
          rollout: {
            weights: [
              { variant: 'on', weight: 30 },
              { variant: 'off', weight: 70 },
            ],
            precision: 0,
          },
        });
        const targeted = apply(base, { type: 'add-keys', variant: 'on', keys: targetedKeys });
        for (const k of targetedKeys) expect(variantFor(targeted, { targetingKey: k })).toBe('on');
        for (const k of others.filter((o) => !targetedKeys.includes(o))) {
          expect(variantFor(targeted, { targetingKey: k })).toBe(variantFor(base, { targetingKey: k }));
        }
      }),
    );
  });
});

describe('flags toggle', () => {
  it('finds on and off by true/false values or by the names on/off of a release flag', () => {
    expect(toggleVariants(flag({ kind: 'experiment', variants: { yes: true, no: false }, defaultVariant: 'no' }))).toEqual({
      on: 'yes',
      off: 'no',
    });
    expect(toggleVariants(flag({ variants: { on: 'v2', off: 'v1' } }))).toEqual({ on: 'on', off: 'off' });
  });

  it('refuses kill switches (pointing to buttons) and ambiguous variants', () => {
    const ks = flag({ kind: 'kill-switch', variants: { live: true, off: false }, defaultVariant: 'live', safeVariant: 'off' });
    expect(() => toggleVariants(ks)).toThrow(/is a kill switch: it is pressed and released, not toggled/);
    try {
      toggleVariants(ks);
    } catch (e) {
      expect((e as { hint?: string }).hint).toContain('flagscope buttons press new-checkout --reason TEXT');
    }
    expect(() => toggleVariants(flag({ variants: { small: 1, large: 2 }, defaultVariant: 'small' }))).toThrow(/ambiguous/);
    expect(() => toggleVariants(flag({ kind: 'experiment', variants: { on: 'a', off: 'b' }, defaultVariant: 'off' }))).toThrow(/ambiguous/);
  });

  it('--on enables, defaults to on and removes the rollout; --off disables with off as default', () => {
    const ramping = flag({
      rollout: {
        weights: [
          { variant: 'on', weight: 25 },
          { variant: 'off', weight: 75 },
        ],
        precision: 0,
      },
    });
    expect(toggleFields(ramping, 'on')).toEqual({ defaultVariant: 'on', rollout: null });
    expect(toggleFields(ramping, 'off')).toEqual({ state: 'disabled' });
    expect(toggleFields(flag({ state: 'disabled', defaultVariant: 'on' }), 'off')).toEqual({ defaultVariant: 'off' });
    expect(toggleFields(flag({ state: 'disabled' }), 'on')).toEqual({ state: 'enabled', defaultVariant: 'on' });
    expect(toggleFields(flag({ defaultVariant: 'on' }), 'on')).toEqual({});
  });
});

describe('per-field history diff', () => {
  it('lists every field that changed, description and single variants included', () => {
    const before = stored(flag({ description: 'old' }), 1);
    const after = stored(
      flag({ description: 'new', variants: { on: true, off: false }, defaultVariant: 'on', runbookUrl: 'https://wiki/x' }),
      2,
    );
    const changes = diffFlags(before, after);
    expect(changes).toEqual([
      { field: 'defaultVariant', before: 'off', after: 'on' },
      { field: 'description', before: 'old', after: 'new' },
      { field: 'runbookUrl', before: null, after: 'https://wiki/x' },
    ]);
    expect(changes.map(describeChange)).toEqual([
      'defaultVariant: "off" → "on"',
      'description: "old" → "new"',
      'runbookUrl: — → "https://wiki/x"',
    ]);
  });

  it('shows a creation as every field set, and variants, rollouts and targeting readably', () => {
    const created = stored(
      flag({
        rollout: {
          weights: [
            { variant: 'on', weight: 5 },
            { variant: 'off', weight: 95 },
          ],
          precision: 0,
        },
      }),
    );
    expect(diffFlags(null, created).map(describeChange)).toEqual([
      'service: — → "checkout"',
      'kind: — → "release"',
      'state: — → "enabled"',
      'defaultVariant: — → "off"',
      'variants.on: — → true',
      'variants.off: — → false',
      'rollout: — → on=5% off=95%',
    ]);
    const { version: _v, createdBy: _cb, createdAt: _ca, updatedBy: _ub, updatedAt: _ua, archived: _a, ...definition } = created;
    const targeted = stored(apply(definition, { type: 'add-keys', variant: 'on', keys: ['u1'] }), 2);
    expect(diffFlags(created, targeted).map(describeChange)).toEqual(['targeting: — → targetingKey in [u1] => on']);
    expect(diffFlags(targeted, { ...targeted, version: 3, updatedBy: 'bob' })).toEqual([]);
    expect(diffFlags(targeted, { ...targeted, archived: true })).toEqual([{ field: 'archived', before: false, after: true }]);
  });
});
