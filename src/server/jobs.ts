/**
 * Background jobs: work the server runs beside its requests (the canary controller and the
 * beacon flush will be jobs). Jobs start after the server listens and are stopped, awaited,
 * when it closes: after in-flight requests have finished and before the stores close.
 */
import type { TimerScheduler, TimerHandle } from '../scheduler.js';
import type { ControlStore, EventStore } from '../store/types.js';
import type { AdmissionRequest } from './admission.js';
import type { FlagService } from './flags/flag-service.js';

/** What a job may use: the server's time, log, stores and flags, and its admission gate for reads. */
export interface JobContext {
  scheduler: TimerScheduler;
  log: (line: string) => void;
  events: EventStore;
  control: ControlStore;
  flags: FlagService;
  /**
   * Runs a read through the server's analysis admission (src/server/admission.ts), with a signal
   * that aborts at the request's deadline. Absent (tests of a job alone): the read runs at once.
   */
  admit?: <T>(task: (signal: AbortSignal) => Promise<T>, request: AdmissionRequest) => Promise<T>;
  /** The controller's measurement deadline (`ServerLimits.maxCanaryMeasureMs`). */
  canaryMeasureMs?: number;
}

/** A job the server starts and stops with itself. */
export interface BackgroundJob {
  /** Names the job in log lines. */
  readonly name: string;
  /** Starts the job's timers; a rejection fails the server's start. */
  start(context: JobContext): void | Promise<void>;
  /** Clears the job's timers and resolves once the work in flight has finished. */
  stop(): void | Promise<void>;
}

/** Starts jobs in order and stops them in reverse; stopping twice stops once. */
export class JobRunner {
  private started: BackgroundJob[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly jobs: readonly BackgroundJob[],
    private readonly context: JobContext,
  ) {}

  /** Starts every job; when one fails, stops those already started and rethrows. */
  async start(): Promise<void> {
    for (const job of this.jobs) {
      try {
        await job.start(this.context);
      } catch (e) {
        await this.stop();
        throw e;
      }
      this.started.push(job);
    }
  }

  /** Stops the started jobs, last started first, each awaited; a job's failure to stop is logged. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const job of this.started.reverse()) {
        try {
          await job.stop();
        } catch (e) {
          this.context.log(`background job ${job.name} failed to stop: ${(e as Error)?.message ?? String(e)}`);
        }
      }
      this.started = [];
    })();
    return this.stopping;
  }
}

/**
 * A job that runs `run` every `everyMs` milliseconds of the scheduler's time, one run at a time
 * (a tick that finds the previous run still going is skipped). A failed run is logged and the job
 * goes on. `stop` clears the timer and waits for the run in flight.
 */
export function periodicJob(name: string, everyMs: number, run: (context: JobContext) => void | Promise<void>): BackgroundJob {
  let timer: TimerHandle | undefined;
  let inFlight: Promise<void> | undefined;
  return {
    name,
    start(context) {
      const tick = (): void => {
        if (inFlight !== undefined) return;
        inFlight = (async () => {
          try {
            await run(context);
          } catch (e) {
            context.log(`background job ${name} failed: ${(e as Error)?.message ?? String(e)}`);
          } finally {
            inFlight = undefined;
          }
        })();
      };
      timer = context.scheduler.setInterval(tick, everyMs);
    },
    async stop() {
      timer?.clear();
      timer = undefined;
      await inFlight;
    },
  };
}
