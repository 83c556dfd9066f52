import { FlagdCore } from '@openfeature/flagd-core';
import { describe, expect, it } from 'vitest';
import {
  evaluateFlag,
  formatFlagdDocument,
  fromFlagdDocument,
  pressKillSwitch,
  toFlagdDocument,
  validateFlagDefinition,
  type FlagDefinition,
} from '../../../src/flags/index.js';

const flags: FlagDefinition[] = [
  {
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    description: 'the one-page checkout',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    state: 'enabled',
    rollout: {
      weights: [
        { variant: 'on', weight: 5 },
        { variant: 'off', weight: 95 },
      ],
      precision: 0,
    },
  },
  {
    key: 'search-ranker',
    service: 'search',
    kind: 'experiment',
    variants: { control: 'bm25', treatment: 'neural' },
    defaultVariant: 'control',
    state: 'enabled',
    targeting: { if: [{ ends_with: [{ var: 'email' }, '@corp.com'] }, 'treatment', null] },
    rollout: {
      weights: [
        { variant: 'treatment', weight: 1 },
        { variant: 'control', weight: 99999 },
      ],
      precision: 3,
    },
  },
  {
    key: 'beta-access',
    service: 'web',
    kind: 'permission',
    variants: { yes: true, no: false },
    defaultVariant: 'no',
    state: 'disabled',
    targeting: { if: [{ sem_ver: [{ var: 'appVersion' }, '>=', '2.0.0'] }, 'yes', 'no'] },
  },
  {
    key: 'recs-limits',
    service: 'recs',
    kind: 'operational',
    runbookUrl: 'https://runbooks.example.com/recs',
    variants: { small: { limit: 10 }, large: { limit: 100 } },
    defaultVariant: 'large',
    state: 'enabled',
    targeting: { fractional: [{ var: 'tenant' }, ['small', 1], ['large', 2]] },
  },
  pressKillSwitch(
    validateFlagDefinition({
      key: 'payments-3ds',
      service: 'payments',
      kind: 'kill-switch',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      safeVariant: 'off',
      rollout: { on: 50, off: 50 },
      runbookUrl: 'https://runbooks.example.com/3ds',
    }),
    { by: 'oncall', reason: 'declines', at: '2026-02-03T03:04:05.000Z' },
  ).flag,
  validateFlagDefinition({
    key: 'search-off',
    service: 'search',
    kind: 'kill-switch',
    variants: { on: true, off: false },
    defaultVariant: 'on',
    safeVariant: 'off',
  }),
];

describe('flagd export', () => {
  const doc = toFlagdDocument(flags);

  it('writes the flagd schema shape with metadata', () => {
    expect(doc.$schema).toBe('https://flagd.dev/schema/v0/flags.json');
    expect(doc.flags['new-checkout']).toEqual({
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: {
        fractional: [
          ['on', 5],
          ['off', 95],
        ],
      },
      metadata: { service: 'checkout', kind: 'release', description: 'the one-page checkout' },
    });
    expect(doc.flags['beta-access']?.state).toBe('DISABLED');
    expect(doc.flags['search-off']?.metadata).toEqual({ service: 'search', kind: 'kill-switch', safeVariant: 'off' });
  });

  it('exports targeting plus rollout as targeting first, then the fractional', () => {
    expect(doc.flags['search-ranker']?.targeting).toEqual({
      if: [
        { '!==': [flags[1]!.targeting, null] },
        flags[1]!.targeting,
        {
          fractional: [
            ['treatment', 1],
            ['control', 99999],
          ],
        },
      ],
    });
  });

  it('exports a pressed kill switch as its safe variant for everyone', () => {
    const exported = doc.flags['payments-3ds']!;
    expect(exported.state).toBe('ENABLED');
    expect(exported.defaultVariant).toBe('off');
    expect(exported.targeting).toBeUndefined();
    expect(exported.metadata).toMatchObject({ pressedBy: 'oncall', pressedAt: '2026-02-03T03:04:05.000Z', pressedReason: 'declines' });
  });

  it('refuses part of the reserved press metadata rather than dropping it', () => {
    const exported = doc.flags['payments-3ds']!;
    for (const missing of ['pressedBy', 'pressedAt', 'pressedReason', 'servedBefore']) {
      const metadata: Record<string, unknown> = { ...exported.metadata };
      delete metadata[missing];
      expect(() => fromFlagdDocument({ flags: { 'payments-3ds': { ...exported, metadata } } })).toThrow(`without ${missing}`);
    }
    expect(fromFlagdDocument({ flags: { 'payments-3ds': exported } })[0]?.pressed?.by).toBe('oncall');
  });

  it('leaves archived flags out', () => {
    expect(Object.keys(toFlagdDocument([{ ...flags[0]!, archived: true }]).flags)).toEqual([]);
  });

  it('a flagd evaluator serving the export answers what we answer', () => {
    const core = new FlagdCore();
    core.setConfigurations(formatFlagdDocument(doc));
    const contexts = [
      ...Array.from({ length: 300 }, (_, i) => ({
        targetingKey: `user-${i}`,
        email: i % 7 === 0 ? `u${i}@corp.com` : `u${i}@x.io`,
        appVersion: `${i % 3}.1.0`,
        tenant: `t${i}`,
      })),
    ];
    for (const f of flags) {
      for (const ctx of contexts) {
        const ours = evaluateFlag(f, ctx);
        const type = typeof Object.values(f.variants)[0] as 'boolean' | 'string' | 'number' | 'object';
        const theirs = core.resolve(type, f.key, null as never, ctx);
        if (ours.reason === 'DISABLED') {
          expect(theirs.reason).toBe('DISABLED');
          continue;
        }
        expect(theirs.variant, `${f.key} ${ctx.targetingKey}`).toBe(ours.variant);
        expect(theirs.value).toEqual(ours.value);
      }
    }
  });
});

