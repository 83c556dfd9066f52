/**
 * The event store's single writer: a queue of ingest requests, committed in groups (group
 * commit) on two connections in turn, so the next group is appended while the previous one
 * commits. A failed group is retried one request at a time. Schema changes (a new dataset, new
 * columns) leave the group: each is one transaction on a connection of its own, while groups of
 * other datasets keep committing; the dataset's requests wait for it. docs/storage.md tells the story.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { FlagscopeError } from '../../errors.js';
import { appendEvents, appendPrepared, insertEvents, preparedEvents } from './append.js';
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
  /** Committed schema changes: each creates a dataset or adds (or widens) columns, all it needs in one transaction. */
  schemaChanges: number;
}

/** How the writer reaches the connections schema changes run on, and a test's hook into them. */
export interface SchemaChangeOptions {
  /** A connection of its own for one schema change, given back afterwards. */
  takeConnection: () => Promise<DuckDBConnection>;
  giveConnection: (connection: DuckDBConnection) => void;
  /**
   * @internal called before a schema change of `dataset` begins its transaction; the change
   * waits for the promise (tests hold a change open with it).
   */
  beforeSchemaChange?: ((dataset: string) => Promise<void> | void) | undefined;
}

export type { IngestPressure } from '../types.js';

/** A group appended in an open transaction, waiting for its commit. */
interface StagedTransaction {
  result: Map<PendingIngest, IngestOutcome[]>;
  /** Commits and updates the cache; undefined when there was nothing to write. */
  commit: (() => Promise<void>) | undefined;
  /** Requests of datasets whose columns must change first: they leave the group for a schema change. */
  deferred: Map<string, PendingIngest[]>;
}

