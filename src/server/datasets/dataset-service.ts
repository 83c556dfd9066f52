/**
 * Datasets as a whole: what is there (size on disk, time span, retention), deleting one, setting
 * its retention, and the retention sweep the background job runs (docs/storage.md, "Retention").
 * No HTTP here: the routes (`routes.ts`) and the job (`retention-job.ts`) call it.
 */
import { formatRetention, parseRetention, retentionCutoff } from '../../api/retention.js';
import type { DatasetsResponse, DeleteDatasetResponse } from '../../api/datasets.js';
import { datasetMeasuresCanaries, invalidInput } from '../../errors.js';
import type { DatasetInfo, EventStore } from '../../store/types.js';

/** The canaries a dataset measures, as a delete needs them (the canary controller's service). */
export interface DatasetCanaries {
  /** The canaries in flight that the dataset measures. */
  inFlightOn(dataset: string): Promise<Array<{ flag: string; status: string; percent: number }>>;
  /** Rolls them back to 0% because the key named `who` deletes the dataset; answers their flags. */
  rollBackForDeletedDataset(dataset: string, who: string): Promise<string[]>;
}

/**
 * What the service needs: the event store, the server's default retention (ms, null: forever), a
 * clock, a log, and the canary controller's service once it runs (a delete checks its canaries).
 */
export interface DatasetServiceOptions {
  events: EventStore;
  defaultRetentionMs: number | null;
  now: () => number;
  log: (line: string) => void;
  canaries?: () => DatasetCanaries | undefined;
}

/** What one retention sweep removed from one dataset. */
export interface RetentionRemoval {
  dataset: string;
  rows: number;
  /** Events older than this (ISO-8601) were deleted. */
  before: string;
  retentionMs: number;
}

export class DatasetService {
  constructor(private readonly options: DatasetServiceOptions) {}

  /** The server's default retention in milliseconds, or null (kept forever). */
  get defaultRetentionMs(): number | null {
    return this.options.defaultRetentionMs;
  }

  /** The retention that applies to a dataset: its own (0 = forever), else the server's; null = forever. */
  effectiveRetention(own: number | null | undefined): number | null {
    if (own === 0) return null;
    if (own !== null && own !== undefined) return own;
    return this.options.defaultRetentionMs;
  }

  /** `GET /api/v1/datasets`: each dataset with its span, size and retention, and the file as a whole. */
  async list(): Promise<DatasetsResponse> {
    const { datasets, storage } = await this.options.events.describeDatasets();
    return {
      datasets: datasets.map((d) => ({ ...d, effective_retention_ms: this.effectiveRetention(d.retention_ms) })),
      storage,
      default_retention_ms: this.options.defaultRetentionMs,
    };
  }

  /**
   * Deletes a dataset and logs it with who asked. A dataset that measures a canary in flight is
   * refused (`conflict`) unless `force`: then its canaries are rolled back to 0% first, so no
   * variant goes on being served with nothing left to judge it by (docs/canary.md).
   */
  async delete(dataset: string, by: string | undefined, options: { force?: boolean } = {}): Promise<DeleteDatasetResponse> {
    const { events, log } = this.options;
    const canaries = events.tableOf(dataset) === undefined ? undefined : this.options.canaries?.();
    const measuring = (await canaries?.inFlightOn(dataset)) ?? [];
    let rolledBack: string[] = [];
    if (measuring.length > 0) {
      if (options.force !== true) throw datasetMeasuresCanaries(dataset, measuring);
      rolledBack = await canaries!.rollBackForDeletedDataset(dataset, by ?? 'unknown');
      for (const flag of rolledBack) log(`canary ${flag}: rolled back to 0%: its dataset ${JSON.stringify(dataset)} is being deleted`);
    }
    const { rows } = await events.deleteDataset(dataset);
    log(`dataset ${JSON.stringify(dataset)} deleted${by === undefined ? '' : ` by key ${JSON.stringify(by)}`}: ${rows} events`);
    await this.reclaim();
    return { dataset, deleted_events: rows, rolled_back_canaries: rolledBack };
  }

  /** Sets a dataset's retention from a request body `{"retention": "30d" | "forever" | "default"}`; answers the dataset. */
  async setRetention(dataset: string, body: Record<string, unknown>): Promise<DatasetInfo> {
    const value = body.retention;
    if (typeof value !== 'string' || Object.keys(body).some((key) => key !== 'retention')) {
      throw invalidInput('the body must be {"retention": DURATION | "forever" | "default"}', 'e.g. {"retention": "30d"}');
    }
    const retentionMs = parseRetention(value, { allowDefault: true });
    await this.options.events.setRetention(dataset, retentionMs);
    const info = (await this.options.events.listDatasets()).find((d) => d.name === dataset);
    return {
      ...(info ?? { name: dataset, rows: 0, columns: 0 }),
      retention_ms: retentionMs,
      effective_retention_ms: this.effectiveRetention(retentionMs),
    };
  }

  /**
   * One retention sweep: for each dataset with a retention, deletes the events before the start
   * of the hour `retention` ago, then checkpoints so the deleted rows' blocks become free. Logs
   * what it removed and the file's free space before and after.
   */
  async sweep(): Promise<RetentionRemoval[]> {
    const { events, log } = this.options;
    const now = this.options.now();
    const { datasets, storage: before } = await events.describeDatasets();
    const removed: RetentionRemoval[] = [];
    for (const dataset of datasets) {
      const retentionMs = this.effectiveRetention(dataset.retention_ms);
      if (retentionMs === null || dataset.first_event_time == null) continue;
      const cutoff = retentionCutoff(now, retentionMs);
      if (Date.parse(dataset.first_event_time) >= cutoff) continue;
      try {
        const { rows } = await events.deleteEventsBefore(dataset.name, cutoff);
        const removal = { dataset: dataset.name, rows, before: new Date(cutoff).toISOString(), retentionMs };
        removed.push(removal);
        log(
          `retention: deleted ${rows} events of ${JSON.stringify(dataset.name)} older than ${removal.before} (retention ${formatRetention(retentionMs)})`,
        );
      } catch (error) {
        // A dataset deleted meanwhile has nothing left to expire.
        if ((error as { code?: string }).code !== 'not_found') throw error;
      }
    }
    if (removed.length > 0) {
      const checkpointed = await events.reclaimSpace();
      const { storage: after } = await events.describeDatasets();
      log(
        checkpointed
          ? `retention: checkpoint done; file ${after.file_bytes} bytes (was ${before.file_bytes}), free blocks ${after.free_bytes} bytes (was ${before.free_bytes}), WAL ${after.wal_bytes} bytes`
          : 'retention: checkpoint deferred (writes in flight); the space becomes free at the next checkpoint',
      );
    }
    return removed;
  }

  /** After a delete: a checkpoint frees the dataset's blocks for reuse, or the next automatic one will. */
  private async reclaim(): Promise<void> {
    if (!(await this.options.events.reclaimSpace())) {
      this.options.log('checkpoint deferred (writes in flight); the deleted blocks become free at the next checkpoint');
    }
  }
}
