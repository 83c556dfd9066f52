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
