/**
 * Targeting rules agree with @openfeature/flagd-core 4.x: each rule is both
 * evaluated by us and served by flagd-core from our flagd export, on a set of
 * contexts, and the outcomes (variant, or error kind) must be identical. A
 * rule's raw result is compared even when it is not a variant name, through
 * the "variant not found" error both evaluators report.
 */
import { FlagdCore } from '@openfeature/flagd-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { evaluateFlag, toFlagdDocument, validateFlagDefinition, type FlagDefinition } from '../../../src/flags/index.js';

const now = new Date('2026-03-01T12:00:00Z');
const nowSeconds = Math.floor(now.getTime() / 1000);

const rules: unknown[] = [
  { var: 'email' },
  { var: ['missing', 'fallback'] },
  { var: 'nested.x.y' },
  { var: 'nullish' },
  { var: ['nullish', 'fallback'] },
  { var: 'tags.1' },
  { var: 'email.length' },
  { var: 'targetingKey' },
  { var: '$flagd.flagKey' },
  { if: [{ '>': [{ var: '$flagd.timestamp' }, 1700000000] }, 'after', 'before'] },
  { if: [{ starts_with: [{ var: 'email' }, 'alice'] }, 'yes', 'no'] },
  { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'yes', 'no'] },
  { if: [{ starts_with: [{ var: 'age' }, '3'] }, 'yes', 'no'] },
  { starts_with: [{ var: 'email' }, 'bob'] },
  { ends_with: [{ var: 'email' }, { var: 'suffix' }] },
  { if: [{ sem_ver: [{ var: 'version' }, '>=', '1.2.0'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '^', '1.0.0'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '~', '1.2.9'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '<', '1.2.3'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '=', '1.2.3'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '!=', '1.2.3'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '>', '1.2.3-alpha.2'] }, 'yes', 'no'] },
  { if: [{ sem_ver: [{ var: 'version' }, '<=', '2'] }, 'yes', 'no'] },
  { sem_ver: [{ var: 'version' }, '>', '1.0'] },
  { if: [{ in: [{ var: 'email' }, ['alice@example.com', 'bob@example.com']] }, 'listed', 'unlisted'] },
  { if: [{ in: ['@example', { var: 'email' }] }, 'yes', 'no'] },
  { if: [{ in: ['a', { var: 'tags' }] }, 'yes', 'no'] },
  { if: [{ in: ['a', { var: 'missing' }] }, 'yes', 'no'] },
  { if: [{ '<': [{ var: 'age' }, 18] }, 'minor', { '<': [{ var: 'age' }, 65] }, 'adult', 'senior'] },
  { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'pro', { '==': [{ var: 'plan' }, 'team'] }, 'team'] },
  { if: [{ '==': [{ var: 'str' }, 10] }, 'yes', 'no'] },
  { if: [{ '===': [{ var: 'str' }, '10'] }, 'yes', 'no'] },
  { if: [{ '!==': [{ var: 'str' }, 10] }, 'yes', 'no'] },
  { if: [{ '<': [1, { var: 'age' }, 100] }, 'yes', 'no'] },
  { if: [{ '<=': [30, { var: 'age' }, 30] }, 'yes', 'no'] },
  { if: [{ '>': [{ var: 'str' }, 9] }, 'yes', 'no'] },
  { if: [{ '>=': [{ var: 'empty' }, 0] }, 'yes', 'no'] },
  { if: [{ '==': [null, 0] }, 'yes', 'no'] },
  { if: [{ '==': [{ var: 'missing' }, null] }, 'yes', 'no'] },
  { if: [{ '!=': [{ var: 'email' }, 'x'] }, 'yes', 'no'] },
  { if: [{ '==': [true, 1] }, 'yes', 'no'] },
  { if: [{ '<': ['a', 'b'] }, 'yes', 'no'] },
  { if: [{ '==': ['abc', 1] }, 'yes', 'no'] },
  { if: [{ '<': [{ var: 'tags' }, 1] }, 'yes', 'no'] },
  { if: [{ '!': [{ var: 'zero' }] }, 'yes', 'no'] },
  { if: [{ '!!': [{ var: 'tags' }] }, 'yes', 'no'] },
  { if: [{ '!!': { var: 'emptyList' } }, 'yes', 'no'] },
  { if: [{ '!': { var: 'emptyObject' } }, 'yes', 'no'] },
  { or: [{ var: 'zero' }, { var: 'empty' }, 'fallback'] },
  { and: [{ var: 'age' }, { var: 'email' }] },
  { and: [{ var: 'age' }, { var: 'zero' }] },
  { cat: ['a', { var: 'missing' }, 'b'] },
  { cat: [1, 2.5, true] },
  { cat: 'plain' },
  { cat: { var: 'tags' } },
  { substr: [{ var: 'email' }, 0, 5] },
  { substr: ['hello', -3] },
  { substr: ['hello', 1, -1] },
  { substr: ['hello', 2] },
  { '+': [1, '2', { var: 'age' }] },
  { '-': [10, 3] },
  { '-': { var: 'age' } },
  { '*': [2, { var: 'str' }] },
  { '/': [{ var: 'age' }, 4] },
  { '/': [1, 0] },
  { '%': [{ var: 'age' }, 7] },
  { '+': [{ var: 'email' }] },
  { '+': [{ var: 'missing' }, 1] },
  { min: [3, 1, 2] },
  { max: [{ var: 'age' }, 40] },
  { max: ['1', 2] },
  { merge: [[1, 2], 3, [4]] },
  { missing: ['email', 'nope', 'nested.x.y', 'nested.x.z'] },
  { missing_some: [1, ['email', 'nope']] },
  { missing_some: [2, ['email', 'nope']] },
  { if: [{ missing: ['email'] }, 'incomplete', 'complete'] },
  { map: [{ var: 'tags' }, { cat: [{ var: '' }, '!'] }] },
  { filter: [[1, 2, 3, 4], { '>': [{ var: '' }, 2] }] },
  { reduce: [[1, 2, 3], { '+': [{ var: 'accumulator' }, { var: 'current' }] }, 0] },
  { if: [{ all: [{ var: 'tags' }, { in: [{ var: '' }, ['a', 'b']] }] }, 'yes', 'no'] },
  { if: [{ all: [[], true] }, 'yes', 'no'] },
  { if: [{ some: [[1, 2], { '==': [{ var: '' }, 2] }] }, 'yes', 'no'] },
  { if: [{ none: [[1, 2], { '==': [{ var: '' }, 3] }] }, 'yes', 'no'] },
  { map: [{ var: 'missing' }, 1] },
  {
    if: [
      { '==': [{ var: 'country' }, 'FR'] },
      {
        fractional: [
          ['yes', 50],
          ['no', 50],
        ],
      },
      'no',
    ],
  },
  { fractional: [{ var: 'missing' }, ['yes', 50], ['no', 50]] },
  {
    fractional: [
      ['yes', 1],
      ['no', 0],
    ],
  },
  {
    fractional: [
      ['yes', 0],
      ['no', 0],
    ],
  },
  // A weight computed per call, a negative weight clamped to 0, a variant name computed per call.
  { fractional: [{ var: 'targetingKey' }, ['yes', { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 100, 0] }], ['no', 10]] },
  { fractional: [{ var: 'email' }, ['yes', -50], ['no', 100]] },
  { fractional: [{ var: 'email' }, [{ if: [{ '<': [{ var: 'age' }, 18] }, 'no', 'yes'] }, 50], ['fallback', 50]] },
  // Rules flagd loads that can only give null.
  { sem_ver: [{ var: 'version' }, '===', '1.0.0'] },
  { sem_ver: [{ var: 'version' }, '='] },
  { starts_with: ['abc'] },
  { if: [{ ends_with: [{ var: 'email' }] }, 'yes', 'no'] },
];

