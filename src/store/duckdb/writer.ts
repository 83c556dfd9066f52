/**
 * The event store's single writer: a queue of ingest requests, committed in groups (group
 * commit) on two connections in turn, so the next group is appended while the previous one
 * commits. A failed group is retried one request at a time. docs/storage.md tells the story.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import { appendEvents, appendPrepared, preparedEvents } from './append.js';
import { emptyDatasetState, type DatasetCatalog, type StoreLimits } from './catalog.js';
import { CHUNK_ROWS } from './chunk.js';
import { newPlan, planRequest, type DatasetPlan, type PendingIngest } from './ingest-plan.js';
import type { IngestOutcome, IngestPressure } from '../types.js';

/** Counters for observability and tests. */
export interface IngestStats {
  /** Committed write transactions. */
  transactions: number;
  /** `ingest` calls committed. */
  requests: number;
  /** Events committed. */
  events: number;
  /** Group transactions that failed and were retried one request at a time. */
  groupFallbacks: number;
}

export type { IngestPressure } from '../types.js';

/** A group appended in an open transaction, waiting for its commit. */
interface StagedTransaction {
  result: Map<PendingIngest, IngestOutcome[]>;
  /** Commits and updates the cache; undefined when there was nothing to write. */
  commit: (() => Promise<void>) | undefined;
  /** True when the transaction creates a dataset or changes columns. */
  changesColumns: boolean;
}

/** Events a group gathers while the previous group commits, before it is appended. */
const GROUP_TARGET_EVENTS = 4 * CHUNK_ROWS;

/** Queues ingest requests and commits them in groups; one per store. */
export class GroupCommitWriter {
  private queue: PendingIngest[] = [];
  private queuedEvents = 0;
  private writing: Promise<void> | undefined;
  /** The writer waiting for the queue to grow while a commit runs. */
  private queueWaiter: { events: number; resolve: () => void } | undefined;
  /** Events in `queue` (not yet in a group). */
  private waitingEvents = 0;
  private readonly counters: IngestStats = { transactions: 0, requests: 0, events: 0, groupFallbacks: 0 };

  /**
   * @param writer the connection that commits the one-by-one retries
   * @param lanes the two connections groups are appended on in turn
   */
  constructor(
    private readonly writer: DuckDBConnection,
    private readonly lanes: DuckDBConnection[],
    private readonly catalog: DatasetCatalog,
    private readonly limits: StoreLimits,
    private readonly now: () => number,
  ) {}

  /** How many events wait for a commit, and the bound beyond which `enqueue` rejects with `overloaded`. */
  pressure(): IngestPressure {
    return { queuedEvents: this.queuedEvents, max: this.limits.maxQueuedEvents };
  }

  /** Counters of committed work (a copy). */
  stats(): IngestStats {
    return { ...this.counters };
  }

