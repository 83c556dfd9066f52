/**
 * The demo server's clock: the context's clock, until a step holds it and moves it by hand (the
 * canary step runs minutes of hold time and traffic in seconds: it advances the clock a slice at
 * a time, sends that slice's traffic and waits for the controller to judge it). It never goes
 * back: after `release()` the clock goes on from the time reached, at the context's pace.
 */

export interface DemoClock {
  /** Unix milliseconds on the demo's clock. */
  now(): number;
  /** Stops the clock where it is; from now on only `advance` moves it. */
  hold(): void;
  /** Moves a held clock forward by `ms`. */
  advance(ms: number): void;
  /** Back to the context's pace, from the time reached. */
  release(): void;
  /** True while held. */
  readonly held: boolean;
}

/** A demo clock over the context's clock `base`. */
export function createDemoClock(base: () => number): DemoClock {
  // Running: now = base() + offset. Held: now = frozen.
  let offset = 0;
  let frozen: number | undefined;
  const now = (): number => frozen ?? base() + offset;
  return {
    now,
    hold() {
      frozen ??= now();
    },
    advance(ms) {
      if (frozen === undefined) throw new RangeError('only a held demo clock can be moved by hand');
      if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`a demo clock only moves forward, not by ${ms} ms`);
      frozen += ms;
    },
    release() {
      if (frozen === undefined) return;
      offset = Math.max(offset, frozen - base());
      frozen = undefined;
    },
    get held() {
      return frozen !== undefined;
    },
  };
}
