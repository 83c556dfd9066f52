/**
 * Agreement with the reference JavaScript flagd evaluator, @openfeature/flagd-core 4.x:
 * every bucket our evaluator assigns must be the bucket flagd-core assigns, on
 * 100,000+ random targeting keys per split, and targeting rules must agree.
 */
import { FlagdCore } from '@openfeature/flagd-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  evaluateFlag,
  toFlagdDocument,
  validateFlagDefinition,
  type BucketHashing,
  type FlagDefinition,
} from '../../../src/flags/index.js';
import { mulberry32 } from '../../fixtures/random.js';

const keyCount = 100_000;

const prng = mulberry32;

const nonAsciiAlphabet = [
  'é',
  'ß',
  'ü',
  'ñ',
  'Ω',
  'ж',
  'ש',
  'ع',
  '中',
  '文',
  '吉',
  '日本',
  'ハ',
  '한',
  '🚀',
  '🦎',
  '👩‍💻',
  '😀',
  '🇫🇷',
  '\u00a0',
  '\u0301',
  '\uffff',
  '\u8000',
  '\ud800',
  '\udfff',
];

function randomKeys(count: number, seed: number): string[] {
  const rand = prng(seed);
  const keys: string[] = ['', 'a', 'user-1', '🚀', 'é'];
  while (keys.length < count) {
    const kind = rand();
    const length = Math.floor(rand() * 40);
    let key = '';
    if (kind < 0.02) {
      key = '';
    } else if (kind < 0.6) {
      for (let i = 0; i < length; i++) key += String.fromCharCode(32 + Math.floor(rand() * 95));
    } else if (kind < 0.75) {
      key = `user-${Math.floor(rand() * 1e9)}@example.com`;
    } else {
      for (let i = 0; i < length; i++) {
        key +=
          rand() < 0.5
            ? String.fromCharCode(32 + Math.floor(rand() * 95))
            : nonAsciiAlphabet[Math.floor(rand() * nonAsciiAlphabet.length)]!;
      }
    }
    keys.push(key);
  }
  return keys;
}

const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);

function flag(key: string, variants: string[], extra: Record<string, unknown>): FlagDefinition {
  return validateFlagDefinition({
    key,
    service: 'checkout',
    kind: 'release',
    variants: Object.fromEntries(variants.map((v) => [v, v])),
    defaultVariant: variants[variants.length - 1],
    ...extra,
  });
}

const splits: FlagDefinition[] = [
  flag('split-50-50', ['on', 'off'], { rollout: { on: 50, off: 50 } }),
  flag('split-1-99', ['on', 'off'], { rollout: { on: 1, off: 99 } }),
  flag('split-33-33-34', ['a', 'b', 'c'], { rollout: { a: 33, b: 33, c: 34 } }),
  flag('split-0.001', ['on', 'off'], { rollout: { on: 0.001, off: 99.999 } }),
  flag('split-0.5-fine', ['on', 'off'], {
    rollout: {
      weights: [
        { variant: 'on', weight: 1234 },
        { variant: 'off', weight: 98766 },
      ],
      precision: 3,
    },
  }),
  flag('split-five', ['v1', 'v2', 'v3', 'v4', 'v5'], { rollout: { v1: 10, v2: 20, v3: 30, v4: 15, v5: 25 } }),
  flag('fractional-targeting', ['red', 'green', 'blue'], {
    targeting: {
      fractional: [
        ['red', 7],
        ['green', 0],
        ['blue', 3],
        ['red', 0],
      ],
    },
  }),
  flag('fractional-unweighted', ['x', 'y', 'z'], { targeting: { fractional: [['x'], ['y'], ['z']] } }),
  flag('fractional-custom-key', ['a', 'b', 'c'], {
    targeting: { fractional: [{ var: 'email' }, ['a', 25], ['b', 25], ['c', 50]] },
  }),
  flag('fractional-custom-cat', ['a', 'b'], {
    targeting: { fractional: [{ cat: [{ var: '$flagd.flagKey' }, '/', { var: 'email' }] }, ['a', 999], ['b', 1]] },
  }),
  flag('fractional-huge-weights', ['a', 'b'], {
    targeting: {
      fractional: [
        ['a', 2147483000],
        ['b', 647],
      ],
    },
  }),
];

