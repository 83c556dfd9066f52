/**
 * The canary controller's service (no HTTP): starts canaries, ticks every canary in flight
 * (measure with compare's statement, judge with the canary core, decide, set the flag's rollout,
 * record), and steers them (promote, ramp, pause, resume, abort). The state is saved before the
 * flag's rollout changes, and every tick first brings the rollout in line with the saved state, so
 * a server killed between the two finishes the change when it comes back.
 */
import {
  type CanaryDecision,
  type CanaryEvidence,
  type CanaryPlan,
  type CanaryTransition,
  applyDecision,
  assembleEvidence,
  type CanaryBatch,
  buildCanaryBatch,
  buildCanaryStatements,
  buildCanaryUnitBatch,
  checkPlanAgainstFlag,
  createCanaryState,
  decideTick,
  defaultGuards,
  isTerminal,
  parseCanaryPlan,
  transition,
  unitColumnOf,
} from '../../canary/index.js';
import { FlagscopeError, notFound } from '../../errors.js';
import type { Flag } from '../../flags/model.js';
import { rolloutFromPercentages, rolloutShare } from '../../flags/model.js';
import type { DatasetSchema } from '../../query/schema.js';
import type { EventStore, LeaseFence } from '../../store/types.js';
import type { FlagService } from '../flags/flag-service.js';
import type { CanaryRecord, CanaryRepository, CanaryTimelineEntry } from './canary-repository.js';

/**
 * Canaries that count events (no unit column) measured by one statement: each canary's own
 * statements over one shared scan ({@link buildCanaryBatch}). The engine plans such a statement in
 * time that grows faster than its canaries (50 in one: about 15 s on 20,000 events, 10: under 1 s),
 * so they go in statements of this many.
 */
export const CANARIES_PER_STATEMENT = 8;

/**
 * Canaries that count units (the default, `user.id`) measured by one statement aggregating per unit
 * once for all of them ({@link buildCanaryUnitBatch}); its size grows with its canaries only by their
 * codes and the crossing of merged units with them (bench/canary-tick.mjs).
 */
export const UNIT_CANARIES_PER_STATEMENT = 64;

/** The name canary decisions are recorded under in the flag's history. */
export const CONTROLLER = 'canary-controller';

export interface CanaryServiceDependencies {
  repository: CanaryRepository;
  events: EventStore;
  flags: FlagService;
  now: () => number;
  log?: (line: string) => void;
  /**
   * Runs the measurement of a tick (its read statements) under admission, with a signal that
   * aborts at its deadline (the server's gate: src/server/admission.ts). Default: at once, no deadline.
   */
  admit?: <T>(task: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}

/** What the controller serves for a percentage: the canary variant first, so a user keeps it as the percentage grows. */
export function canaryRollout(plan: CanaryPlan & { baseline: string }, percent: number): unknown {
  return rolloutFromPercentages({ [plan.variant]: percent, [plan.baseline]: Math.round((100 - percent) * 1000) / 1000 }, plan.flag);
}

/** True when the flag serves the canary's percentage (to a thousandth of a percent, the rollout's finest step). */
function servesPercent(flag: Flag, record: CanaryRecord): boolean {
  const served = rolloutShare(flag.rollout, record.plan.variant);
  return served !== undefined && Math.abs(served - record.state.percent) < 1e-6;
}

export class CanaryService {
  /** The latest record of each flag's canary, as saved. */
  private readonly byFlag = new Map<string, CanaryRecord>();
  private loaded = false;
  /** Per flag, the state revision and decision kind last saved by a tick that changed nothing. */
  private readonly savedDecisionKind = new Map<string, { revision: number; kind: string }>();

  constructor(private readonly deps: CanaryServiceDependencies) {}

  private async load(): Promise<void> {
    if (this.loaded) return;
    for (const record of await this.deps.repository.list()) {
      const held = this.byFlag.get(record.plan.flag);
      // A command saved while the list was being read (during a tick's reload) is newer than the
      // list's copy; so is a canary started meanwhile: keep what is held.
      const newer =
        held !== undefined &&
        (held.state.createdAt > record.state.createdAt ||
          (held.state.createdAt === record.state.createdAt && held.state.revision > record.state.revision));
      if (!newer) this.byFlag.set(record.plan.flag, record);
    }
    this.loaded = true;
  }

  /** Every canary, the latest per flag. */
  async list(): Promise<CanaryRecord[]> {
    await this.load();
    return [...this.byFlag.values()];
  }

