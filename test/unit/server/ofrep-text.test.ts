/**
 * The OFREP answers the routes send come from a cache of serialised successes: each text must
 * be exactly what serialising the answer gives, for successes, answers without a value, and
 * errors, also after the flag changes.
 */
import { describe, expect, it } from 'vitest';
import { evaluateFlag, validateFlagDefinition } from '../../../src/flags/index.js';
import { ofrepText, toOfrep } from '../../../src/server/ofrep/evaluation.js';

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
