/**
 * Wakes raw-event requests waiting after a cursor (`events tail`) when this server has committed
 * events of their dataset. Only a hint: a waiting request also looks again every
 * `eventsPollMs`, for events another replica stored; what it answers always comes from the store.
 */
import type { TimerScheduler } from '../../scheduler.js';

export class EventArrivals {
  private readonly waiters = new Map<string, Set<() => void>>();
  private ended = false;
  /** Commits notified per dataset: a request that read before a commit and waits after it must not miss it. */
  private readonly counts = new Map<string, number>();

  /** How many commits of `dataset` were notified so far (pass it to {@link wait}, taken before reading). */
  count(dataset: string): number {
    return this.counts.get(dataset) ?? 0;
  }

  /** True once the server is closing: waits end at once, so waiting requests answer before connections are cut. */
  get closed(): boolean {
    return this.ended;
  }

  /** Ends every wait, now and later (the server is closing). */
  close(): void {
    this.ended = true;
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const waiting of all) for (const wake of waiting) wake();
  }

  constructor(private readonly scheduler: Pick<TimerScheduler, 'setTimeout'>) {}

  /** Called after events of `dataset` are committed: wakes everyone waiting on it. */
  notify(dataset: string): void {
    this.counts.set(dataset, this.count(dataset) + 1);
    const waiting = this.waiters.get(dataset);
    if (waiting === undefined) return;
    this.waiters.delete(dataset);
    for (const wake of waiting) wake();
  }

  /**
   * Resolves when events of `dataset` are committed, after `ms`, or when `signal` aborts, whichever
   * comes first; at once when commits were notified since `seen` (a {@link count} taken before reading).
   */
  wait(dataset: string, ms: number, signal?: AbortSignal, seen?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true || this.ended || (seen !== undefined && this.count(dataset) !== seen)) return resolve();
      let waiting = this.waiters.get(dataset);
      if (waiting === undefined) {
        waiting = new Set();
        this.waiters.set(dataset, waiting);
      }
      const set = waiting;
      const done = (): void => {
        timer.clear();
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(dataset) === set) this.waiters.delete(dataset);
        resolve();
      };
      const timer = this.scheduler.setTimeout(done, Math.max(0, ms));
      set.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
