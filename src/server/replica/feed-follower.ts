/**
 * Keeps one piece of a replica's in-memory state (the key ring, the flag snapshot) in step with
 * the control store's change feed. The state is loaded at some config version; from then on the
 * follower applies every later change, in order: straight from the store's notice when it carries
 * the next changes (the in-process case, no read), else by reading `changesSince` the version it
 * reached. A writer waits with `reach` until its own change has come back through the feed, so it
 * sees its write exactly as every other replica does.
 */
import type { ControlChange, ControlChangeFeed, ControlChangeNotice } from '../../store/types.js';

interface Waiter {
  configVersion: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Follows a change feed from a version on, handing each change to `apply` once, in order. */
export class FeedFollower {
  private reached: number;
  private readonly waiters: Waiter[] = [];
  private catchingUp: Promise<void> | undefined;
  private readAgain = false;
  private stopListening: () => void = () => undefined;
  private stopped = false;

  private constructor(
    private readonly feed: ControlChangeFeed,
    configVersion: number,
    private readonly apply: (changes: readonly ControlChange[]) => void,
  ) {
    this.reached = configVersion;
  }

  /**
   * Follows `feed` from `configVersion` (the version the state was loaded at): listens, then reads
   * what was committed since the load, so the state is current when this resolves.
   */
  static async start(
    feed: ControlChangeFeed,
    configVersion: number,
    apply: (changes: readonly ControlChange[]) => void,
  ): Promise<FeedFollower> {
    const follower = new FeedFollower(feed, configVersion, apply);
    follower.stopListening = feed.listen((notice) => follower.onNotice(notice));
    await follower.catchUp();
    return follower;
  }

  /** The config version of the last change applied (or of the load). */
  get configVersion(): number {
    return this.reached;
  }

  /** Resolves once the changes up to `configVersion` are applied; rejects if reading the feed fails. */
  reach(configVersion: number): Promise<void> {
    if (this.reached >= configVersion) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error('the change feed is no longer followed'));
    const reached = new Promise<void>((resolve, reject) => this.waiters.push({ configVersion, resolve, reject }));
    void this.catchUp();
    return reached;
  }

  /** Reads the feed now (what a fallback poll calls when notices may have been lost). */
  catchUp(): Promise<void> {
    if (this.catchingUp !== undefined) {
      this.readAgain = true;
      return this.catchingUp;
    }
    this.catchingUp = this.readUntilCurrent().finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  /** Stops listening; waiters still pending are rejected. */
  stop(): void {
    this.stopped = true;
    this.stopListening();
    this.failWaiters(new Error('the change feed is no longer followed'));
  }

  private onNotice(notice: ControlChangeNotice): void {
    if (this.stopped || notice.configVersion <= this.reached) return;
    const changes = notice.changes;
    if (this.catchingUp === undefined && changes !== undefined && changes[0]?.configVersion === this.reached + 1) {
      this.applyChanges(changes);
      if (this.reached >= notice.configVersion) return;
    }
    void this.catchUp();
  }

  private async readUntilCurrent(): Promise<void> {
    try {
      do {
        this.readAgain = false;
        const changes = await this.feed.changesSince(this.reached);
        if (!this.stopped) this.applyChanges(changes.filter((change) => change.configVersion > this.reached));
      } while (this.readAgain && !this.stopped);
    } catch (error) {
      // The next notice or `reach` reads again; a writer waiting now learns why it cannot see its change.
      this.failWaiters(error);
    }
  }

  private applyChanges(changes: readonly ControlChange[]): void {
    const last = changes[changes.length - 1];
    if (last === undefined) return;
    this.apply(changes);
    this.reached = last.configVersion;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i] as Waiter;
      if (waiter.configVersion > this.reached) continue;
      this.waiters.splice(i, 1);
      waiter.resolve();
    }
  }

  private failWaiters(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}
