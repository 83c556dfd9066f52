/**
 * The canary controller as a background job of the server: every `everyMs` of the server's
 * scheduler it ticks every canary in flight through a {@link CanaryService} over the server's
 * event store and flags. One tick at a time; a canary whose tick fails is logged and retried at
 * the next one. The tick's measurement goes through the server's analysis admission, first in
 * line and with the `maxCanaryMeasureMs` deadline; its writes (state, rollout) do not.
 *
 * With a lease store, exactly one replica runs the controller: every tick first acquires or
 * renews the lease {@link CANARY_LEASE} for `leaseMs`; the holder ticks with the lease's epoch as
 * the fence of every write (the store refuses a write once the lease has moved on), the others
 * only read the canaries again. A leader that dies stops renewing; the first tick of another
 * replica after the lease expires takes it over with the next epoch.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { LeaseStore } from '../../store/types.js';
import { type BackgroundJob, type JobContext, periodicJob } from '../jobs.js';
import type { CanaryRepository } from './canary-repository.js';
import { CanaryService } from './canary-service.js';

/** Default time between two ticks of the controller. */
export const DEFAULT_CANARY_TICK_MS = 1000;

/** Default lease time of the controller: three ticks, so a leader survives a slow tick or two. */
export const DEFAULT_CANARY_LEASE_MS = 3000;

/** The name of the controller's lease. */
export const CANARY_LEASE = 'canary-controller';

export interface CanaryControllerOptions {
  repository: CanaryRepository;
  everyMs?: number;
  /** Called with the service once the job has started (the routes steer canaries through it). */
  onService?: (service: CanaryService) => void;
  /** Where the controller's lease is kept; without it this server always ticks (no fence). */
  leases?: LeaseStore;
  /** How long a lease lasts without renewal; default {@link DEFAULT_CANARY_LEASE_MS}. */
  leaseMs?: number;
  /** Who this replica is in the lease row; default host, process and a random part. */
  holder?: string;
  /** Called after every tick, done or failed, with whether this replica led it and under which epoch. */
  onTick?: (tick: { leading: boolean; epoch: number | undefined }) => void;
}

/** A holder name unique to this process: its host, its pid and a random part (a pid is reused). */
export function defaultLeaseHolder(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export function canaryControllerJob(options: CanaryControllerOptions): BackgroundJob {
  let service: CanaryService | undefined;
  const leaseMs = options.leaseMs ?? DEFAULT_CANARY_LEASE_MS;
  const holder = options.holder ?? defaultLeaseHolder();
  /** The epoch this replica leads under, or undefined when it does not lead. */
  let leading: number | undefined;
  const periodic = periodicJob('canary-controller', options.everyMs ?? DEFAULT_CANARY_TICK_MS, async (context) => {
    try {
      await tick(context);
    } finally {
      options.onTick?.({ leading: leading !== undefined, epoch: leading });
    }
  });
  const tick = async (context: JobContext): Promise<void> => {
    if (service === undefined) return;
    const leases = options.leases;
    if (leases === undefined) return service.tickAll();
    const lease = await leases.acquireLease(CANARY_LEASE, holder, context.scheduler.now(), leaseMs);
    if (lease.holder !== holder) {
      if (leading !== undefined) context.log(`canary controller: lease lost to ${lease.holder} (epoch ${lease.epoch})`);
      leading = undefined;
      return service.refresh();
    }
    if (leading !== lease.epoch) context.log(`canary controller: leading as ${holder} (epoch ${lease.epoch})`);
    leading = lease.epoch;
    return service.tickAll({ lease: CANARY_LEASE, epoch: lease.epoch });
  };
  let leases: LeaseStore | undefined;
  return {
    name: periodic.name,
    start(context) {
      leases = options.leases;
      service = new CanaryService({
        repository: options.repository,
        events: context.events,
        flags: context.flags,
        now: context.scheduler.now,
        log: context.log,
        ...(context.admit === undefined
          ? {}
          : {
              admit: <T>(task: (signal: AbortSignal) => Promise<T>) =>
                context.admit!(task, {
                  reserved: true,
                  ...(context.canaryMeasureMs === undefined ? {} : { timeoutMs: context.canaryMeasureMs }),
                }),
            }),
      });
      options.onService?.(service);
      return periodic.start(context);
    },
    async stop() {
      await periodic.stop();
      // A replica that stops hands the lease over at once rather than after its time.
      if (leading !== undefined && leases !== undefined) await leases.releaseLease(CANARY_LEASE, holder).catch(() => undefined);
      leading = undefined;
    },
  };
}
