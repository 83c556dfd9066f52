/**
 * Where the controller keeps each canary: its plan, its state and its timeline. The contract is
 * small: the control store holds it beside flags (one row per canary, the state's revision as the
 * optimistic-concurrency token; {@link StoreCanaryRepository}), {@link MemoryCanaryRepository}
 * keeps it in memory.
 */
import type { CanaryDecision, CanaryPlan, CanaryState, CanaryStatus } from '../../canary/index.js';
import { FlagscopeError } from '../../errors.js';
import type { CanaryStore, LeaseFence } from '../../store/types.js';

/** One entry of a canary's timeline: a transition, with the decision's reason and evidence. */
export interface CanaryTimelineEntry {
  at: number;
  /** What happened: a decision kind (`advance`, `rollback`, …) or a steering verb (`start`, `pause`, `abort`, …). */
  kind: string;
  /** Who: `controller` for the controller's decisions, else the API key's name. */
  by: string;
  reason: string;
  status: CanaryStatus;
  percent: number;
  /** The tick's evidence for the controller's decisions. */
  evidence?: CanaryDecision['evidence'];
  /** The controller lease's epoch the decision was taken under (the controller's decisions only). */
  epoch?: number;
}

/** Everything stored about one canary. */
export interface CanaryRecord {
  plan: CanaryPlan & { baseline: string };
  state: CanaryState;
  timeline: CanaryTimelineEntry[];
  /** The latest tick's decision (wait and hold too), for `canary status`. */
  lastDecision: CanaryDecision | null;
  createdBy: string;
}

export interface CanaryRepository {
  /** Every canary, ended ones included, oldest first. */
  list(): Promise<CanaryRecord[]>;
  /**
   * Stores a canary. `expectedRevision` is the state revision stored now (null for a new canary);
   * when another writer got there first it throws `conflict` and stores nothing. With `fence` (a
   * controller's decision), it also throws `conflict` and stores nothing when the lease has moved on.
   */
  save(record: CanaryRecord, expectedRevision: number | null, fence?: LeaseFence): Promise<void>;
}

/** The id a canary is stored under: its flag and when it was created. */
export function canaryId(record: CanaryRecord): string {
  return `${record.plan.flag}@${record.state.createdAt}`;
}

/** Canaries kept in memory (tests, and a server without a canary table). */
export class MemoryCanaryRepository implements CanaryRepository {
  private readonly records = new Map<string, string>();
  private readonly order: string[] = [];

  async list(): Promise<CanaryRecord[]> {
    return this.order.map((id) => JSON.parse(this.records.get(id)!) as CanaryRecord);
  }

  async save(record: CanaryRecord, expectedRevision: number | null): Promise<void> {
    const id = canaryId(record);
    const stored = this.records.get(id);
    const storedRevision = stored === undefined ? null : (JSON.parse(stored) as CanaryRecord).state.revision;
    if (storedRevision !== expectedRevision) {
      throw new FlagscopeError(
        'conflict',
        `the canary of ${record.plan.flag} changed while this change was being made`,
        `see \`flagscope canary status ${record.plan.flag}\` and try again`,
      );
    }
    if (stored === undefined) this.order.push(id);
    this.records.set(id, JSON.stringify(record));
  }
}

/** Canaries in the control store ({@link CanaryStore}): plan, state and timeline as one JSON body per canary. */
export class StoreCanaryRepository implements CanaryRepository {
  constructor(private readonly store: CanaryStore) {}

  async list(): Promise<CanaryRecord[]> {
    return (await this.store.listCanaries()).map((stored) => JSON.parse(stored.body) as CanaryRecord);
  }

  save(record: CanaryRecord, expectedRevision: number | null, fence?: LeaseFence): Promise<void> {
    return this.store.saveCanary(
      { id: canaryId(record), flag: record.plan.flag, revision: record.state.revision, body: JSON.stringify(record) },
      expectedRevision,
      fence,
    );
  }
}