  /** The latest canary of a flag, or `not_found`. */
  async get(flag: string): Promise<CanaryRecord> {
    await this.load();
    const record = this.byFlag.get(flag);
    if (record === undefined) throw notFound(`flag ${flag} has no canary`, `start one with \`flagscope canary start ${flag} --dataset D\``);
    return record;
  }

  /** Validates a plan against its flag and dataset, and returns it with its guards chosen (nothing is started). */
  async preparePlan(body: unknown): Promise<CanaryPlan & { baseline: string }> {
    const parsed = parseCanaryPlan(body);
    const plan = checkPlanAgainstFlag(parsed, this.deps.flags.get(parsed.flag));
    const schema = await this.deps.events.getSchema(plan.dataset);
    if (schema === undefined) throw notFound(`dataset "${plan.dataset}" does not exist`, 'run `flagscope datasets` to see the datasets');
    const guards = plan.guards.length > 0 ? plan.guards : defaultGuards(schema);
    if (guards.length === 0) {
      throw new FlagscopeError(
        'invalid_input',
        `dataset "${plan.dataset}" has none of the columns of the default guards (error, status_code, duration_ms, meta.incomplete)`,
        "give the guards with --guard, e.g. --guard 'RATE(status_code >= 500) <= +0.5pp'",
      );
    }
    // The guards' columns and filter values are checked now, as compare checks them, so a canary
    // never starts with a guard no tick could measure. The flag's column may not exist yet (no
    // event has carried the flag): the controller waits for it.
    const withFlagColumn = schema.columns.some((c) => c.name === plan.column)
      ? schema
      : { ...schema, columns: [...schema.columns, { name: plan.column, type: 'string' as const }] };
    const now = this.deps.now();
    buildCanaryStatements({ plan, guards, schema: withFlagColumn, table: '"check"', state: { startedAt: now, stepStartedAt: now }, now });
    return { ...plan, guards };
  }

  /** Starts a canary: the plan is saved, then the flag serves the first step. */
  async start(body: unknown, who: string, why = ''): Promise<CanaryRecord> {
    await this.load();
    const plan = await this.preparePlan(body);
    const existing = this.byFlag.get(plan.flag);
    if (existing !== undefined && !isTerminal(existing.state.status)) {
      throw new FlagscopeError(
        'conflict',
        `flag ${plan.flag} already has a canary in flight (${existing.state.status} at ${existing.state.percent}%)`,
        `follow it with \`flagscope canary status ${plan.flag}\`, or abort it first`,
      );
    }
    const now = this.deps.now();
    const pending: CanaryRecord = { plan, state: createCanaryState(now), timeline: [], lastDecision: null, createdBy: who };
    await this.deps.repository.save(pending, null);
    const reason = `started by ${who}${why === '' ? '' : ` (${why})`}: steps ${plan.steps.join(', ')}%, ${plan.intervalMs / 1000}s each; guards ${plan.guards.map((g) => g.text).join('; ')}`;
    return this.commit(pending, { type: 'start' }, { now, reason }, 'start', who);
  }

  /**
   * Applies a steering transition (promote, ramp, pause, resume, abort) asked for by `who`. With
   * `expectedRevision` (a client's `If-Match`), a canary that has changed since is refused (`conflict`).
   */
  async steer(flag: string, action: CanaryTransition, reason: string, who: string, expectedRevision?: number): Promise<CanaryRecord> {
    const record = await this.get(flag);
    if (expectedRevision !== undefined && expectedRevision !== record.state.revision) {
      throw new FlagscopeError(
        'conflict',
        `the canary of ${flag} is at revision ${record.state.revision}, not ${expectedRevision}: it changed since you read it`,
        `read it again (\`flagscope canary status ${flag}\`) and retry`,
      );
    }
    const failing = record.lastDecision?.evidence?.guards.some((g) => g.verdict === 'fail') ?? false;
    const context = {
      now: this.deps.now(),
      reason: reason === '' ? `${action.type} by ${who}` : reason,
      guardsFailing: failing,
      ...(record.lastDecision?.evidence ? { srmStepLogE: record.lastDecision.evidence.sampleRatio.stepLogE } : {}),
    };
    if (action.type === 'abort') context.reason = reason;
    return this.commit(record, action, context, action.type, who);
  }

  /** The canaries in flight (not ended) that `dataset` measures. */
  async inFlightOn(dataset: string): Promise<Array<{ flag: string; status: string; percent: number }>> {
    await this.load();
    return [...this.byFlag.values()]
      .filter((r) => r.plan.dataset === dataset && !isTerminal(r.state.status))
      .map((r) => ({ flag: r.plan.flag, status: r.state.status, percent: r.state.percent }));
  }

