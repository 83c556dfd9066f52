import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../../src/errors.js';
import { evaluateJsonLogic, LogicEvaluationError, murmur3Utf8, validateJsonLogic } from '../../../src/flags/index.js';

const env = { hash: murmur3Utf8 };
const data = {
  targetingKey: 'user-1',
  email: 'alice@example.com',
  age: 30,
  str: '10',
  zero: 0,
  nullish: null,
  tags: ['a', 'b'],
  nested: { x: { y: 5 }, 'dot.key': 'dotted' },
  version: '1.2.3',
  $flagd: { flagKey: 'my-flag', timestamp: 1_700_000_000 },
};
const run = (logic: unknown, d: unknown = data) => evaluateJsonLogic(logic, d, env);

describe('JSON Logic operators', () => {
  it.each<[string, unknown, unknown]>([
    ['var', { var: 'email' }, 'alice@example.com'],
    ['var dotted path', { var: 'nested.x.y' }, 5],
    ['var escaped dot', { var: 'nested.dot\\.key' }, 'dotted'],
    ['var array index', { var: 'tags.1' }, 'b'],
    ['var default', { var: ['missing', 'dflt'] }, 'dflt'],
    ['var null takes default', { var: ['nullish', 'dflt'] }, 'dflt'],
    ['var missing', { var: 'missing.deep' }, null],
    ['var computed key', { var: { cat: ['ag', 'e'] } }, 30],
    ['var $flagd', { var: '$flagd.flagKey' }, 'my-flag'],
    ['var whole data', { var: '' }, data],
    ['if then', { if: [true, 'a', 'b'] }, 'a'],
    ['if else', { if: [false, 'a', 'b'] }, 'b'],
    ['if chain', { if: [false, 'a', { '==': [1, 1] }, 'b', 'c'] }, 'b'],
    ['if chain no else', { if: [false, 'a', false, 'b'] }, null],
    ['if single', { if: ['x'] }, 'x'],
    ['== coerces', { '==': [{ var: 'str' }, 10] }, true],
    ['== strings', { '==': ['a', 'a'] }, true],
    ['== null and 0', { '==': [null, 0] }, true],
    ['=== strict', { '===': [{ var: 'str' }, 10] }, false],
    ['!= coerces', { '!=': [1, '1'] }, false],
    ['!== strict', { '!==': [1, '1'] }, true],
    ['!', { '!': [{ var: 'zero' }] }, true],
    ['! unary', { '!': { var: 'email' } }, false],
    ['! empty array is falsy', { '!': [[]] }, true],
    ['!!', { '!!': [{ var: 'tags' }] }, true],
    ['!! empty object', { '!!': [{ var: 'nested.none' }] }, false],
    ['or returns first truthy', { or: [0, '', 'x', 'y'] }, 'x'],
    ['or returns last', { or: [0, false] }, false],
    ['and returns first falsy', { and: [1, 0, 2] }, 0],
    ['and returns last', { and: [1, 'z'] }, 'z'],
    ['<', { '<': [1, 2] }, true],
    ['< coerces', { '<': ['9', 10] }, true],
    ['< between', { '<': [1, { var: 'age' }, 31] }, true],
    ['< between exclusive', { '<': [1, 30, 30] }, false],
    ['<= between', { '<=': [30, { var: 'age' }, 30] }, true],
    ['>', { '>': [{ var: 'age' }, 29] }, true],
    ['>=', { '>=': [{ var: 'age' }, 31] }, false],
    ['< strings', { '<': ['a', 'b'] }, true],
    ['in array', { in: ['a', { var: 'tags' }] }, true],
    ['in string', { in: ['@example', { var: 'email' }] }, true],
    ['in missing', { in: ['a', { var: 'none' }] }, false],
    ['cat', { cat: ['a', 1, true] }, 'a1true'],
    ['cat single', { cat: 'x' }, 'x'],
    ['substr', { substr: ['hello', 1, 3] }, 'ell'],
    ['substr negative start', { substr: ['hello', -3] }, 'llo'],
    ['substr negative length', { substr: ['hello', 1, -1] }, 'ell'],
    ['+', { '+': [1, '2', 3.5] }, 6.5],
    ['+ unary cast', { '+': '5' }, 5],
    ['-', { '-': [10, 4] }, 6],
    ['- negate', { '-': [3] }, -3],
    ['*', { '*': [2, 3, 4] }, 24],
    ['/', { '/': [9, 2] }, 4.5],
    ['%', { '%': [10, 3] }, 1],
    ['min', { min: [3, 1, 2] }, 1],
    ['max', { max: [3, 1, 2] }, 3],
    ['merge', { merge: [[1, 2], 3, [4, [5]]] }, [1, 2, 3, 4, [5]]],
    ['missing', { missing: ['email', 'nope', 'nested.x.y', 'nested.x.z'] }, ['nope', 'nested.x.z']],
    ['missing with merge', { missing: { merge: ['email', 'nope'] } }, ['nope']],
    ['missing_some satisfied', { missing_some: [1, ['email', 'nope']] }, []],
    ['missing_some short', { missing_some: [2, ['email', 'nope']] }, ['nope']],
    ['map', { map: [[1, 2, 3], { '*': [{ var: '' }, 2] }] }, [2, 4, 6]],
    ['filter', { filter: [[1, 2, 3, 4], { '>': [{ var: '' }, 2] }] }, [3, 4]],
    ['reduce', { reduce: [[1, 2, 3], { '+': [{ var: 'accumulator' }, { var: 'current' }] }, 10] }, 16],
    ['all', { all: [[1, 2], { '>': [{ var: '' }, 0] }] }, true],
    ['all empty', { all: [[], true] }, false],
    ['some', { some: [[1, 2], { '==': [{ var: '' }, 2] }] }, true],
    ['none', { none: [[1, 2], { '==': [{ var: '' }, 3] }] }, true],
    ['starts_with', { starts_with: [{ var: 'email' }, 'alice'] }, true],
    ['ends_with', { ends_with: [{ var: 'email' }, '.org'] }, false],
    ['starts_with non-string', { starts_with: [{ var: 'age' }, '3'] }, null],
    ['sem_ver >=', { sem_ver: [{ var: 'version' }, '>=', '1.2.0'] }, true],
    ['sem_ver prerelease sorts first', { sem_ver: ['1.2.3-rc.1', '<', '1.2.3'] }, true],
    ['sem_ver numeric prerelease', { sem_ver: ['1.0.0-alpha.10', '>', '1.0.0-alpha.2'] }, true],
    ['sem_ver build ignored', { sem_ver: ['1.2.3+b5', '=', '1.2.3'] }, true],
    ['sem_ver v prefix and partial', { sem_ver: ['v1.2', '=', '1.2.0'] }, true],
    ['sem_ver caret', { sem_ver: ['1.9.0', '^', '1.0.0'] }, true],
    ['sem_ver tilde', { sem_ver: ['1.3.0', '~', '1.2.0'] }, false],
    ['sem_ver invalid', { sem_ver: ['banana', '=', '1.0.0'] }, null],
    ['sem_ver leading zero invalid', { sem_ver: ['01.0.0', '=', '1.0.0'] }, null],
    ['fractional with one bucket', { fractional: [['a', 1]] }, 'a'],
  ])('%s', (_name, logic, expected) => {
    expect(run(logic)).toEqual(expected);
  });

  it('fractional needs a targeting key unless a bucketing expression is given', () => {
    const { targetingKey: _omit, ...noKey } = data;
    expect(
      run(
        {
          fractional: [
            ['a', 1],
            ['b', 1],
          ],
        },
        noKey,
      ),
    ).toBeNull();
    expect(run({ fractional: [{ var: 'email' }, ['a', 1], ['b', 0]] }, noKey)).toBe('a');
    expect(run({ fractional: [['a', 1]] }, { ...data, targetingKey: '' })).toBeNull();
  });

  it('fractional hashes flag key + targeting key by default and the expression value as is', () => {
    const seen: string[] = [];
    const spy = {
      hash: (s: string) => {
        seen.push(s);
        return murmur3Utf8(s);
      },
    };
    evaluateJsonLogic({ fractional: [['a', 1]] }, data, spy);
    evaluateJsonLogic({ fractional: [{ var: 'email' }, ['a', 1]] }, data, spy);
    expect(seen).toEqual(['my-flaguser-1', 'alice@example.com']);
  });

  it.each<[string, unknown]>([
    ['non-numeric arithmetic', { '+': [{ var: 'email' }] }],
    ['division by zero', { '/': [1, { var: 'zero' }] }],
    ['comparing a string and a number', { '<': [{ var: 'email' }, 1] }],
    ['min of strings', { min: [{ var: 'str' }, 1] }],
    ['substr of a number', { substr: [{ var: 'age' }, 1] }],
    ['cat of null', { cat: { var: 'nullish' } }],
  ])('throws on %s', (_name, logic) => {
    expect(() => run(logic)).toThrow(LogicEvaluationError);
  });
});