const contexts: Array<Record<string, unknown>> = [
  {
    targetingKey: 'user-1',
    email: 'alice@example.com',
    version: '1.2.3',
    age: 30,
    tags: ['a', 'b'],
    nested: { x: { y: 5 } },
    nullish: null,
    str: '10',
    zero: 0,
    empty: '',
    emptyList: [],
    emptyObject: {},
    plan: 'pro',
    country: 'FR',
    suffix: '.com',
  },
  { targetingKey: 'user-2', email: 'bob@corp.io', version: 'v2.0.0-rc.1', age: 70, tags: ['c'], plan: 'team', str: 'x', country: 'DE' },
  { targetingKey: 'ü-3', email: 'carol@example.com', version: '1.2', age: 12, plan: 'free', zero: 5, country: 'FR' },
  { email: 'dave@example.com', version: '1.2.3-beta.1', age: 65, $flagd: { flagKey: 'spoofed', timestamp: 1 } },
  { targetingKey: '', version: 'banana', age: '17', str: null },
  { targetingKey: 'user-6', version: '1.2.3+build.5', age: 18.5, tags: [], nested: { x: null } },
  { targetingKey: 'user-7', version: 1.2, age: -1, email: 42 },
];

function outcome(result: {
  variant?: string | undefined;
  reason?: string | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
}): string {
  if (result.errorCode !== undefined) {
    const notFound = /variant '([\s\S]*)' not found/i.exec(result.errorMessage ?? '');
    if (notFound) return `result:${notFound[1]}`;
    return `error:${result.errorCode}`;
  }
  if (result.reason === 'DEFAULT') return `default:${result.variant}`;
  return `result:${result.variant}`;
}

// Built without validation: rules our validator rejects must still evaluate as flagd does (PARSE_ERROR).
const flags: FlagDefinition[] = rules.map((targeting, i) => ({
  key: `rule-${i}`,
  service: 'web',
  kind: 'experiment',
  state: 'enabled',
  variants: { yes: 'yes', no: 'no', fallback: 'fallback' },
  defaultVariant: 'fallback',
  targeting,
}));

const rejectedByValidation = new Set(['{"if":[{"==":["abc",1]},"yes","no"]}', '{"/":[1,0]}', '{"max":["1",2]}']);

it('validation accepts every rule flagd can compile and rejects the ones it cannot', () => {
  for (const f of flags) {
    const name = JSON.stringify(f.targeting);
    if (rejectedByValidation.has(name)) {
      expect(() => validateFlagDefinition(f), name).toThrow(/always fails/);
    } else {
      expect(validateFlagDefinition(f).targeting, name).toEqual(f.targeting);
    }
  }
});

let core: FlagdCore;
beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now);
  core = new FlagdCore();
  core.setConfigurations(JSON.stringify(toFlagdDocument(flags)));
});
afterAll(() => {
  vi.useRealTimers();
});

describe('targeting rules agree with @openfeature/flagd-core', () => {
  it.each(flags.map((f, i) => [JSON.stringify(rules[i]), f] as const))('%s', (_name, flag) => {
    for (const context of contexts) {
      const ours = evaluateFlag(flag, context, undefined, { timestamp: nowSeconds, hashing: 'utf16-code-units' });
      const theirs = core.resolveStringEvaluation(flag.key, 'caller-default', context as never);
      expect({ context, outcome: outcome(ours) }).toEqual({ context, outcome: outcome(theirs) });
    }
  });
});
