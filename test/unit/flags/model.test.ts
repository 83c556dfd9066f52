import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../../src/errors.js';
import { rolloutFromPercentages, rolloutPercentage, validateFlag, validateFlagDefinition } from '../../../src/flags/index.js';

const base = {
  key: 'new-checkout',
  service: 'checkout',
  kind: 'release',
  variants: { on: true, off: false },
  defaultVariant: 'off',
};

function rejection(input: unknown, validate = validateFlagDefinition): FlagscopeError {
  try {
    validate(input);
  } catch (e) {
    if (e instanceof FlagscopeError) return e;
    throw e;
  }
  throw new Error('expected a validation error');
}

describe('validateFlagDefinition', () => {
  it('normalises a minimal flag', () => {
    expect(validateFlagDefinition(base)).toEqual({ ...base, state: 'enabled' });
  });

  it('turns rollout percentages into integer weights, keeping order', () => {
    const flag = validateFlagDefinition({ ...base, rollout: { on: 5, off: 95 } });
    expect(flag.rollout).toEqual({
      weights: [
        { variant: 'on', weight: 5 },
        { variant: 'off', weight: 95 },
      ],
      precision: 0,
    });
  });

  it('allows percentages as fine as 0.001% through thousandths', () => {
    const flag = validateFlagDefinition({ ...base, rollout: { on: 0.001, off: 99.999 } });
    expect(flag.rollout).toEqual({
      weights: [
        { variant: 'on', weight: 1 },
        { variant: 'off', weight: 99999 },
      ],
      precision: 3,
    });
    expect(rolloutPercentage(1, 3)).toBe('0.001');
    expect(rolloutFromPercentages({ on: 12.5, off: 87.5 }).precision).toBe(1);
  });

  it('accepts canonical weights', () => {
    const rollout = {
      weights: [
        { variant: 'on', weight: 250 },
        { variant: 'off', weight: 9750 },
      ],
      precision: 2,
    };
    expect(validateFlagDefinition({ ...base, rollout }).rollout).toEqual(rollout);
  });

  it('treats empty targeting as none and keeps valid targeting', () => {
    expect(validateFlagDefinition({ ...base, targeting: {} }).targeting).toBeUndefined();
    const targeting = { if: [{ ends_with: [{ var: 'email' }, '@corp.com'] }, 'on', null] };
    expect(validateFlagDefinition({ ...base, targeting }).targeting).toEqual(targeting);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a default variant that is not a variant', { defaultVariant: 'maybe' }, /default variant "maybe" is not a variant/],
    ['a kill switch without safe variant', { kind: 'kill-switch' }, /a kill switch needs a safe variant/],
    ['a safe variant that is not a variant', { kind: 'kill-switch', safeVariant: 'nope' }, /safe variant nope is not a variant/],
    ['a safe variant on a release flag', { safeVariant: 'off' }, /only kill-switch flags have a safe variant/],
    ['an invalid key', { key: 'bad key!' }, /invalid flag key "bad key!"/],
    ['a key starting with a dash', { key: '-x' }, /invalid flag key/],
    ['an over-long key', { key: 'k'.repeat(129) }, /invalid flag key/],
    ['an invalid service', { service: 'a/b' }, /invalid service name/],
    ['an unknown kind', { kind: 'toggle' }, /kind must be one of release, experiment, operational, kill-switch, permission/],
    ['no variants', { variants: {} }, /at least one variant/],
    ['mixed variant types', { variants: { on: true, off: 'no' } }, /variants mix boolean and string/],
    ['a null variant', { variants: { on: null }, defaultVariant: 'on' }, /variant on is null/],
    ['an invalid variant name', { variants: { 'o n': true }, defaultVariant: 'o n' }, /invalid variant name/],
    ['rollout percentages not summing to 100', { rollout: { on: 5, off: 90 } }, /rollout percentages sum to 95, not 100/],
    ['a negative percentage', { rollout: { on: -5, off: 105 } }, /outside 0–100/],
    ['a percentage above 100', { rollout: { on: 150 } }, /outside 0–100/],
    ['a percentage finer than 0.001%', { rollout: { on: 0.0001, off: 99.9999 } }, /finer than 0\.001%/],
    ['a non-finite percentage', { rollout: { on: Number.POSITIVE_INFINITY } }, /not a finite number/],
    [
      'a non-integer weight',
      {
        rollout: {
          weights: [
            { variant: 'on', weight: 2.5 },
            { variant: 'off', weight: 97.5 },
          ],
        },
      },
      /weight 2\.5 for on is not an integer/,
    ],
    [
      'a negative weight',
      {
        rollout: {
          weights: [
            { variant: 'on', weight: -1 },
            { variant: 'off', weight: 101 },
          ],
        },
      },
      /weight -1 for on is negative/,
    ],
    [
      'weights not summing to the precision total',
      {
        rollout: {
          weights: [
            { variant: 'on', weight: 1 },
            { variant: 'off', weight: 998 },
          ],
          precision: 1,
        },
      },
      /sum to 99.9, not 100/,
    ],
    ['a rollout naming an unknown variant', { rollout: { on: 50, maybe: 50 } }, /rollout names maybe, which is not a variant/],
    ['an unknown operator in targeting', { targeting: { regex: ['a', 'b'] } }, /invalid targeting: unknown JSON Logic operator "regex"/],
    ['wrong arity in targeting', { targeting: { '==': [1] } }, /invalid targeting: "==" in targeting takes 2 arguments/],
    [
      'non-integer fractional weights',
      {
        targeting: {
          fractional: [
            ['on', 0.5],
            ['off', 99.5],
          ],
        },
      },
      /non-integer weight 0\.5/,
    ],
    [
      'a fractional bucket naming an unknown variant',
      {
        targeting: {
          if: [
            true,
            {
              fractional: [
                ['on', 50],
                ['maybe', 50],
              ],
            },
            'off',
          ],
        },
      },
      /a fractional bucket names maybe, which is not a variant/,
    ],
    ['a non-http runbook', { runbookUrl: 'javascript:alert(1)' }, /is not an http\(s\) URL/],
    ['an unknown field', { colour: 'red' }, /unknown field colour/],
    ['a bad state', { state: 'on' }, /state must be enabled or disabled/],
  ])('rejects %s', (_name, change, message) => {
    const error = rejection({ ...base, ...change });
    expect(error.code).toBe('invalid_input');
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(message);
    expect(error.message).toBe(error.message.trim());
    expect(error.message.endsWith('.')).toBe(false);
  });

  it('rejects non-objects', () => {
    expect(rejection('flag').message).toBe('a flag must be a JSON object');
    expect(rejection({ ...base, key: 7 }).message).toBe('flag key is missing or not a string');
  });
});