  /**
   * Rolls back to 0% every canary in flight that `dataset` measures, because the key named `who` deletes the
   * dataset (a pending one is aborted); answers their flags. Each is in the canary's timeline and
   * the flag's history with a reason naming the dataset.
   */
  async rollBackForDeletedDataset(dataset: string, who: string): Promise<string[]> {
    const flags: string[] = [];
    for (const { flag } of await this.inFlightOn(dataset)) {
      const record = await this.get(flag);
      const action: CanaryTransition = record.state.status === 'pending' ? { type: 'abort' } : { type: 'rollback' };
      const reason = `rolled back to 0%: its dataset "${dataset}" is deleted by key ${JSON.stringify(who)} (\`datasets delete --force\`), so nothing is left to measure the canary with`;
      await this.commit(record, action, { now: this.deps.now(), reason }, action.type, who);
      flags.push(flag);
    }
    return flags;
  }

  /**
   * Reads the canaries again, so a change another server saved is seen (a replica that does not
   * lead the controller refreshes at every tick, so its steering starts from the stored state).
   */
  async refresh(): Promise<void> {
    this.loaded = false;
    this.byFlag.clear();
    await this.load();
  }

  /**
   * Ticks every canary in flight. The canaries are read again first, so a change another server
   * saved is seen; then every canary of a dataset is measured by one statement
   * ({@link buildCanaryBatch}), and each is decided and applied in turn. A canary whose tick fails
   * is logged and the others go on; when a dataset's batch cannot be built or run, its canaries
   * are measured one by one, so one canary cannot hold up the others. With `fence` (the controller
   * lease's epoch this tick runs under), every write the tick decides is refused by the store once
   * the lease has moved on to another replica.
   */
  async tickAll(fence?: LeaseFence): Promise<void> {
    const previous = new Map(this.byFlag);
    this.loaded = false;
    this.byFlag.clear();
    await this.load();
    // The latest decision of a tick that changed nothing is kept in memory only (not saved at
    // every tick): carry it over when the stored canary is the one it was decided on.
    for (const [flag, record] of this.byFlag) {
      const known = previous.get(flag);
      if (known !== undefined && known.state.createdAt === record.state.createdAt && known.state.revision === record.state.revision) {
        this.byFlag.set(flag, { ...record, lastDecision: known.lastDecision });
      }
    }
    const inFlight = [...this.byFlag.values()].filter((r) => !isTerminal(r.state.status) && r.state.status !== 'pending');
    if (inFlight.length === 0) return;
    const now = this.deps.now();
    // The measurement (reads only) is admitted with a deadline; the decisions and the writes they
    // make (a rollback's included) come after it, outside the gate.
    const admit = this.deps.admit ?? (<T>(task: (signal: AbortSignal) => Promise<T>) => task(new AbortController().signal));
    let measured: Map<string, CanaryEvidence | null>;
    try {
      measured = await admit((signal) => this.measureAll(inFlight, now, signal));
    } catch (e) {
      this.deps.log?.(
        `canaries: the tick's measurement stopped, no canary decided; measured again at the next tick: ${(e as Error)?.message ?? String(e)}`,
      );
      return;
    }
    for (const record of inFlight) {
      const flag = record.plan.flag;
      const evidence = measured.get(flag);
      // Its measurement failed (logged): it is measured again at the next tick.
      if (evidence === undefined) continue;
      try {
        await this.tick(flag, { now, evidence }, fence);
      } catch (e) {
        this.deps.log?.(`canary ${flag}: tick failed: ${(e as Error)?.message ?? String(e)}`);
      }
    }
  }

