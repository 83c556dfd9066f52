/**
 * Flag shapes flagd serves besides plain targeting, against @openfeature/flagd-core 4.x: a
 * disabled flag, a flag without a default variant (static, with a rule that gives null, with
 * an `if` that has no else), and a flag with its own metadata. Each flag is evaluated by us and
 * by flagd-core from our flagd export, and the resolutions (value with the caller's default
 * filled in, variant, reason, error code, flag metadata) must be identical.
 */
import { FlagdCore } from '@openfeature/flagd-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateFlag, toFlagdDocument, validateFlagDefinition, type ExpectedType, type FlagDefinition } from '../../../src/flags/index.js';

const emailIsJobs = { '==': ['jobs@orange.com', { var: 'email' }] };

const definitions: FlagDefinition[] = [
  { key: 'off-bool', variants: { on: true, off: false }, defaultVariant: 'on', state: 'disabled' },
  { key: 'off-object', variants: { empty: {}, full: { a: 1 } }, defaultVariant: 'full', state: 'disabled' },
  { key: 'off-targeted', variants: { a: 'a', b: 'b' }, defaultVariant: 'a', state: 'disabled', targeting: { if: [emailIsJobs, 'b', 'a'] } },
  { key: 'no-default', variants: { on: true, off: false }, state: 'enabled' },
  { key: 'no-default-else-null', variants: { cfo: 'CFO', ceo: 'CEO' }, state: 'enabled', targeting: { if: [emailIsJobs, 'ceo', null] } },
  { key: 'no-default-no-else', variants: { cfo: 'CFO', ceo: 'CEO' }, state: 'enabled', targeting: { if: [emailIsJobs, 'ceo'] } },
  { key: 'no-default-unknown', variants: { cfo: 'CFO', ceo: 'CEO' }, state: 'enabled', targeting: { if: [emailIsJobs, 'ceo', 'cto'] } },
  {
    key: 'with-metadata',
    variants: { on: true, off: false },
    defaultVariant: 'on',
    state: 'enabled',
    metadata: { string: '1.0.2', integer: 2, float: 0.1, boolean: true },
  },
  {
    key: 'disabled-with-metadata',
    variants: { on: 1, off: 0 },
    defaultVariant: 'on',
    state: 'disabled',
    metadata: { owner: 'payments' },
  },
].map((d) => validateFlagDefinition({ service: 'web', kind: 'release', ...d }));

const callerDefaults: Record<ExpectedType, boolean | string | number | { caller: boolean }> = {
  boolean: false,
  string: 'caller',
  number: 7,
  object: { caller: true },
};
const contexts: Array<Record<string, string>> = [{}, { email: 'jobs@orange.com' }, { email: 'wozniak@orange.com', targetingKey: 'u-1' }];

function typeOf(flag: FlagDefinition): ExpectedType {
  const value = Object.values(flag.variants)[0];
  return typeof value === 'object' ? 'object' : (typeof value as ExpectedType);
}

let core: FlagdCore;
beforeAll(() => {
  core = new FlagdCore();
  core.setConfigurations(JSON.stringify(toFlagdDocument(definitions)));
});

describe('flag shapes agree with flagd-core', () => {
  for (const flag of definitions) {
    for (const context of contexts) {
      it(`${flag.key} for ${JSON.stringify(context)}`, () => {
        const type = typeOf(flag);
        const fallback = callerDefaults[type];
        const ours = evaluateFlag(flag, context, type, { hashing: 'utf16-code-units' });
        const theirs = core.resolve(type, flag.key, fallback, context);
        expect({
          value: ours.value ?? fallback,
          variant: ours.variant,
          reason: ours.reason,
          errorCode: ours.errorCode,
          flagMetadata: ours.flagMetadata,
        }).toEqual({
          value: theirs.value,
          variant: theirs.variant,
          reason: theirs.reason,
          errorCode: theirs.errorCode,
          flagMetadata: theirs.flagMetadata,
        });
      });
    }
  }
});

describe('the classes behind the agreement', () => {
  const byKey = new Map(definitions.map((f) => [f.key, f]));

  it("a disabled flag gives DISABLED and no value or variant, whatever type is asked, so the caller's default applies", () => {
    for (const type of ['boolean', 'string', 'number', 'object'] as const) {
      expect(evaluateFlag(byKey.get('off-object'), {}, type)).toEqual({
        reason: 'DISABLED',
        flagMetadata: { service: 'web', kind: 'release' },
      });
    }
  });

  it('a flag without a default variant gives DEFAULT and no value where no rule decides, and the variant where one does', () => {
    expect(evaluateFlag(byKey.get('no-default'), {})).toMatchObject({ reason: 'DEFAULT' });
    expect(evaluateFlag(byKey.get('no-default'), {}).value).toBeUndefined();
    expect(evaluateFlag(byKey.get('no-default-no-else'), { email: 'x@y' }).value).toBeUndefined();
    expect(evaluateFlag(byKey.get('no-default-else-null'), { email: 'jobs@orange.com' })).toMatchObject({
      value: 'CEO',
      variant: 'ceo',
      reason: 'TARGETING_MATCH',
    });
  });

  it("a flag's own metadata comes back under flagscope's own fields", () => {
    expect(evaluateFlag(byKey.get('with-metadata'), {}).flagMetadata).toEqual({
      string: '1.0.2',
      integer: 2,
      float: 0.1,
      boolean: true,
      service: 'web',
      kind: 'release',
    });
  });
});