describe('JSON Logic validation', () => {
  it.each<[string, unknown, RegExp]>([
    ['unknown operator', { regex: ['a', 'b'] }, /unknown JSON Logic operator "regex"/],
    [
      'nested unknown operator',
      { if: [{ contains: ['a', 'b'] }, 'x', 'y'] },
      /unknown JSON Logic operator "contains" in targeting at \.if\[0\]/,
    ],
    ['two operators in one object', { '==': [1, 1], '!=': [1, 2] }, /exactly one operator/],
    ['== arity', { '==': [1] }, /"==" in targeting takes 2 arguments, got 1/],
    ['< arity', { '<': [1, 2, 3, 4] }, /takes 2 to 3 arguments, got 4/],
    ['sem_ver arity', { sem_ver: ['1.0.0', '>'] }, /takes 3 arguments/],
    ['starts_with arity', { starts_with: ['a'] }, /takes 2 arguments/],
    ['sem_ver operator', { sem_ver: ['1.0.0', '=>', '1.0.0'] }, /unknown sem_ver comparison "=>"/],
    ['in needs an array', { in: 'x' }, /takes an array of arguments/],
    [
      'non-integer fractional weight',
      {
        fractional: [
          ['a', 2.5],
          ['b', 97.5],
        ],
      },
      /non-integer weight 2\.5/,
    ],
    [
      'non-numeric fractional weight',
      {
        fractional: [
          ['a', '50'],
          ['b', 50],
        ],
      },
      /not a finite number/,
    ],
    ['bad bucket', { fractional: [['a', 1, 2]] }, /is not \[variant\] or \[variant, weight\]/],
    ['no buckets', { fractional: [{ var: 'email' }] }, /has no buckets/],
    [
      'total weight overflow',
      {
        fractional: [
          ['a', 2147483647],
          ['b', 1],
        ],
      },
      /total weight 2147483648/,
    ],
    ['constant that always fails', { if: [{ '/': [1, 0] }, 'a', 'b'] }, /always fails: division by zero/],
  ])('rejects %s', (_name, logic, message) => {
    let error: unknown;
    try {
      validateJsonLogic(logic);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlagscopeError);
    expect((error as FlagscopeError).code).toBe('invalid_input');
    expect((error as FlagscopeError).message).toMatch(message);
  });

  it('refuses rules nested deeper than 64 levels with a clear error, not a stack overflow', () => {
    let deep: unknown = { var: 'x' };
    for (let i = 0; i < 10_000; i++) deep = { '!': [deep] };
    expect(() => validateJsonLogic(deep)).toThrow(/nested more than 64 levels deep/);
    let ok: unknown = { var: 'x' };
    for (let i = 0; i < 20; i++) ok = { '!': [ok] };
    expect(() => validateJsonLogic(ok)).not.toThrow();
  });

  it('accepts every supported operator', () => {
    for (const logic of [
      {
        if: [
          { and: [{ '>=': [{ var: 'age' }, 18] }, { in: [{ var: 'country' }, ['FR', 'DE']] }] },
          {
            fractional: [
              ['on', 10],
              ['off', 90],
            ],
          },
          'off',
        ],
      },
      { if: [{ sem_ver: [{ var: 'version' }, '~', '1.2.0'] }, 'on', null] },
      { map: [{ var: 'xs' }, { '+': [{ var: '' }, 1] }] },
      { reduce: [{ var: 'xs' }, { '+': [{ var: 'accumulator' }, { var: 'current' }] }, 0] },
      { missing_some: [1, ['a', 'b']] },
      { fractional: [{ cat: [{ var: '$flagd.flagKey' }, { var: 'email' }] }, ['a', 1], ['b']] },
      { var: 'x' },
      'plain-variant',
    ]) {
      expect(() => validateJsonLogic(logic)).not.toThrow();
    }
  });
});
