import { describe, expect, it } from 'vitest';
import { parseRolloutAssignments, parseVariantAssignments, validateFlagDefinition } from '../../../src/flags/index.js';

describe('parseVariantAssignments', () => {
  it.each<[string, Record<string, unknown>]>([
    ['on=true,off=false', { on: true, off: false }],
    ['small=10, large=100', { small: 10, large: 100 }],
    ['red=#f00,blue=#00f', { red: '#f00', blue: '#00f' }],
    ['a={"limit":1,"tags":["x","y"]},b={"limit":2}', { a: { limit: 1, tags: ['x', 'y'] }, b: { limit: 2 } }],
    ['q="a,b",r=plain text', { q: 'a,b', r: 'plain text' }],
    ['e=', { e: '' }],
  ])('%s', (text, expected) => {
    expect(parseVariantAssignments(text)).toEqual(expected);
  });

  it.each([
    ['', /--variants is empty/],
    ['on', /"on" is not NAME=VALUE/],
    ['=true', /is not NAME=VALUE/],
    ['on=1,on=2', /on appears twice/],
  ])('rejects %j', (text, message) => {
    expect(() => parseVariantAssignments(text)).toThrow(message);
  });
});

describe('parseRolloutAssignments', () => {
  it('keeps order and decimals', () => {
    expect(Object.entries(parseRolloutAssignments('on=0.001,off=99.999%'))).toEqual([
      ['on', 0.001],
      ['off', 99.999],
    ]);
  });

  it('rejects non-numbers, and validation rejects sums other than 100', () => {
    expect(() => parseRolloutAssignments('on=five,off=95')).toThrow(/percentage "five" for on is not a number/);
    expect(() => parseRolloutAssignments('on=,off=95')).toThrow(/is not a number/);
    const rollout = parseRolloutAssignments('on=5,off=90');
    expect(() =>
      validateFlagDefinition({
        key: 'k',
        service: 's',
        kind: 'release',
        variants: parseVariantAssignments('on=true,off=false'),
        defaultVariant: 'off',
        rollout,
      }),
    ).toThrow(/rollout percentages sum to 95, not 100/);
  });
});
