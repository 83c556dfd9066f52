/**
 * Browser beacons without HTTP (docs/api.md "Beacons", docs/storage.md "Beacons"): a request's
 * beacons are read (src/ingest/beacons/beacon.ts), taken into the sessionizer's window and
 * appended to the write-ahead file before they are acknowledged; executions whose window closed
 * are stitched into one event each and stored as one batch body (`EventStore.ingestBatchBody`, the
 * path of `POST /1/batch`), then marked stored in the file. Datasets' beacon settings (allowed origins, execution id field) are kept
 * in the control store and in memory.
 */
import { type BeaconSettings, applyBeaconSettingsChange, defaultBeaconSettings } from '../../api/beacons.js';
import { FlagscopeError, invalidInput } from '../../errors.js';
import { decodeBeacon } from '../../ingest/beacons/beacon.js';
import { type ClosedExecution, DEFAULT_BEACON_WINDOW_MS, Sessionizer, type SessionizerStats } from '../../ingest/beacons/sessionizer.js';
import { stitchExecution } from '../../ingest/beacons/stitch.js';
import { isJsonObject } from '../../ingest/honeycomb.js';
import type { TimerHandle, TimerScheduler } from '../../scheduler.js';
import type { BeaconSettingsStore, EventStore, IngestOutcome } from '../../store/types.js';
import { DEFAULT_SERVER_LIMITS } from '../limits.js';
import { BeaconLog, type LoggedBeacon } from './beacon-log.js';

/** Closed executions stored per call of the event store's `ingest`. */
const STORE_BATCH = 2_000;
/** How often the service looks for closed windows, retries refused stores, syncs and compacts the file; at most the window. */
const TICK_MS = 1_000;
/** How often datasets' settings are read again from the control store (changes made through another replica). */
const SETTINGS_RELOAD_MS = 30_000;

/** One item's answer (`POST /1/beacons/{dataset}`), in request order. */
export type BeaconItemStatus = { status: 202; duplicate?: true } | { status: 400; error: string };

/** The service's counters, shown by `GET /healthz`. */
export interface BeaconStats extends SessionizerStats {
  /** Closed executions waiting to be stored. */
  pending_executions: number;
  stored_events: number;
  /** Stitched events the store refused (e.g. a dataset past its column limit); logged. */
  refused_events: number;
}

export interface BeaconServiceOptions {
  events: EventStore;
  /** Where datasets' settings are kept; absent: in memory only. */
  settings?: BeaconSettingsStore;
  scheduler: TimerScheduler;
  /** Milliseconds after an execution's last beacon that its window closes (`serve --beacon-window`). */
  windowMs?: number;
  maxOpenExecutions?: number;
  maxOpenBeaconBytes?: number;
  /** The write-ahead file; absent: beacons in the window are in memory only (lost if the process dies). */
  logPath?: string;
  log: (line: string) => void;
  /** Seconds in the 429's `Retry-After`. */
  retryAfterSeconds: number;
  /** Largest stitched event, as JSON text (`ServerLimits.maxEventBytes`); a larger one is refused by the store and logged. */
  maxEventBytes?: number;
  /** Told after events of a dataset are committed. */
  arrivals?: { notify(dataset: string): void };
}

export class BeaconService {
  private readonly sessions: Sessionizer;
  private readonly settingsByDataset = new Map<string, BeaconSettings>();
  private settingsLoaded: Promise<void> | undefined;
  private file: BeaconLog | undefined;
  private pending: ClosedExecution[] = [];
  /** The batch being stored now (still to be kept by a rewrite of the file). */
  private inFlight: ClosedExecution[] = [];
  private storing: Promise<void> | undefined;
  private timers: TimerHandle[] = [];
  private readonly counts = { stored_events: 0, refused_events: 0 };
  private lastSettingsLoad = 0;

  constructor(private readonly options: BeaconServiceOptions) {
    const windowMs = options.windowMs ?? DEFAULT_BEACON_WINDOW_MS;
    this.sessions = new Sessionizer({
      scheduler: options.scheduler,
      windowMs,
      tickMs: Math.min(TICK_MS, windowMs),
      ...(options.maxOpenExecutions === undefined ? {} : { maxExecutions: options.maxOpenExecutions }),
      ...(options.maxOpenBeaconBytes === undefined ? {} : { maxBytes: options.maxOpenBeaconBytes }),
      onClose: (closed) => {
        this.pending.push(...closed);
        this.storeSoon();
      },
    });
  }