  /**
   * One tick of one canary: reconcile the rollout, measure (unless `measured` gives the evidence
   * of this tick's time), decide, apply. A tick that changes nothing saves nothing: its decision
   * is kept in memory for `status`, and saved when its kind differs from the saved one's.
   */
  async tick(flag: string, measured?: { now: number; evidence: CanaryEvidence | null }, fence?: LeaseFence): Promise<CanaryDecision> {
    let record = await this.get(flag);
    await this.reconcileRollout(record, fence);
    const now = measured?.now ?? this.deps.now();
    // A canary starts only on a dataset that exists, so one that is gone was deleted under it
    // (by another server, or a delete this server did not see through): it is rolled back.
    const datasetDeleted = this.deps.events.tableOf(record.plan.dataset) === undefined;
    const evidence = datasetDeleted ? null : measured === undefined ? await this.measure(record, now) : measured.evidence;
    const pressed = this.deps.flags
      .list({ kind: 'kill-switch', service: this.deps.flags.get(flag).service })
      .filter((f) => f.pressed !== undefined)
      .map((f) => ({ key: f.key, by: f.pressed!.by, reason: f.pressed!.reason }));
    const decision = decideTick({ plan: record.plan, state: record.state, evidence, pressedSwitches: pressed, datasetDeleted, now });
    const next = applyDecision(record.state, record.plan, decision);
    if (next === record.state) {
      const saved = this.savedDecisionKind.get(flag);
      record = { ...record, lastDecision: decision };
      if (saved?.revision !== record.state.revision || saved.kind !== decision.kind) {
        await this.deps.repository.save(record, record.state.revision, fence);
        this.savedDecisionKind.set(flag, { revision: record.state.revision, kind: decision.kind });
      }
      this.byFlag.set(flag, record);
      return decision;
    }
    const entry: CanaryTimelineEntry = {
      at: now,
      kind: decision.kind,
      by: CONTROLLER,
      reason: decision.reason,
      status: next.status,
      percent: next.percent,
      evidence: decision.evidence,
      ...(fence === undefined ? {} : { epoch: fence.epoch }),
    };
    await this.saveAndServe(
      record,
      { ...record, state: next, timeline: [...record.timeline, entry], lastDecision: decision },
      decision.reason,
      fence,
    );
    return decision;
  }

  private async commit(
    record: CanaryRecord,
    action: CanaryTransition,
    context: Parameters<typeof transition>[3],
    kind: string,
    who: string,
  ): Promise<CanaryRecord> {
    const state = transition(record.state, record.plan, action, context);
    const entry: CanaryTimelineEntry = {
      at: context.now,
      kind,
      by: who,
      reason: context.reason,
      status: state.status,
      percent: state.percent,
    };
    // The flag's history says who steered it (the change itself is recorded under the controller's name).
    const why = kind === 'start' ? context.reason : `canary ${kind} by ${who}: ${context.reason}`;
    return this.saveAndServe(record, { ...record, state, timeline: [...record.timeline, entry] }, why);
  }

  /** Saves the new record (the intent), then makes the flag serve its percentage. */
  private async saveAndServe(before: CanaryRecord, after: CanaryRecord, why: string, fence?: LeaseFence): Promise<CanaryRecord> {
    await this.deps.repository.save(after, before.state.revision, fence);
    this.byFlag.set(after.plan.flag, after);
    if (after.state.percent !== before.state.percent || before.state.status === 'pending') await this.serve(after, why);
    return after;
  }

  private async serve(record: CanaryRecord, why: string): Promise<void> {
    const flag = this.deps.flags.get(record.plan.flag);
    if (servesPercent(flag, record)) return;
    await this.deps.flags.setRollout(record.plan.flag, canaryRollout(record.plan, record.state.percent), undefined, CONTROLLER, why);
  }

  /**
   * A server that stopped between saving a state and serving it serves it now. Under a fence the
   * record is first saved again unchanged, so a replica whose lease or view is stale changes no
   * rollout (the store refuses the save).
   */
  private async reconcileRollout(record: CanaryRecord, fence?: LeaseFence): Promise<void> {
    const flag = this.deps.flags.get(record.plan.flag);
    if (!servesPercent(flag, record)) {
      if (fence !== undefined) await this.deps.repository.save(record, record.state.revision, fence);
      await this.serve(record, `canary ${record.state.status} at ${record.state.percent}%: the rollout follows the canary's saved state`);
    }
  }

