/**
 * A scheduler for tests: virtual time that moves only when the test advances it, firing the
 * timers that fall due in order of their due time (then of their scheduling).
 */
import type { TimerScheduler, TimerHandle } from '../../src/scheduler.js';

interface Timer {
  id: number;
  due: number;
  /** Milliseconds between runs, for an interval; undefined for a one-shot timer. */
  every: number | undefined;
  run: () => void;
}

export class ManualScheduler implements TimerScheduler {
  private time: number;
  private nextId = 0;
  private readonly timers = new Map<number, Timer>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.time = startMs;
  }

  now = (): number => this.time;

  /** Resolves once `ms` of virtual time have passed (or at once when `signal` aborts). */
  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      if (signal?.aborted === true) return resolve();
      const timer = this.setTimeout(() => {
        signal?.removeEventListener('abort', wake);
        resolve();
      }, ms);
      const wake = (): void => {
        timer.clear();
        resolve();
      };
      signal?.addEventListener('abort', wake, { once: true });
    });

  setTimeout(run: () => void, ms: number): TimerHandle {
    return this.schedule(run, ms, undefined);
  }

  setInterval(run: () => void, ms: number): TimerHandle {
    return this.schedule(run, ms, Math.max(1, ms));
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, each at its
   * due time; between timers, pending promise callbacks run (so async work a timer starts
   * can schedule the next one, as it would with real time).
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await flushPromises();
      const next = this.nextDue(end);
      if (next === undefined) break;
      this.time = next.due;
      if (next.every === undefined) this.timers.delete(next.id);
      else next.due += next.every;
      next.run();
    }
    this.time = end;
    await flushPromises();
  }

  private schedule(run: () => void, ms: number, every: number | undefined): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, due: this.time + Math.max(0, ms), every, run });
    return { clear: () => this.timers.delete(id) };
  }

  private nextDue(end: number): Timer | undefined {
    let next: Timer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.due <= end && (next === undefined || timer.due < next.due)) next = timer;
    }
    return next;
  }
}

/** Lets pending promise callbacks (and the ones they queue) run. */
async function flushPromises(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