/** Events of a schema change stored by `INSERT` statements (off the event loop) rather than data chunks. */
const FEW_EVENTS = 16;

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
  private readonly counters: IngestStats = { transactions: 0, requests: 0, events: 0, groupFallbacks: 0, schemaChanges: 0 };
  /** Datasets whose schema change runs, with the requests that arrived for them meanwhile. */
  private readonly changing = new Map<string, PendingIngest[]>();
  private readonly schemaTasks = new Set<Promise<void>>();
  /** The running schema change of each dataset (the next one waits for it). */
  private readonly changeTasks = new Map<string, Promise<void>>();
  /** Schema changes and exclusive tasks holding each dataset's requests; they go on when the last ends. */
  private readonly holds = new Map<string, number>();
  /** Every schema change or exclusive task of each dataset still running. */
  private readonly datasetTasks = new Map<string, Set<Promise<void>>>();
  /** Settles once every group taken so far has committed (or failed). */
  private lastCommit: Promise<void> = Promise.resolve();

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
    private readonly schema: SchemaChangeOptions,
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
    while (this.writing !== undefined || this.schemaTasks.size > 0) {
      if (this.writing !== undefined) await this.writing;
      else await Promise.all(this.schemaTasks);
    }
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
   * the order of the groups. A group never changes columns: requests that need a schema change
   * leave it for {@link changeSchema}, and the rest of the group goes on.
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
        if (group.length === 0) continue;
        let groupSettled!: () => void;
        this.lastCommit = new Promise<void>((resolve) => {
          groupSettled = resolve;
        });
        const current = lanes[lane]!;
        lane = (lane + 1) % lanes.length;
        await current.done;
        const previous = last;
        let staged: StagedTransaction | undefined;
        let failure: unknown;
        try {
          staged = await this.stageTransaction(group, current.connection);
        } catch (error) {
          failure = error;
        }
        const deferred = staged?.deferred;
        // A request that needs a schema change waits for the groups before it (they may append to its table).
        if (deferred !== undefined) for (const [dataset, requests] of deferred) this.changeSchema(dataset, requests, previous);
        const members = deferred === undefined || deferred.size === 0 ? group : group.filter((r) => !deferred.has(r.dataset));
        const done = (async () => {
          await previous;
          if (staged !== undefined) {
            try {
              await staged.commit?.();
              const { result } = staged;
              this.settle(members, (request) => request.resolve(result.get(request) ?? []));
              return;
            } catch (error) {
              failure = error;
            }
          }
          await this.retryAlone(members, failure);
        })();
        void done.finally(groupSettled);
        current.done = done;
        last = done;
        alone = staged === undefined;
      }
      await last;
    })().finally(() => {
      this.writing = undefined;
      if (this.queue.length > 0) this.startWriter();
    });
  }

  /**
   * Makes the columns `requests` need in one transaction on a connection of its own, after
   * `prior` (the commits of groups that may append to the dataset's table: DuckDB refuses to
   * alter a table another open transaction appends to), then queues the requests again. Requests
   * for the dataset that arrive meanwhile wait beside it; other datasets' groups go on.
   */
  private changeSchema(dataset: string, requests: PendingIngest[], prior: Promise<void>): void {
    this.hold(dataset);
    const task = (async (): Promise<boolean> => {
      await prior;
      const plan = this.planDataset(dataset, requests, this.catalog.nextTableNumber);
      if (!needsSchemaChange(plan)) return false;
      if (plan.isNewDataset) this.catalog.nextTableNumber++;
      // Chunks prepared against the old columns do not fit the new ones: store those events as objects.
      for (const batch of plan.prepared.splice(0)) {
        for (const event of batch.materialize()) plan.accepted.push(event);
      }
      await this.schema.beforeSchemaChange?.(dataset);
      const connection = await this.schema.takeConnection();
      try {
        await connection.run('BEGIN TRANSACTION');
        try {
          await this.catalog.applySchemaChanges(connection, plan);
          // The events that needed the change go in with it, off the commit lane (appending to a
          // table of thousands of columns costs DuckDB a few hundred milliseconds per transaction).
          if (plan.accepted.length <= FEW_EVENTS) await insertEvents(connection, plan);
          else await appendEvents(connection, plan);
          await connection.run('COMMIT');
        } catch (error) {
          await connection.run('ROLLBACK').catch(() => undefined);
          throw error;
        }
      } finally {
        this.schema.giveConnection(connection);
      }
      this.catalog.applyCommitted(plan);
      this.counters.schemaChanges++;
      this.counters.transactions++;
      this.counters.requests += requests.length;
      this.counters.events += plan.accepted.length;
      this.settle(requests, (request) => request.resolve(plan.outcomes.get(request) ?? []));
      return true;
    })().then(
      (stored) => this.requeue(dataset, stored ? [] : requests),
      (error: unknown) => {
        this.settle(requests, (request) => request.reject(asStoreError(error)));
        this.requeue(dataset, []);
      },
    );
    this.track(dataset, task);
  }

  private track(dataset: string, task: Promise<void>): void {
    this.schemaTasks.add(task);
    this.changeTasks.set(dataset, task);
    const running = this.datasetTasks.get(dataset) ?? new Set();
    running.add(task);
    this.datasetTasks.set(dataset, running);
    void task.finally(() => {
      this.schemaTasks.delete(task);
      running.delete(task);
      if (running.size === 0 && this.datasetTasks.get(dataset) === running) this.datasetTasks.delete(dataset);
      if (this.changeTasks.get(dataset) === task) this.changeTasks.delete(dataset);
    });
  }

  /**
   * Runs `work` in a transaction of its own on a schema connection while nothing else writes to
   * `dataset` (after its running schema change and every group taken so far; its requests wait
   * meanwhile), commits it, then `after`, and lets the dataset's requests go on.
   */
  async exclusive<T>(
    dataset: string,
    work: (connection: DuckDBConnection) => Promise<T>,
    after: (result: T, connection: DuckDBConnection) => Promise<void>,
  ): Promise<T> {
    for (let running = this.changeTasks.get(dataset); running !== undefined; running = this.changeTasks.get(dataset)) {
      await running.catch(() => undefined);
    }
    this.hold(dataset);
    let own: Promise<void> | undefined;
    const task = (async () => {
      await this.lastCommit;
      // A schema change of the dataset that a group staged before this began (its requests left
      // that group) may still run: wait for it, so the two never write the table at once.
      for (const other of [...(this.datasetTasks.get(dataset) ?? [])]) if (other !== own) await other;
      const connection = await this.schema.takeConnection();
      try {
        await connection.run('BEGIN TRANSACTION');
        let result: T;
        try {
          result = await work(connection);
          await connection.run('COMMIT');
        } catch (error) {
          await connection.run('ROLLBACK').catch(() => undefined);
          throw error;
        }
        await after(result, connection);
        this.counters.schemaChanges++;
        return result;
      } finally {
        this.schema.giveConnection(connection);
      }
    })();
    const done = task.then(
      () => undefined,
      () => undefined,
    );
    own = done;
    this.track(dataset, done);
    void done.then(() => this.requeue(dataset, []));
    return task;
  }

  /** Queues `requests` and those that waited for the dataset's schema change again, at the front, in order. */
  private requeue(dataset: string, requests: PendingIngest[]): void {
    const holds = (this.holds.get(dataset) ?? 1) - 1;
    if (holds > 0) {
      // Another change or exclusive task of the dataset still runs: wait beside it.
      this.holds.set(dataset, holds);
      this.changing.get(dataset)?.unshift(...requests);
      return;
    }
    this.holds.delete(dataset);
    const waited = this.changing.get(dataset) ?? [];
    this.changing.delete(dataset);
    const again = [...requests, ...waited];
    for (const request of again) this.waitingEvents += request.count;
    this.queue.unshift(...again);
    if (again.length > 0) this.startWriter();
  }

  /** Holds the dataset's requests until every holder has called {@link requeue}. */
  private hold(dataset: string): void {
    this.holds.set(dataset, (this.holds.get(dataset) ?? 0) + 1);
    if (!this.changing.has(dataset)) this.changing.set(dataset, []);
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
      const waiting = this.changing.get(next.dataset);
      if (waiting === undefined && group.length > 0 && events + next.count > this.limits.maxEventsPerTransaction) break;
      this.waitingEvents -= next.count;
      this.queue.shift();
      // A request for a dataset whose columns are changing waits for that change.
      if (waiting !== undefined) {
        waiting.push(next);
        continue;
      }
      group.push(next);
      events += next.count;
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
        const staged = await this.stageTransaction([request], this.writer);
        if (staged.deferred.size > 0) {
          // Its columns changed meanwhile (or must): let it take the writer's ordinary path again.
          this.requeueOne(request);
          continue;
        }
        await staged.commit?.();
        this.settle([request], (r) => r.resolve(staged.result.get(r) ?? []));
      } catch (error) {
        this.settle([request], (r) => r.reject(asStoreError(error)));
      }
    }
  }

  private requeueOne(request: PendingIngest): void {
    const waiting = this.changing.get(request.dataset);
    if (waiting !== undefined) {
      waiting.push(request);
      return;
    }
    this.waitingEvents += request.count;
    this.queue.unshift(request);
  }

  private settle(requests: PendingIngest[], action: (request: PendingIngest) => void): void {
    for (const request of requests) {
      this.queuedEvents -= request.count;
      action(request);
    }
  }

  /** A plan of `requests`, all for `dataset`, against the dataset's committed columns. */
  private planDataset(dataset: string, requests: PendingIngest[], tableNumber: number): DatasetPlan {
    const existing = this.catalog.get(dataset);
    const state = existing ?? emptyDatasetState(dataset, `ds_${tableNumber}`, this.now());
    const plan = newPlan(state, existing === undefined);
    for (const request of requests) plan.outcomes.set(request, planRequest(plan, request, this.limits));
    return plan;
  }

  /**
   * Plans the requests and appends them in a transaction on `connection`, without committing.
   * Datasets whose columns would change are left out (`deferred`). On failure rolls back and
   * leaves the cache unchanged.
   */
  private async stageTransaction(requests: PendingIngest[], connection: DuckDBConnection): Promise<StagedTransaction> {
    const byDataset = new Map<string, PendingIngest[]>();
    for (const request of requests) {
      const list = byDataset.get(request.dataset);
      if (list === undefined) byDataset.set(request.dataset, [request]);
      else list.push(request);
    }
    const deferred = new Map<string, PendingIngest[]>();
    const writing: DatasetPlan[] = [];
    const result = new Map<PendingIngest, IngestOutcome[]>();
    let eventsToWrite = 0;
    for (const [dataset, list] of byDataset) {
      const plan = this.planDataset(dataset, list, this.catalog.nextTableNumber);
      if (needsSchemaChange(plan)) {
        deferred.set(dataset, list);
        continue;
      }
      for (const [request, outcomes] of plan.outcomes) result.set(request, outcomes);
      const events = plan.accepted.length + preparedEvents(plan);
      if (events === 0) continue;
      eventsToWrite += events;
      writing.push(plan);
    }
    const served = requests.length - [...deferred.values()].reduce((sum, list) => sum + list.length, 0);
    if (eventsToWrite === 0) return { result, commit: undefined, deferred };

    await connection.run('BEGIN TRANSACTION');
    const rollBack = async (error: unknown): Promise<never> => {
      await connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    };
    try {
      for (const plan of writing) {
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
      this.counters.requests += served;
      this.counters.events += eventsToWrite;
      for (const plan of writing) this.catalog.applyCommitted(plan);
    };
    return { result, commit, deferred };
  }
}

/** True when the plan creates its dataset or adds or widens columns. */
function needsSchemaChange(plan: DatasetPlan): boolean {
  const writes = plan.accepted.length > 0 || plan.prepared.length > 0;
  return writes && (plan.isNewDataset || plan.slots !== plan.state.slots);
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