  /**
   * A service with its settings read and the write-ahead file read back (its executions back
   * in the window; those whose window has passed are stored at the first tick once started).
   */
  static async open(options: BeaconServiceOptions): Promise<BeaconService> {
    const service = new BeaconService(options);
    await service.loadSettings();
    if (options.logPath !== undefined) {
      const { log, replay } = BeaconLog.open(options.logPath);
      service.file = log;
      for (const { dataset, generation, beacon } of replay.held) service.sessions.restore(dataset, generation, beacon);
      if (replay.held.length > 0 || replay.skippedLines > 0) {
        options.log(
          `beacons: ${replay.held.length} beacons of open executions read back from ${options.logPath}${replay.skippedLines > 0 ? ` (${replay.skippedLines} unreadable lines skipped)` : ''}`,
        );
      }
    }
    return service;
  }

  /** Starts the ticks (window closes, retries, file sync and compaction). */
  start(): void {
    if (this.timers.length > 0) return;
    this.sessions.start();
    this.timers.push(this.options.scheduler.setInterval(() => this.tick(), TICK_MS));
  }

  /**
   * Stops the ticks, closes every open execution (`shutdown`) and stores them; what the store
   * will not take stays in the write-ahead file for the next start.
   */
  async stop(): Promise<void> {
    for (const timer of this.timers) timer.clear();
    this.timers = [];
    this.sessions.stop();
    this.sessions.closeAll();
    await this.storing;
    if (this.pending.length > 0) await this.storePending();
    if (this.pending.length > 0) {
      this.options.log(
        `beacons: ${this.pending.length} executions not stored at shutdown; kept in the write-ahead file for the next start`,
      );
    }
    this.file?.close(this.logged(this.pending));
    this.file = undefined;
  }

  /** The settings of `dataset` (defaults when none were set). */
  async settingsOf(dataset: string): Promise<BeaconSettings> {
    await this.loadSettings();
    return this.settingsByDataset.get(dataset) ?? defaultBeaconSettings(dataset);
  }

  /** Changes a dataset's settings from a request body; throws `invalid_input` for a bad one. */
  async updateSettings(dataset: string, change: Record<string, unknown>): Promise<BeaconSettings> {
    const next = applyBeaconSettingsChange(await this.settingsOf(dataset), change);
    await this.options.settings?.saveBeaconSettings(dataset, JSON.stringify(next));
    this.settingsByDataset.set(dataset, next);
    return next;
  }

  /** Refuses (429, `overloaded`) while the event store's queue or the executions waiting to be stored are full. */
  admit(): void {
    const { queuedEvents, max } = this.options.events.pressure();
    if ((queuedEvents > 0 && queuedEvents >= max) || this.pending.length >= max) {
      throw new FlagscopeError(
        'overloaded',
        `ingest queue is full (${queuedEvents + this.pending.length} of ${max} events waiting to be committed)`,
        `retry after ${this.options.retryAfterSeconds}s`,
      );
    }
  }

  /**
   * Takes the beacons of a request body (one object or an array of them) into the window, and
   * into the write-ahead file, and answers one status per item. Call after {@link settingsOf}.
   */
  accept(dataset: string, body: unknown): BeaconItemStatus[] {
    const items = Array.isArray(body) ? body : isJsonObject(body) ? [body] : undefined;
    if (items === undefined) {
      throw invalidInput(
        'a beacon body must be a JSON object or an array of objects',
        'send {"execution_id": "…", "beacon.phase": "start", …}',
      );
    }
    const idField = (this.settingsByDataset.get(dataset) ?? defaultBeaconSettings(dataset)).execution_id_field;
    const now = this.options.scheduler.now();
    const statuses: BeaconItemStatus[] = [];
    const taken: LoggedBeacon[] = [];
    for (const item of items) {
      const decoded = decodeBeacon(item, idField, now);
      if (!decoded.ok) {
        statuses.push({ status: 400, error: decoded.error });
        continue;
      }
      const result = this.sessions.accept(dataset, decoded.beacon);
      if (result.status === 'refused') statuses.push({ status: 400, error: result.error });
      else if (result.status === 'duplicate') statuses.push({ status: 202, duplicate: true });
      else {
        statuses.push({ status: 202 });
        taken.push({ dataset, generation: result.generation, beacon: decoded.beacon });
      }
    }
    this.file?.append(taken);
    return statuses;
  }

  stats(): BeaconStats {
    return { ...this.sessions.stats(), pending_executions: this.pending.length, ...this.counts };
  }

  /** Resolves once every closed execution handed over so far has been stored (or refused by the store). Tests and benchmarks. */
  async settled(): Promise<void> {
    while (this.storing !== undefined) await this.storing;
  }