describe('flagd import', () => {
  it('round-trips our flags exactly', () => {
    const doc = toFlagdDocument(flags);
    expect(fromFlagdDocument(JSON.parse(formatFlagdDocument(doc)))).toEqual(flags);
    expect(toFlagdDocument(fromFlagdDocument(formatFlagdDocument(doc)))).toEqual(doc);
  });

  it('reads a hand-written flagd document with $evaluators and flag-set metadata', () => {
    const text = JSON.stringify({
      $schema: 'https://flagd.dev/schema/v0/flags.json',
      metadata: { service: 'web' },
      $evaluators: { isStaff: { ends_with: [{ var: 'email' }, '@corp.com'] } },
      flags: {
        'dark-mode': {
          state: 'ENABLED',
          variants: { on: true, off: false },
          defaultVariant: 'off',
          targeting: { if: [{ $ref: 'isStaff' }, 'on', 'off'] },
        },
        'header-color': {
          state: 'ENABLED',
          variants: { red: '#f00', blue: '#00f' },
          defaultVariant: 'red',
          targeting: {
            fractional: [
              ['red', 33],
              ['blue', 67],
            ],
          },
          metadata: { service: 'design', kind: 'experiment' },
        },
      },
    });
    const [dark, header] = fromFlagdDocument(text);
    expect(dark).toEqual({
      key: 'dark-mode',
      service: 'web',
      kind: 'release',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      state: 'enabled',
      targeting: { if: [{ ends_with: [{ var: 'email' }, '@corp.com'] }, 'on', 'off'] },
    });
    expect(header).toMatchObject({
      service: 'design',
      kind: 'experiment',
      rollout: {
        weights: [
          { variant: 'red', weight: 33 },
          { variant: 'blue', weight: 67 },
        ],
        precision: 0,
      },
    });
    expect(header?.targeting).toBeUndefined();
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{nope', /not valid JSON/],
    ['no flags', { $schema: 'x' }, /has no "flags" object/],
    [
      'a bad state',
      { flags: { a: { state: 'ON', variants: { x: 1 }, defaultVariant: 'x', metadata: { service: 's' } } } },
      /flagd flag a: state must be ENABLED or DISABLED/,
    ],
    ['no service', { flags: { a: { state: 'ENABLED', variants: { x: 1 }, defaultVariant: 'x' } } }, /metadata has no service/],
    [
      'invalid targeting',
      { flags: { a: { state: 'ENABLED', variants: { x: 1 }, defaultVariant: 'x', targeting: { nope: [] }, metadata: { service: 's' } } } },
      /unknown JSON Logic operator "nope"/,
    ],
  ])('rejects %s', (_name, input, message) => {
    expect(() => fromFlagdDocument(input)).toThrow(message);
  });

  it('uses defaults for service and kind when metadata has none', () => {
    const [flag] = fromFlagdDocument(
      { flags: { a: { state: 'ENABLED', variants: { x: 1 }, defaultVariant: 'x' } } },
      { service: 'api', kind: 'operational' },
    );
    expect(flag).toMatchObject({ key: 'a', service: 'api', kind: 'operational' });
  });
});