  /**
   * The evidence of every canary in `records` at `now`, one statement per dataset; a canary
   * missing from the answer is measured on its own by its tick.
   */
  private async measureAll(records: CanaryRecord[], now: number, signal: AbortSignal): Promise<Map<string, CanaryEvidence | null>> {
    const { events } = this.deps;
    const measured = new Map<string, CanaryEvidence | null>();
    const byDataset = new Map<string, CanaryRecord[]>();
    for (const record of records) byDataset.set(record.plan.dataset, [...(byDataset.get(record.plan.dataset) ?? []), record]);
    for (const [dataset, group] of byDataset) {
      try {
        const schema = await events.getSchema(dataset);
        const table = events.tableOf(dataset);
        const measurable: CanaryRecord[] = [];
        for (const record of group) {
          // No events yet, or none carrying the flag: nothing to measure (the controller waits).
          if (schema === undefined || table === undefined || !schema.columns.some((c) => c.name === record.plan.column)) {
            measured.set(record.plan.flag, null);
          } else measurable.push(record);
        }
        if (schema === undefined || table === undefined) continue;
        if (measurable.length > 0) await this.measureBatch(measurable, schema, table, now, measured, signal);
      } catch (e) {
        if (signal.aborted) throw e;
        this.deps.log?.(`canaries of dataset ${dataset}: measured one by one: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    // A canary its batch could not measure is measured alone, so one cannot hold up the others.
    for (const record of records) {
      if (measured.has(record.plan.flag)) continue;
      try {
        measured.set(record.plan.flag, await this.measure(record, now, signal));
      } catch (e) {
        if (signal.aborted) throw e;
        this.deps.log?.(`canary ${record.plan.flag}: tick failed: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    return measured;
  }

  /**
   * Measures canaries of one dataset, into `measured`: those counting the same unit column with one
   * statement per {@link UNIT_CANARIES_PER_STATEMENT}, the others (and a unit statement's canaries
   * when it fails) by shared scans of {@link CANARIES_PER_STATEMENT}.
   */
  private async measureBatch(
    measurable: CanaryRecord[],
    schema: DatasetSchema,
    table: string,
    now: number,
    measured: Map<string, CanaryEvidence | null>,
    signal: AbortSignal,
  ): Promise<void> {
    const { events } = this.deps;
    const inputOf = (record: CanaryRecord) => ({
      plan: record.plan,
      guards: record.plan.guards,
      schema,
      table: events.dialect.quoteIdent(table),
      state: record.state,
      now,
      dialect: events.dialect,
      percent: record.state.percent,
    });
    const byUnit = new Map<string, CanaryRecord[]>();
    const perEvent: CanaryRecord[] = [];
    for (const record of measurable) {
      let unit: string | undefined;
      try {
        unit = unitColumnOf(inputOf(record));
      } catch {
        unit = undefined;
      }
      if (unit === undefined) perEvent.push(record);
      else byUnit.set(unit, [...(byUnit.get(unit) ?? []), record]);
    }
    for (const group of byUnit.values()) {
      for (let from = 0; from < group.length; from += UNIT_CANARIES_PER_STATEMENT) {
        const chunk = group.slice(from, from + UNIT_CANARIES_PER_STATEMENT);
        try {
          await this.runBatch(buildCanaryUnitBatch(chunk.map(inputOf)), chunk, now, measured, signal);
        } catch (e) {
          if (signal.aborted) throw e;
          this.deps.log?.(
            `canaries ${chunk.map((r) => r.plan.flag).join(', ')}: per-unit batch failed, measured by shared scans: ${(e as Error)?.message ?? String(e)}`,
          );
          perEvent.push(...chunk);
        }
      }
    }
    for (let from = 0; from < perEvent.length; from += CANARIES_PER_STATEMENT) {
      const chunk = perEvent.slice(from, from + CANARIES_PER_STATEMENT);
      await this.runBatch(buildCanaryBatch(chunk.map(inputOf)), chunk, now, measured, signal);
    }
  }

  /** Runs one batch statement and records each of its canaries' evidence into `measured`. */
  private async runBatch(
    batch: CanaryBatch,
    records: CanaryRecord[],
    now: number,
    measured: Map<string, CanaryEvidence | null>,
    signal: AbortSignal,
  ): Promise<void> {
    const rows = await this.deps.events.execute(batch.sql, batch.params, { signal });
    batch.decode(rows as unknown[][]).forEach((measurement, i) => {
      const record = records[i]!;
      measured.set(
        record.plan.flag,
        assembleEvidence({
          plan: record.plan,
          guards: record.plan.guards,
          measurement,
          percent: record.state.percent,
          srmLogE: record.state.srmLogE,
          now,
        }),
      );
    });
  }

  /** The tick's evidence, or null when the dataset has no events yet. */
  async measure(record: CanaryRecord, now: number, signal?: AbortSignal): Promise<CanaryEvidence | null> {
    const { events } = this.deps;
    const schema = await events.getSchema(record.plan.dataset);
    const table = events.tableOf(record.plan.dataset);
    if (schema === undefined || table === undefined) return null;
    if (!schema.columns.some((c) => c.name === record.plan.column)) return null;
    const statements = buildCanaryStatements({
      plan: record.plan,
      guards: record.plan.guards,
      schema,
      table: events.dialect.quoteIdent(table),
      state: record.state,
      now,
      dialect: events.dialect,
    });
    const [guardRows, stepRows] = await Promise.all([
      events.execute(statements.guards.sql, statements.guards.params, { signal }),
      events.execute(statements.step.sql, statements.step.params, { signal }),
    ]);
    const measurement = statements.decode(guardRows as unknown[][], stepRows as unknown[][]);
    return assembleEvidence({
      plan: record.plan,
      guards: record.plan.guards,
      measurement,
      percent: record.state.percent,
      srmLogE: record.state.srmLogE,
      now,
    });
  }
}
