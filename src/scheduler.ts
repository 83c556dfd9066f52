/**
 * Time, injected: the clock and the timers a component uses, so tests drive hours of
 * periodic work with a manual scheduler (test/support/manual-scheduler.ts) and no sleeping.
 * The server takes one beside its clock; the CLI may take one too.
 */

/** A scheduled timer; `clear` stops it (a no-op once it has fired or been cleared). */
export interface TimerHandle {
  clear(): void;
}

/** The clock and the timers. */
export interface Scheduler {
  /** Unix milliseconds. */
  now(): number;
  /** Runs `run` once after `ms` milliseconds. */
  setTimeout(run: () => void, ms: number): TimerHandle;
  /** Runs `run` every `ms` milliseconds until cleared. */
  setInterval(run: () => void, ms: number): TimerHandle;
}

/** Options of {@link systemScheduler}. */
export interface SystemSchedulerOptions {
  /** The clock; default `Date.now`. */
  now?: () => number;
  /**
   * When false, pending timers do not keep the process alive (Node's `unref`): for
   * housekeeping beside a server whose sockets do. Default true.
   */
  keepAlive?: boolean;
}

/** The scheduler over Node's timers. */
export function systemScheduler(options: SystemSchedulerOptions = {}): Scheduler {
  const now = options.now ?? Date.now;
  const keepAlive = options.keepAlive ?? true;
  return {
    now,
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
