/**
 * Time as commands and jobs see it: the clock and a way to wait, injected
 * (on the CLI's `Context`, built in `main.ts`) so tests drive hours of
 * waiting with a manual scheduler and never sleep. Types and the real
 * implementation only; `test/support/memory-context.ts` has the manual one.
 */

/**
 * Waits `ms` milliseconds. Resolves early, without an error, when `signal`
 * aborts (a Ctrl-C ending a `--watch` loop is not a failure).
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** A clock and a way to wait on it. */
export interface Scheduler {
  /** Unix milliseconds. */
  now(): number;
  sleep: Sleep;
}

/** `Sleep` on a real timer. */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });

/** The process's clock and timers. */
export const systemScheduler: Scheduler = { now: () => Date.now(), sleep: timerSleep };

/** A scheduled timer; `clear` stops it (a no-op once it has fired or been cleared). */
export interface TimerHandle {
  clear(): void;
}

/**
 * A scheduler with timers: what the server uses (stream heartbeats, the close timers) and
 * gives its background jobs. `test/support/manual-scheduler.ts` has the manual one, whose
 * virtual time moves only when a test advances it.
 */
export interface TimerScheduler extends Scheduler {
  /** Runs `run` once after `ms` milliseconds. */
  setTimeout(run: () => void, ms: number): TimerHandle;
  /** Runs `run` every `ms` milliseconds until cleared. */
  setInterval(run: () => void, ms: number): TimerHandle;
}

/** Options of {@link systemTimers}. */
export interface SystemTimersOptions {
  /** The clock; default `Date.now`. */
  now?: () => number;
  /**
   * When false, pending timers do not keep the process alive (Node's `unref`): for
   * housekeeping beside a server whose sockets do. Default true.
   */
  keepAlive?: boolean;
}

/** A {@link TimerScheduler} over Node's timers. */
export function systemTimers(options: SystemTimersOptions = {}): TimerScheduler {
  const now = options.now ?? Date.now;
  const keepAlive = options.keepAlive ?? true;
  return {
    now,
    sleep: timerSleep,
    setTimeout(run, ms) {
      const timer = setTimeout(run, ms);
      if (!keepAlive) timer.unref();
      return { clear: () => clearTimeout(timer) };
    },
    setInterval(run, ms) {
      const timer = setInterval(run, ms);
      if (!keepAlive) timer.unref();
      return { clear: () => clearInterval(timer) };
    },
  };
}