  /** Resolves once everything queued is committed (or has failed). */
  async drain(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /**
   * Queues a request and resolves with one outcome per event once it is committed. Rejects
   * with `overloaded` when the queue is full, `server_error` when the commit fails.
   */
  enqueue(request: Omit<PendingIngest, 'resolve' | 'reject'>): Promise<IngestOutcome[]> {
    if (this.queuedEvents > 0 && this.queuedEvents + request.count > this.limits.maxQueuedEvents) {
      return Promise.reject(
        new FlagscopeError(
          'overloaded',
          `the ingest queue is full (${this.queuedEvents} events waiting, limit ${this.limits.maxQueuedEvents})`,
          'retry after a second, or send smaller batches',
        ),
      );
    }
    return new Promise<IngestOutcome[]>((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.queuedEvents += request.count;
      this.waitingEvents += request.count;
      const waiter = this.queueWaiter;
      if (waiter !== undefined && this.waitingEvents >= waiter.events) {
        this.queueWaiter = undefined;
        waiter.resolve();
      }
      this.startWriter();
    });
  }

  /**
   * The single writer. Groups are appended on two connections in turn, so the next group is
   * appended while the previous one commits; commits (and the cache updates after them) keep
   * the order of the groups. A group that changes columns runs alone: it waits for the group
   * before it to commit, and the group after it waits for its commit.
   */
  private startWriter(): void {
    if (this.writing !== undefined) return;
    this.writing = (async () => {
      // Let the requests that arrive in the same tick join the first group.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const lanes = this.lanes.map((connection) => ({ connection, done: Promise.resolve() }));
      let lane = 0;
      let last = Promise.resolve();
      let alone = false;
      while (this.queue.length > 0) {
        if (alone) await last;
        // While the previous group commits, let a few more requests join this one: every
        // commit has a fixed cost of several milliseconds, so small groups cost more per event.
        if (this.waitingEvents < GROUP_TARGET_EVENTS) await Promise.race([last, this.queueReaches(GROUP_TARGET_EVENTS)]);
        const group = this.takeGroup();
        const current = lanes[lane]!;
        lane = (lane + 1) % lanes.length;
        await current.done;
        const previous = last;
        let staged: StagedTransaction | undefined;
        let failure: unknown;
        try {
          staged = await this.stageTransaction(group, current.connection, () => previous);
        } catch (error) {
          failure = error;
        }
        const done = (async () => {
          await previous;
          if (staged !== undefined) {
            try {
              await staged.commit?.();
              const { result } = staged;
              this.settle(group, (request) => request.resolve(result.get(request) ?? []));
              return;
            } catch (error) {
              failure = error;
            }
          }
          await this.retryAlone(group, failure);
        })();
        current.done = done;
        last = done;
        alone = staged === undefined || staged.changesColumns;
      }
      await last;
    })().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0) this.startWriter();
    });
  }

  /** Resolves once at least `events` events are queued (or the store closes). */
  private queueReaches(events: number): Promise<void> {
    return new Promise((resolve) => {
      this.queueWaiter = { events, resolve };
    });
  }

  private takeGroup(): PendingIngest[] {
    const group: PendingIngest[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (group.length > 0 && events + next.count > this.limits.maxEventsPerTransaction) break;
      group.push(next);
      events += next.count;
      this.waitingEvents -= next.count;
      this.queue.shift();
    }
    return group;
  }

  /** After a group failed: commits its requests one at a time, so one bad request cannot fail the others. */
  private async retryAlone(group: PendingIngest[], error: unknown): Promise<void> {
    if (group.length === 1) {
      this.settle(group, (request) => request.reject(asStoreError(error)));
      return;
    }
    this.counters.groupFallbacks++;
    for (const request of group) {
      try {
        const outcomes = await this.commitTransaction([request]);
        this.settle([request], (r) => r.resolve(outcomes.get(r) ?? []));
      } catch (error) {
        this.settle([request], (r) => r.reject(asStoreError(error)));
      }
    }
  }

  private settle(requests: PendingIngest[], action: (request: PendingIngest) => void): void {
    for (const request of requests) {
      this.queuedEvents -= request.count;
      action(request);
    }
  }

  /** Commits the requests in one transaction; on failure rolls back and leaves the cache unchanged. */
  private async commitTransaction(requests: PendingIngest[]): Promise<Map<PendingIngest, IngestOutcome[]>> {
    const staged = await this.stageTransaction(requests, this.writer, async () => undefined);
    await staged.commit?.();
    return staged.result;
  }

  /**
   * Plans the requests and appends them in a transaction on `connection`, without committing.
   * A transaction that changes columns first awaits `before` (the commit of the previous group).
   * On failure rolls back and leaves the cache unchanged.
   */
  private async stageTransaction(
    requests: PendingIngest[],
    connection: DuckDBConnection,
    before: () => Promise<void>,
  ): Promise<StagedTransaction> {
    const plans = new Map<string, DatasetPlan>();
    let tableNumber = this.catalog.nextTableNumber;
    for (const request of requests) {
      let plan = plans.get(request.dataset);
      if (plan === undefined) {
        const existing = this.catalog.get(request.dataset);
        const state = existing ?? emptyDatasetState(request.dataset, `ds_${tableNumber++}`, this.now());
        plan = newPlan(state, existing === undefined);
        plans.set(request.dataset, plan);
      }
      plan.outcomes.set(request, planRequest(plan, request, this.limits));
    }
    for (const plan of plans.values()) {
      // Chunks prepared against the old columns do not fit changed ones: store those events as objects
      // (every value that fitted a column fits it widened, so all stay accepted).
      if (plan.prepared.length > 0 && (plan.slots !== plan.state.slots || plan.isNewDataset)) {
        for (const batch of plan.prepared) for (const event of batch.materialize()) plan.accepted.push(event);
        plan.prepared = [];
      }
    }
    const result = new Map<PendingIngest, IngestOutcome[]>();
    for (const plan of plans.values()) for (const [request, outcomes] of plan.outcomes) result.set(request, outcomes);
    const eventsToWrite = [...plans.values()].reduce((sum, plan) => sum + plan.accepted.length + preparedEvents(plan), 0);
    const writing = [...plans.values()].filter((plan) => plan.accepted.length > 0 || plan.prepared.length > 0);
    const changesColumns = writing.some((plan) => plan.isNewDataset || plan.slots !== plan.state.slots);
    if (eventsToWrite === 0) return { result, commit: undefined, changesColumns: false };

    // DuckDB refuses to alter a table that another open transaction appends to.
    if (changesColumns) await before();
    await connection.run('BEGIN TRANSACTION');
    const rollBack = async (error: unknown): Promise<never> => {
      await connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    };
    try {
      for (const plan of writing) {
        await this.catalog.applySchemaChanges(connection, plan);
        await appendEvents(connection, plan);
        await appendPrepared(connection, plan);
      }
    } catch (error) {
      return rollBack(error);
    }
    const commit = async (): Promise<void> => {
      try {
        await connection.run('COMMIT');
      } catch (error) {
        return rollBack(error);
      }
      this.counters.transactions++;
      this.counters.requests += requests.length;
      this.counters.events += eventsToWrite;
      this.catalog.nextTableNumber = tableNumber;
      for (const plan of writing) this.catalog.applyCommitted(plan);
    };
    return { result, commit, changesColumns };
  }
}

function asStoreError(error: unknown): FlagscopeError {
  if (error instanceof FlagscopeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FlagscopeError(
    'server_error',
    `storing events failed: ${message.toLowerCase()}`,
    'retry the request; if it keeps failing, check the server log',
    {
      cause: error,
    },
  );
}