let core: FlagdCore;

beforeAll(() => {
  // flagd-core stamps $flagd.timestamp from the clock; pin it so both sides see the same.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  core = new FlagdCore();
  core.setConfigurations(JSON.stringify(toFlagdDocument(splits)));
});

afterAll(() => {
  vi.useRealTimers();
});

function contextFor(key: string): { targetingKey: string; email: string } {
  return { targetingKey: key, email: key };
}

function compareAll(f: FlagDefinition, keys: string[], hashing: BucketHashing) {
  let compared = 0;
  const mismatches: Array<{ key: string; ours: unknown; theirs: unknown }> = [];
  for (const key of keys) {
    const ctx = contextFor(key);
    const ours = evaluateFlag(f, ctx, 'string', { hashing });
    if (f.rollout !== undefined && key === '') {
      // A rollout without targeting key is an error for us; flagd serves the default variant.
      expect(ours.errorCode).toBe('TARGETING_KEY_MISSING');
      continue;
    }
    const theirs = core.resolveStringEvaluation(f.key, 'caller-default', ctx);
    compared++;
    if (ours.variant !== theirs.variant || ours.value !== theirs.value) {
      if (mismatches.length < 5) mismatches.push({ key, ours: ours.variant, theirs: theirs.variant });
    }
  }
  return { compared, mismatches };
}

describe('fractional bucketing agrees with @openfeature/flagd-core', () => {
  const keys = randomKeys(keyCount, 20260101);
  const asciiKeys = keys.filter(isAscii);
  const nonAsciiKeys = keys.filter((k) => !isAscii(k));

  it('draws a realistic key mix', () => {
    expect(keys.length).toBeGreaterThanOrEqual(keyCount);
    expect(nonAsciiKeys.length).toBeGreaterThan(10_000);
    expect(keys.filter((k) => k === '').length).toBeGreaterThan(100);
    expect(nonAsciiKeys.some((k) => /\p{Extended_Pictographic}/u.test(k))).toBe(true);
  });

  for (const f of splits) {
    it(`${f.key}: every key lands in flagd-core's bucket (flagd-core hashing, all keys)`, () => {
      const { compared, mismatches } = compareAll(f, keys, 'utf16-code-units');
      expect(mismatches).toEqual([]);
      expect(compared).toBe(f.rollout === undefined ? keys.length : keys.filter((k) => k !== '').length);
      expect(compared).toBeGreaterThanOrEqual(keyCount * 0.95);
    });

    it(`${f.key}: every ASCII key lands in flagd-core's bucket (UTF-8 hashing)`, () => {
      const { compared, mismatches } = compareAll(f, asciiKeys, 'utf8');
      expect(mismatches).toEqual([]);
      expect(compared).toBe(f.rollout === undefined ? asciiKeys.length : asciiKeys.filter((k) => k !== '').length);
    });
  }

  it('UTF-8 hashing differs from flagd-core on non-ASCII keys, as flagd-core does not hash UTF-8 bytes', () => {
    const f = splits[0]!;
    const { compared, mismatches } = compareAll(f, nonAsciiKeys.slice(0, 2000), 'utf8');
    expect(compared).toBe(2000);
    expect(mismatches.length).toBeGreaterThan(0);
  });

  it('the 50/50 split is balanced', () => {
    const nonEmpty = keys.filter((k) => k !== '');
    let on = 0;
    for (const key of nonEmpty) if (evaluateFlag(splits[0], { targetingKey: key }).variant === 'on') on++;
    expect(on / nonEmpty.length).toBeGreaterThan(0.49);
    expect(on / nonEmpty.length).toBeLessThan(0.51);
  });
});
