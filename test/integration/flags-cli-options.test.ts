import { describe, expect, it } from 'vitest';
import {
  buildContext,
  parseLooseValue,
  parseRollout,
  parseTargeting,
  parseVariants,
  splitTopLevel,
} from '../../src/cli/flags/parse-options.js';

describe('CLI flag option parsing', () => {
  it.each([
    ['on=true,off=false', { on: true, off: false }],
    ['small=10, large=50', { small: 10, large: 50 }],
    ['a=plain text,b="quoted"', { a: 'plain text', b: 'quoted' }],
    ['x={"a":1,"b":[1,2]},y={"a":2,"b":[]}', { x: { a: 1, b: [1, 2] }, y: { a: 2, b: [] } }],
    ['v=1.5e3', { v: 1500 }],
    ['n=null', { n: null }],
  ])('--variants %s', (text, expected) => {
    expect(parseVariants(text)).toEqual(expected);
  });

  it.each([
    ['on', /is not NAME=VALUE/],
    ['=true', /is not NAME=VALUE/],
    ['', /is empty/],
    ['a=1,a=2', /names a twice/],
  ])('refuses --variants %j', (text, message) => {
    expect(() => parseVariants(text)).toThrow(message);
  });

  it.each([
    ['on=5,off=95', { on: 5, off: 95 }],
    ['on=0.001,off=99.999', { on: 0.001, off: 99.999 }],
    ['on=25%,off=75%', { on: 25, off: 75 }],
  ])('--rollout %s', (text, expected) => {
    expect(parseRollout(text)).toEqual(expected);
  });

  it.each([
    ['on=10,off=80', /sum to 90, not 100/],
    ['on=x,off=100', /"x" for on is not a number/],
    ['on=,off=100', /"" for on is not a number/],
    ['on=50,on=50', /names on twice/],
  ])('refuses --rollout %j', (text, message) => {
    expect(() => parseRollout(text)).toThrow(message);
  });

  it('splits only on top-level commas', () => {
    expect(splitTopLevel('a=[1,2],b={"c":"x,y"},d="e,f"')).toEqual(['a=[1,2]', 'b={"c":"x,y"}', 'd="e,f"']);
  });

  it('reads values as JSON where they parse, else as text', () => {
    expect(parseLooseValue('42')).toBe(42);
    expect(parseLooseValue('de')).toBe('de');
    expect(parseLooseValue('"42"')).toBe('42');
  });

  it('builds an evaluation context from --context, --attr and --targeting-key, the later winning', () => {
    expect(buildContext({ context: '{"targetingKey":"a","plan":"free"}', attr: ['plan=pro', 'age=41'], targetingKey: 'b' })).toEqual({
      targetingKey: 'b',
      plan: 'pro',
      age: 41,
    });
    expect(() => buildContext({ context: '[1]' })).toThrow(/must be a JSON object/);
    expect(() => buildContext({ context: '{' })).toThrow(/not valid JSON/);
    expect(() => buildContext({ attr: ['nope'] })).toThrow(/is not NAME=VALUE/);
  });

  it('reads --targeting as JSON Logic, `none` removes it', () => {
    expect(parseTargeting('{"in": [{"var": "country"}, ["de"]]}')).toEqual({ in: [{ var: 'country' }, ['de']] });
    expect(parseTargeting('none')).toBeNull();
    expect(() => parseTargeting('{oops')).toThrow(/not valid JSON/);
  });
});