  private tick(): void {
    if (this.pending.length > 0) this.storeSoon();
    this.file?.sync();
    this.file?.compactIfLarge(this.sessions.stats().open_bytes, () => this.openLogged());
    const now = this.options.scheduler.now();
    if (now - this.lastSettingsLoad >= SETTINGS_RELOAD_MS) {
      this.settingsLoaded = undefined;
      this.loadSettings().catch((e: unknown) => this.options.log(`beacons: reading settings failed: ${(e as Error)?.message ?? e}`));
    }
  }

  private loadSettings(): Promise<void> {
    this.settingsLoaded ??= (async () => {
      this.lastSettingsLoad = this.options.scheduler.now();
      const stored = (await this.options.settings?.listBeaconSettings()) ?? [];
      for (const { dataset, body } of stored) {
        try {
          const { allowed_origins, execution_id_field } = JSON.parse(body) as Partial<BeaconSettings>;
          this.settingsByDataset.set(
            dataset,
            applyBeaconSettingsChange(defaultBeaconSettings(dataset), { allowed_origins, execution_id_field }),
          );
        } catch (e) {
          this.options.log(`beacons: settings of ${dataset} could not be read: ${(e as Error)?.message ?? e}`);
        }
      }
    })();
    return this.settingsLoaded;
  }

  private storeSoon(): void {
    if (this.storing !== undefined) return;
    this.storing = this.storePending().finally(() => {
      this.storing = undefined;
    });
  }

  /**
   * Stores the closed executions, a batch at a time, dataset by dataset. A batch the store
   * refuses as a whole (full queue, closed store) goes back to the front and is tried again at
   * the next tick; the items it refuses one by one are logged and dropped.
   */
  private async storePending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, STORE_BATCH);
      this.inFlight = batch;
      const byDataset = new Map<string, ClosedExecution[]>();
      for (const execution of batch) {
        const list = byDataset.get(execution.dataset);
        if (list === undefined) byDataset.set(execution.dataset, [execution]);
        else list.push(execution);
      }
      for (const [dataset, executions] of byDataset) {
        let outcomes: IngestOutcome[];
        try {
          outcomes = await this.storeStitched(dataset, executions);
        } catch (e) {
          const rest = batch.filter((execution) => byDataset.get(execution.dataset) !== undefined);
          this.pending.unshift(...rest);
          this.inFlight = [];
          if (!(e instanceof FlagscopeError && e.code === 'overloaded')) {
            this.options.log(`beacons: storing ${rest.length} executions failed, will retry: ${(e as Error)?.message ?? e}`);
          }
          return;
        }
        byDataset.delete(dataset);
        this.inFlight = this.inFlight.filter((execution) => execution.dataset !== dataset);
        let stored = 0;
        outcomes.forEach((outcome, i) => {
          if (outcome.status === 202) stored++;
          else
            this.options.log(
              `beacons: execution ${JSON.stringify(executions[i]?.executionId)} of ${dataset} refused by the store: ${outcome.error}`,
            );
        });
        this.counts.stored_events += stored;
        this.counts.refused_events += outcomes.length - stored;
        this.file?.markStored(executions.map((e) => e.generation));
        if (stored > 0) this.options.arrivals?.notify(dataset);
      }
      this.inFlight = [];
    }
  }

  /**
   * Stitches executions and stores them as a batch body (`EventStore.ingestBatchBody`, the path of
   * `POST /1/batch`: a large body is scanned by an ingest worker beside the main thread).
   */
  private async storeStitched(dataset: string, executions: readonly ClosedExecution[]): Promise<IngestOutcome[]> {
    const items = executions.map((e) => stitchExecution(e.beacons, e.closedBy));
    const text = JSON.stringify(items);
    const bytes = Buffer.byteLength(text);
    const { events } = this.options;
    const body = events.takeBatchBody(bytes) ?? Buffer.allocUnsafe(bytes);
    try {
      body.write(text);
      return await events.ingestBatchBody(dataset, body, {
        now: this.options.scheduler.now(),
        maxEventBytes: this.options.maxEventBytes ?? DEFAULT_SERVER_LIMITS.maxEventBytes,
        admit: () => undefined,
      });
    } finally {
      events.releaseBatchBody(body);
    }
  }

  private openLogged(): LoggedBeacon[] {
    return [...this.logged([...this.sessions.openExecutions()]), ...this.logged(this.inFlight), ...this.logged(this.pending)];
  }

  private logged(executions: ReadonlyArray<Pick<ClosedExecution, 'dataset' | 'generation' | 'beacons'>>): LoggedBeacon[] {
    return executions.flatMap(({ dataset, generation, beacons }) => beacons.map((beacon) => ({ dataset, generation, beacon })));
  }
}
