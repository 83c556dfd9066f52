/**
 * Waiting, injected: the CLI's `Context` (built in `main.ts`) carries a
 * `Sleep` beside its clock, so polling, `--watch` and retry backoff run on a
 * manual clock in tests (`test/support/memory-context.ts`) and never sleep.
 */

/**
 * Waits `ms` milliseconds. Resolves early, without an error, when `signal`
 * aborts (a Ctrl-C ending a `--watch` loop is not a failure).
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

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
