/**
 * The canary controller as a background job of the server: every `everyMs` of the server's
 * scheduler it ticks every canary in flight through a {@link CanaryService} over the server's
 * event store and flags. One tick at a time; a canary whose tick fails is logged and retried at
 * the next one. The tick's measurement goes through the server's analysis admission, first in
 * line and with the `maxCanaryMeasureMs` deadline; its writes (state, rollout) do not.
 */
import { type BackgroundJob, periodicJob } from '../jobs.js';
import type { CanaryRepository } from './canary-repository.js';
import { CanaryService } from './canary-service.js';

/** Default time between two ticks of the controller. */
export const DEFAULT_CANARY_TICK_MS = 1000;

export interface CanaryControllerOptions {
  repository: CanaryRepository;
  everyMs?: number;
  /** Called with the service once the job has started (the routes steer canaries through it). */
  onService?: (service: CanaryService) => void;
}

export function canaryControllerJob(options: CanaryControllerOptions): BackgroundJob {
  let service: CanaryService | undefined;
  const periodic = periodicJob('canary-controller', options.everyMs ?? DEFAULT_CANARY_TICK_MS, () => service?.tickAll());
  return {
    name: periodic.name,
    start(context) {
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
    stop() {
      return periodic.stop();
    },
  };
}
