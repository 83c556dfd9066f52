import { describe, expect, it } from 'vitest';
import { createDemoClock } from '../../src/cli/demo/demo-clock.js';

describe('the demo clock', () => {
  it('follows its base, stands still while held, moves only by hand, and goes on from there after release', () => {
    let base = 1_000;
    const clock = createDemoClock(() => base);
    expect(clock.now()).toBe(1_000);
    base = 1_500;
    expect(clock.now()).toBe(1_500);

    clock.hold();
    expect(clock.held).toBe(true);
    base = 1_600;
    expect(clock.now()).toBe(1_500);
    clock.advance(2_000);
    clock.advance(2_000);
    expect(clock.now()).toBe(5_500);

    clock.release();
    expect(clock.held).toBe(false);
    expect(clock.now()).toBe(5_500);
    base = 1_700;
    expect(clock.now()).toBe(5_600);
  });

  it('never goes back: a release behind the base keeps the base, a second hold keeps the time reached', () => {
    let base = 10_000;
    const clock = createDemoClock(() => base);
    clock.hold();
    clock.advance(100);
    base = 20_000;
    clock.release();
    expect(clock.now()).toBe(20_000);
    clock.hold();
    clock.hold();
    base = 30_000;
    expect(clock.now()).toBe(20_000);
  });

  it('refuses to move a running clock or to move backwards', () => {
    const clock = createDemoClock(() => 0);
    expect(() => clock.advance(1)).toThrow(/only a held demo clock/);
    clock.hold();
    expect(() => clock.advance(-1)).toThrow(/only moves forward/);
    expect(() => clock.advance(Number.NaN)).toThrow(/only moves forward/);
    expect(clock.now()).toBe(0);
  });
});