describe('validateFlag', () => {
  const stored = {
    ...base,
    version: 3,
    createdBy: 'alice',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'bob',
    updatedAt: '2026-01-02T00:00:00.000Z',
    archived: false,
  };

  it('accepts a stored flag', () => {
    expect(validateFlag(stored)).toEqual({ ...stored, state: 'enabled' });
  });

  it('requires the bookkeeping fields', () => {
    expect(rejection({ ...stored, version: 0 }, validateFlag).message).toMatch(/version must be a positive integer/);
    expect(rejection({ ...stored, createdAt: 'yesterday' }, validateFlag).message).toMatch(/createdAt is not an ISO-8601 time/);
    expect(rejection({ ...stored, updatedBy: '' }, validateFlag).message).toMatch(/updatedBy is missing/);
  });

  it('does not accept bookkeeping fields in a definition', () => {
    expect(rejection(stored).message).toMatch(/unknown field version/);
  });
});

describe('validation hints', () => {
  it('every rejection says what to do: its own hint, or where the rules are', () => {
    const rejections = [
      () =>
        validateFlagDefinition({ key: 'f', service: 's', kind: 'release', variants: { on: true }, defaultVariant: 'on', description: 5 }),
      () =>
        validateFlagDefinition({ key: 'f', service: 's', kind: 'release', variants: { on: true }, defaultVariant: 'on', state: 'maybe' }),
      () => rolloutFromPercentages({ on: 150, off: -50 }, 'f'),
    ];
    for (const reject of rejections) {
      let error: unknown;
      try {
        reject();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FlagscopeError);
      expect((error as FlagscopeError).hint).toMatch(/\S/);
    }
  });
});
