import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../../src/errors.js';
import { evaluateFlag, pressKillSwitch, releaseKillSwitch, validateFlag, type Flag } from '../../../src/flags/index.js';

const killSwitch: Flag = validateFlag({
  key: 'payments-3ds',
  service: 'payments',
  kind: 'kill-switch',
  description: 'turns off 3-D Secure challenges',
  runbookUrl: 'https://runbooks.example.com/payments/3ds',
  variants: { on: true, off: false, shadow: true },
  defaultVariant: 'on',
  safeVariant: 'off',
  targeting: { if: [{ in: [{ var: 'country' }, ['FR', 'DE']] }, 'shadow', null] },
  rollout: { on: 30, shadow: 5, off: 65 },
  version: 7,
  createdBy: 'alice',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'alice',
  updatedAt: '2026-01-01T00:00:00.000Z',
  archived: false,
});

const press = { by: 'oncall-key', reason: 'card declines spiking', at: '2026-02-03T03:04:05.000Z' };
const release = { by: 'oncall-key', reason: 'issuer recovered', at: '2026-02-03T04:00:00.000Z' };

const contexts = Array.from({ length: 2000 }, (_, i) => ({ targetingKey: `user-${i}`, country: ['FR', 'US', 'GB'][i % 3] }));

describe('pressKillSwitch', () => {
  it('serves the safe variant to everyone, overriding targeting and rollout', () => {
    const outcome = pressKillSwitch(killSwitch, press);
    expect(outcome.changed).toBe(true);
    for (const ctx of [...contexts, {}]) {
      expect(evaluateFlag(outcome.flag, ctx)).toMatchObject({ value: false, variant: 'off', reason: 'STATIC' });
    }
    expect(outcome.flag.pressed).toEqual({
      ...press,
      servedBefore: { state: 'enabled', defaultVariant: 'on', targeting: killSwitch.targeting, rollout: killSwitch.rollout },
    });
    expect(evaluateFlag(outcome.flag, {}).flagMetadata).toEqual({
      service: 'payments',
      kind: 'kill-switch',
      safeVariant: 'off',
      pressed: true,
    });
  });

  it('overrides a disabled state too', () => {
    const disabled = { ...killSwitch, state: 'disabled' as const };
    const pressed = pressKillSwitch(disabled, press).flag;
    expect(evaluateFlag(pressed, {})).toMatchObject({ variant: 'off', reason: 'STATIC' });
    expect(releaseKillSwitch(pressed, release).flag).toEqual(disabled);
  });

  it('does not touch the version or the stored configuration (the store bumps the version)', () => {
    const { flag } = pressKillSwitch(killSwitch, press);
    const { pressed: _p, ...rest } = flag;
    expect(rest).toEqual(killSwitch);
    expect(killSwitch.pressed).toBeUndefined();
  });

  it('pressing a pressed switch is a no-op saying who pressed it and when', () => {
    const first = pressKillSwitch(killSwitch, press);
    const second = pressKillSwitch(first.flag, { ...press, by: 'someone-else', reason: 'me too', at: '2026-02-03T03:10:00.000Z' });
    expect(second.changed).toBe(false);
    expect(second.flag).toBe(first.flag);
    expect(second.press).toEqual(first.flag.pressed);
    if (!second.changed)
      expect(second.message).toBe('payments-3ds is already pressed: by oncall-key at 2026-02-03T03:04:05.000Z (card declines spiking)');
  });

  it.each([
    ['an empty reason', { ...press, reason: '' }, /a press of payments-3ds needs a reason/],
    ['a blank reason', { ...press, reason: '   ' }, /needs a reason/],
    ['no actor', { ...press, by: '' }, /needs to say who acts/],
    ['a bad time', { ...press, at: 'now' }, /not an ISO-8601 time/],
  ])('refuses %s', (_name, action, message) => {
    expect(() => pressKillSwitch(killSwitch, action)).toThrow(message);
    expect(() => pressKillSwitch(killSwitch, action)).toThrow(FlagscopeError);
  });

  it('refuses flags that are not kill switches', () => {
    const release = validateFlag({ ...killSwitch, kind: 'release', safeVariant: undefined });
    expect(() => pressKillSwitch(release, press)).toThrow(/is a release flag, not a kill switch/);
  });
});

describe('releaseKillSwitch', () => {
  it('restores exactly what was served before: same rollout, same targeting, same buckets', () => {
    const before = contexts.map((ctx) => evaluateFlag(killSwitch, ctx));
    const pressed = pressKillSwitch(killSwitch, press).flag;
    const outcome = releaseKillSwitch(pressed, release);
    expect(outcome.changed).toBe(true);
    expect(outcome.flag).toEqual(killSwitch);
    expect(outcome.press).toEqual(pressed.pressed);
    const after = contexts.map((ctx) => evaluateFlag(outcome.flag, ctx));
    expect(after).toEqual(before);
    expect(new Set(before.map((r) => r.variant))).toEqual(new Set(['on', 'off', 'shadow']));
  });

  it('restores the snapshot even if the flag was edited while pressed', () => {
    const pressed = pressKillSwitch(killSwitch, press).flag;
    const edited = { ...pressed, rollout: { weights: [{ variant: 'on', weight: 100 }], precision: 0 as const }, targeting: undefined };
    expect(releaseKillSwitch(edited, release).flag).toEqual(killSwitch);
  });

  it('releasing a switch that is not pressed changes nothing', () => {
    const outcome = releaseKillSwitch(killSwitch, release);
    expect(outcome.changed).toBe(false);
    expect(outcome.flag).toBe(killSwitch);
  });

  it('needs a reason', () => {
    const pressed = pressKillSwitch(killSwitch, press).flag;
    expect(() => releaseKillSwitch(pressed, { ...release, reason: '' })).toThrow(/a release of payments-3ds needs a reason/);
  });

  it('a pressed flag passes validation and round-trips through JSON', () => {
    const pressed = pressKillSwitch(killSwitch, press).flag;
    expect(validateFlag(JSON.parse(JSON.stringify(pressed)))).toEqual(pressed);
  });
});
