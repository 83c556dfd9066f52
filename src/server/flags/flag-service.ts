/**
 * The server's flag service: validation and bookkeeping of every flag write,
 * optimistic concurrency, the audit history, kill-switch presses, and an
 * immutable in-memory snapshot of all flags, so evaluation never touches the
 * database. The snapshot, the press history and the stream are derived from the
 * control store's change feed: a write goes to the store, and this replica (like
 * any other on the same store) serves it when the change comes back on the feed.
 */
import { FlagscopeError, invalidInput, notFound } from '../../errors.js';
import {
  pressKillSwitch,
  releaseKillSwitch,
  validateFlagDefinition,
  type Flag,
  type FlagDefinition,
  type FlagKind,
  type KillSwitchOutcome,
} from '../../flags/index.js';
import type { FlagAction, FlagHistoryEntry, LastPress } from '../../api/flags.js';
import type { ControlChange, FlagChange, FlagStore } from '../../store/types.js';
import { FeedFollower } from '../replica/feed-follower.js';
import { closestNames, shortName } from '../../query/suggest.js';

/** Release flags older than this are stale (kill switches never are). */
export const STALE_AFTER_MS = 40 * 24 * 3600 * 1000;

/** All flags at one flag-config version. Never mutated: a change builds a new snapshot. */
export interface FlagSnapshot {
  readonly configVersion: number;
  /** Every flag by key, archived ones included. */
  readonly flags: ReadonlyMap<string, Flag>;
  /** Non-archived flags, by key order (what bulk evaluation walks). */
  readonly live: readonly Flag[];
}

/** What a subscriber of the change stream receives. */
export interface FlagChangeEvent {
  configVersion: number;
  key: string;
  /** Only committed changes are streamed, so there is nothing to take back. */
  /** `revert`: a change that was served ahead of its commit could not be stored; `flag` is what is served again. */
  action: FlagAction | 'revert';
  by: string;
  at: string;
  reason: string;
  flag: Flag;
}

export type FlagChangeListener = (event: FlagChangeEvent) => boolean;

export interface ListFilter {
  service?: string;
  kind?: FlagKind;
  stale?: boolean;
  includeArchived?: boolean;
}

/** The result of a press or release. */
export interface KillSwitchResult {
  changed: boolean;
  flag: Flag;
  configVersion: number;
  /** Stream subscribers the change was written to (0 when nothing changed). */
  subscribers: number;
  message?: string;
  press?: { by: string; at: string; reason: string };
}

export interface WriteResult {
  flag: Flag;
  configVersion: number;
  subscribers: number;
}

/** Fields the server keeps; ignored when a client sends a flag it read back. */
const BOOKKEEPING_FIELDS = new Set(['version', 'createdBy', 'createdAt', 'updatedBy', 'updatedAt', 'archived', 'stale']);

/** Fields of a definition that decide what is served; frozen while a kill switch is pressed. */
const SERVED_FIELDS = ['state', 'defaultVariant', 'targeting', 'rollout', 'variants', 'safeVariant', 'kind'] as const;

/** Config versions whose stream delivery count is kept for the writer that waits for them. */

export class FlagService {
  private current: FlagSnapshot;
  private readonly listeners = new Set<FlagChangeListener>();
  private readonly streamEnders = new Set<() => void>();
  private writeTail: Promise<unknown> = Promise.resolve();
  /** Changes this service served and streamed ahead of their commit; the feed confirms them without streaming them again. */
  private readonly echoed = new Set<FlagChange>();
  private follower: FeedFollower | undefined;

  private constructor(
    private readonly store: FlagStore,
    private readonly now: () => number,
    snapshot: FlagSnapshot,
    private readonly pressHistory: Map<string, LastPress>,
  ) {
    this.current = snapshot;
  }

  /** Loads every flag from the store into the first snapshot, then follows the store's change feed. */
  static async open(store: FlagStore, now: () => number): Promise<FlagService> {
    const [{ flags, configVersion }, presses] = await Promise.all([store.loadFlags(), store.lastPresses()]);
    const service = new FlagService(store, now, buildSnapshot(new Map(flags.map((f) => [f.key, f])), configVersion), presses);
    service.follower = await FeedFollower.start(store, configVersion, (changes) => service.applyChanges(changes));
    return service;
  }

  /** The config version of the last change this service applied from the feed (flag or key). */
  get followedVersion(): number {
    return this.follower?.configVersion ?? this.current.configVersion;
  }

  /** Reads the change feed now: for a fallback poll when the store's notices may not arrive. */
  catchUp(): Promise<void> {
    return this.follower?.catchUp() ?? Promise.resolve();
  }

  /** Stops following the feed and ends every stream (at shutdown, before the store closes). */
  close(): void {
    this.follower?.stop();
    this.closeStreams();
  }

  /** The current snapshot (cheap: a field read). */
  snapshot(): FlagSnapshot {
    return this.current;
  }

  /** Number of stream subscribers. */
  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Adds a stream subscriber; returns its removal. A listener returns false when its write did not go out. */
  subscribe(listener: FlagChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Flags matching the filter, by key. */
  list(filter: ListFilter = {}): Flag[] {
    const nowMs = this.now();
    const out: Flag[] = [];
    for (const flag of this.current.flags.values()) {
      if (flag.archived && filter.includeArchived !== true) continue;
      if (filter.service !== undefined && flag.service !== filter.service) continue;
      if (filter.kind !== undefined && flag.kind !== filter.kind) continue;
      if (filter.stale === true && !isStale(flag, nowMs)) continue;
      out.push(flag);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** A flag (archived too), or `not_found`. */
  get(key: string): Flag {
    const flag = this.current.flags.get(key);
    if (flag === undefined) throw unknownFlag(key);
    return flag;
  }

  /** The last press of a kill switch (in force or not). */
  lastPress(key: string): LastPress | undefined {
    return this.pressHistory.get(key);
  }

  /** Creates a flag; an archived flag of the same key comes back with its history. */
  create(input: unknown, who: string, why: string): Promise<WriteResult> {
    return this.serially(() => {
      const definition = userDefinition(input);
      const existing = this.current.flags.get(definition.key);
      if (existing !== undefined && !existing.archived) {
        throw new FlagscopeError(
          'conflict',
          `flag ${definition.key} already exists (version ${existing.version}, changed by ${existing.updatedBy} at ${existing.updatedAt})`,
          '`flagscope flags set` changes an existing flag',
          { details: conflictDetails(existing, null) },
        );
      }
      return this.commitOne('create', existing ?? null, definition, who, why);
    });
  }

  /**
   * Replaces a flag's definition (`mode: 'replace'`) or merges fields into it
   * (`'merge'`: a field set to null is removed), if `expectedVersion` is current.
   */
  update(key: string, expectedVersion: number, input: unknown, mode: 'replace' | 'merge', who: string, why: string): Promise<WriteResult> {
    return this.serially(() => {
      const existing = this.liveFlag(key);
      checkVersion(existing, expectedVersion);
      if (!isObject(input)) throw invalidInput('a flag update must be a JSON object');
      if (input['key'] !== undefined && input['key'] !== key)
        throw invalidInput(`the body names flag ${shownKey(input['key'])}, the path ${key}`, 'flag keys cannot be renamed');
      // A flag read from the API may be sent back whole, its press included; any other press is refused.
      const sentPress = input['pressed'] === null ? undefined : input['pressed'];
      if (input['pressed'] !== undefined && !sameJson(sentPress, existing.pressed)) throw pressNotEditable(key, existing, sentPress);
      const base: Record<string, unknown> = mode === 'merge' ? { ...definitionOf(existing) } : { pressed: existing.pressed };
      if (mode === 'replace' && existing.pressed === undefined) delete base['pressed'];
      for (const [field, value] of Object.entries(input)) {
        // A flag read from the API may be sent back whole: its bookkeeping is the server's.
        if (BOOKKEEPING_FIELDS.has(field) || field === 'pressed') continue;
        if (value === null) delete base[field];
        else base[field] = value;
      }
      base['key'] = key;
      const definition = validateFlagDefinition(base);
      if (existing.pressed !== undefined) {
        for (const field of SERVED_FIELDS) {
          if (!sameJson(definition[field], existing[field])) {
            throw invalidInput(
              `kill switch ${key} is pressed; its ${field} cannot change until it is released`,
              `release it first (\`flagscope buttons release ${key} --reason TEXT\`)`,
            );
          }
        }
      }
      return this.commitOne('update', existing, definition, who, why);
    });
  }

  /** Sets (or with null removes) a flag's rollout. */
  setRollout(key: string, rollout: unknown, expectedVersion: number | undefined, who: string, why: string): Promise<WriteResult> {
    return this.serially(() => {
      const existing = this.liveFlag(key);
      if (expectedVersion !== undefined) checkVersion(existing, expectedVersion);
      if (existing.pressed !== undefined) {
        throw invalidInput(
          `kill switch ${key} is pressed; its rollout cannot change until it is released`,
          `release it first (\`flagscope buttons release ${key} --reason TEXT\`)`,
        );
      }
      const base: Record<string, unknown> = { ...definitionOf(existing) };
      if (rollout === null) delete base['rollout'];
      else base['rollout'] = rollout;
      return this.commitOne('rollout', existing, validateFlagDefinition(base), who, why);
    });
  }

  /** Archives a flag: it stops being served and listed, and keeps its history. */
  archive(key: string, expectedVersion: number | undefined, who: string, why: string): Promise<WriteResult> {
    return this.serially(() => {
      const existing = this.liveFlag(key);
      if (expectedVersion !== undefined) checkVersion(existing, expectedVersion);
      // An archived flag is not served at all: archiving a pressed switch would lift its press.
      if (existing.pressed !== undefined) {
        throw invalidInput(
          `kill switch ${key} is pressed; it cannot be archived until it is released`,
          `release it first (\`flagscope buttons release ${key} --reason TEXT\`)`,
        );
      }
      return this.commitOne('archive', existing, definitionOf(existing), who, why);
    });
  }

  /**
   * Presses a kill switch (`press`) or releases it (`release`). A reason is required. With
   * `hideOtherFlags` (a caller that may not read flags), a missing flag, an archived one and
   * one that is not a kill switch get the same not-found answer, so the caller learns nothing
   * of the flags it may not press.
   */
  killSwitch(
    verb: 'press' | 'release',
    key: string,
    who: string,
    reason: unknown,
    options: { hideOtherFlags?: boolean } = {},
  ): Promise<KillSwitchResult> {
    return this.serially(async () => {
      const flag = this.current.flags.get(key);
      const isSwitch = flag !== undefined && !flag.archived && flag.kind === 'kill-switch' && flag.safeVariant !== undefined;
      if (flag === undefined || (options.hideOtherFlags === true && !isSwitch)) throw this.unknownKillSwitch(key);
      const existing = this.liveFlag(key);
      if (typeof reason !== 'string' || reason.trim() === '') {
        throw invalidInput(`a ${verb} of ${key} needs a reason`, `send {"reason": "why"} (\`--reason TEXT\` on the CLI)`);
      }
      const at = new Date(this.now()).toISOString();
      const action = { by: who, reason, at };
      const outcome: KillSwitchOutcome<Flag> = verb === 'press' ? pressKillSwitch(existing, action) : releaseKillSwitch(existing, action);
      if (!outcome.changed) {
        const result: KillSwitchResult = {
          changed: false,
          flag: existing,
          configVersion: this.current.configVersion,
          subscribers: 0,
          message: outcome.message,
        };
        if (outcome.press !== undefined) result.press = { by: outcome.press.by, at: outcome.press.at, reason: outcome.press.reason };
        return result;
      }
      const definition = definitionOf(outcome.flag);
      const written = await this.commitOne(verb, existing, definition, who, reason.trim());
      return { changed: true, ...written, press: { by: outcome.press.by, at: outcome.press.at, reason: outcome.press.reason } };
    });
  }

  /**
   * Imports flag definitions (from flagd JSON) in one transaction: new keys are
   * created, changed ones updated, identical ones left alone.
   */
  importDefinitions(
    definitions: readonly FlagDefinition[],
    who: string,
    why: string,
  ): Promise<{ created: string[]; updated: string[]; unchanged: string[]; configVersion: number; subscribers: number }> {
    return this.serially(async () => {
      const seen = new Set<string>();
      const changes: FlagChange[] = [];
      const created: string[] = [];
      const updated: string[] = [];
      const unchanged: string[] = [];
      const at = this.now();
      for (const raw of definitions) {
        const definition = validateFlagDefinition(raw);
        if (seen.has(definition.key)) throw invalidInput(`the import names flag ${definition.key} twice`);
        seen.add(definition.key);
        const existing = this.current.flags.get(definition.key);
        if (existing !== undefined && !existing.archived && sameJson(definitionOf(existing), definition)) {
          unchanged.push(definition.key);
          continue;
        }
        checkImportKeepsPress(existing !== undefined && !existing.archived ? existing : undefined, definition);
        (existing === undefined || existing.archived ? created : updated).push(definition.key);
        changes.push(this.change('import', existing ?? null, definition, who, why, at, false));
      }
      if (changes.length === 0) return { created, updated, unchanged, configVersion: this.current.configVersion, subscribers: 0 };
      const { configVersion, subscribers } = await this.commit(changes);
      return { created, updated, unchanged, configVersion, subscribers };
    });
  }

  /** The audit history of a flag, newest first. */
  async history(key: string, limit = 100): Promise<FlagHistoryEntry[]> {
    this.get(key);
    return this.store.flagHistory(key, limit);
  }

  /** Registers how to end one open stream at shutdown; returns its removal. */
  trackStream(end: () => void): () => void {
    this.streamEnders.add(end);
    return () => {
      this.streamEnders.delete(end);
    };
  }

  /** Ends every open stream and subscription (at shutdown, so connections can close). */
  closeStreams(): void {
    for (const end of [...this.streamEnders]) end();
    this.streamEnders.clear();
    this.listeners.clear();
  }

  /** Not found for a kill switch `key`, with the nearest keys of live kill switches (any caller may list those). */
  private unknownKillSwitch(key: string): FlagscopeError {
    const switches = [...this.current.flags.values()].filter((f) => !f.archived && f.kind === 'kill-switch' && f.safeVariant !== undefined);
    const nearest = closestNames(
      key,
      switches.map((f) => f.key),
    );
    const list = '`flagscope buttons` lists the kill switches';
    return notFound(`no kill switch ${shortName(key)}`, nearest.length > 0 ? `did you mean ${nearest.join(' or ')}? ${list}` : list);
  }

  private liveFlag(key: string): Flag {
    const flag = this.get(key);
    if (flag.archived) throw notFound(`flag ${key} is archived`, '`flagscope flags create` brings it back; `flags history` shows its past');
    return flag;
  }

  private change(
    action: FlagAction,
    before: Flag | null,
    definition: FlagDefinition,
    who: string,
    why: string,
    at: number,
    archived: boolean,
  ): FlagChange {
    const iso = new Date(at).toISOString();
    const after: Flag = {
      ...definition,
      version: before === null ? 1 : before.version + 1,
      createdBy: before?.createdBy ?? who,
      createdAt: before?.createdAt ?? iso,
      updatedBy: who,
      updatedAt: iso,
      archived,
    };
    return { action, before, after, who, why, at };
  }

  private async commitOne(
    action: FlagAction,
    before: Flag | null,
    definition: FlagDefinition,
    who: string,
    why: string,
  ): Promise<WriteResult> {
    const change = this.change(action, before, definition, who, why, this.now(), action === 'archive');
    const { configVersion, subscribers } = await this.commit([change]);
    return { flag: change.after, configVersion, subscribers };
  }

  /**
   * Serves and streams the changes at once (a local echo), then commits them, then waits until
   * they come back on the change feed with the version the store gave them. A press is visible on
   * this replica within a millisecond instead of after the commit's round trips; every other
   * replica serves it when the feed brings it; the writer's answer still waits for the commit.
   * If the commit fails, what was served before comes back and subscribers get `revert` events.
   */
  private async commit(changes: FlagChange[]): Promise<{ configVersion: number; subscribers: number }> {
    const subscribers = this.echo(changes);
    let configVersion: number;
    try {
      configVersion = await this.store.commitFlagChanges(changes);
    } catch (error) {
      this.revertEcho(changes);
      throw error;
    }
    await this.follower?.reach(configVersion);
    for (const change of changes) this.echoed.delete(change);
    return { configVersion, subscribers };
  }

  /** Serves `changes` ahead of their commit and streams them with the versions they are expected to get. */
  private echo(changes: readonly FlagChange[]): number {
    const flags = new Map(this.current.flags);
    for (const change of changes) flags.set(change.after.key, change.after);
    // The versions the store is expected to give them; the feed brings the versions it gave.
    const expected = this.followedVersion;
    this.current = buildSnapshot(flags, expected + changes.length);
    let subscribers = 0;
    for (const [i, change] of changes.entries()) {
      this.echoed.add(change);
      subscribers = Math.max(subscribers, this.publish(eventOf(expected + i + 1, change)));
    }
    return subscribers;
  }

  /** Takes back an echo whose commit failed: what was served before comes back, and is streamed as `revert`. */
  private revertEcho(changes: readonly FlagChange[]): void {
    const flags = new Map(this.current.flags);
    for (const change of changes) {
      this.echoed.delete(change);
      if (flags.get(change.after.key) !== change.after) continue;
      if (change.before === null) flags.delete(change.after.key);
      else flags.set(change.before.key, change.before);
    }
    this.current = buildSnapshot(flags, this.followedVersion);
    for (const change of changes) {
      const served = change.before ?? { ...change.after, archived: true };
      this.publish({
        configVersion: this.current.configVersion,
        key: served.key,
        action: 'revert',
        by: change.who,
        at: change.after.updatedAt,
        reason: 'the change could not be stored',
        flag: served,
      });
    }
  }

  /**
   * Applies changes from the feed, in order: a new snapshot is swapped in, the press history
   * updated, and each flag change streamed to the subscribers. Key changes pass by.
   */
  private applyChanges(changes: readonly ControlChange[]): void {
    const flagChanges = changes.filter((c): c is Extract<ControlChange, { kind: 'flag' }> => c.kind === 'flag');
    const last = flagChanges[flagChanges.length - 1];
    if (last === undefined) return;
    const flags = new Map(this.current.flags);
    for (const { change } of flagChanges) {
      flags.set(change.after.key, change.after);
      if (change.action === 'press')
        this.pressHistory.set(change.after.key, { by: change.who, at: change.after.updatedAt, reason: change.why });
    }
    this.current = buildSnapshot(flags, last.configVersion);
    for (const { configVersion, change } of flagChanges) {
      // This service's own echoed changes were streamed when they were served.
      if (!this.echoed.has(change)) this.publish(eventOf(configVersion, change));
    }
  }

  private publish(event: FlagChangeEvent): number {
    let written = 0;
    for (const listener of this.listeners) if (listener(event)) written += 1;
    return written;
  }

  /** Writes run one at a time, so a version check and its commit see the same snapshot. */
  private serially<T>(operation: () => Promise<T> | T): Promise<T> {
    const run = this.writeTail.then(operation, operation);
    this.writeTail = run.catch(() => undefined);
    return run;
  }
}

/** The stream event of a committed (or echoed) change. */
function eventOf(configVersion: number, change: FlagChange): FlagChangeEvent {
  return {
    configVersion,
    key: change.after.key,
    action: change.action,
    by: change.who,
    at: change.after.updatedAt,
    reason: change.why,
    flag: change.after,
  };
}

/** True for a live release flag created more than 40 days before `nowMs`. */
export function isStale(flag: Flag, nowMs: number): boolean {
  return !flag.archived && flag.kind === 'release' && nowMs - Date.parse(flag.createdAt) > STALE_AFTER_MS;
}

function buildSnapshot(flags: Map<string, Flag>, configVersion: number): FlagSnapshot {
  const live = [...flags.values()].filter((f) => !f.archived).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return Object.freeze({ configVersion, flags, live: Object.freeze(live) });
}

/** Deep equality of JSON values, ignoring object key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => sameJson(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The editable part of a stored flag. */
export function definitionOf(flag: Flag): FlagDefinition {
  const { version: _v, createdBy: _cb, createdAt: _ca, updatedBy: _ub, updatedAt: _ua, archived: _a, ...definition } = flag;
  return definition;
}

/**
 * An import may not press, release or rewrite a kill switch's press (that takes the `killswitch`
 * scope, through press and release), nor change what a pressed switch serves: the same rules as
 * an update. A re-import of an export leaves a pressed switch exactly as it is.
 */
function checkImportKeepsPress(existing: Flag | undefined, definition: FlagDefinition): void {
  const key = definition.key;
  const hint = 'presses and releases go through `flagscope buttons press|release` (scope killswitch); leave the press out of the import';
  if (!sameJson(definition.pressed, existing?.pressed)) {
    const what =
      existing?.pressed === undefined ? 'would press it' : definition.pressed === undefined ? 'would release it' : 'would change its press';
    throw invalidInput(`the import of flag ${key} ${what}: an import cannot press or release a kill switch`, hint);
  }
  if (existing?.pressed === undefined) return;
  for (const field of SERVED_FIELDS) {
    if (!sameJson(definition[field], existing[field])) {
      throw invalidInput(
        `kill switch ${key} is pressed; the import cannot change its ${field} until it is released`,
        `release it first (\`flagscope buttons release ${key} --reason TEXT\`)`,
      );
    }
  }
}

/**
 * A body's `key` as an error message shows it: whatever JSON it is. (`String` would call a
 * `toString` the body defines, and `[{"toString":0}]` throws: a 500 for a client's mistake.)
 */
function shownKey(value: unknown): string {
  return typeof value === 'string' ? shortName(value) : shortName(JSON.stringify(value) ?? 'nothing', 80);
}

function userDefinition(input: unknown): FlagDefinition {
  if (isObject(input) && input['pressed'] !== undefined) {
    throw invalidInput(
      `flag ${shownKey(input['key'])}: \`pressed\` changes only through press and release`,
      'create the flag without it, then `flagscope buttons press` it (scope killswitch)',
    );
  }
  return validateFlagDefinition(input);
}

/** The refusal of an update that would press, release or rewrite a kill switch's press. */
function pressNotEditable(key: string, existing: Flag, sent: unknown): FlagscopeError {
  const what = existing.pressed === undefined ? 'would press it' : sent === undefined ? 'would release it' : 'would change its press';
  return invalidInput(
    `the update of flag ${key} ${what}: \`pressed\` changes only through press and release`,
    'leave `pressed` out (or send it back unchanged); presses and releases go through `flagscope buttons press|release` (scope killswitch)',
  );
}

function conflictDetails(current: Flag, expected: number | null): Record<string, unknown> {
  return {
    key: current.key,
    currentVersion: current.version,
    expectedVersion: expected,
    changedBy: current.updatedBy,
    changedAt: current.updatedAt,
  };
}

function checkVersion(current: Flag, expected: number): void {
  if (current.version === expected) return;
  throw new FlagscopeError(
    'conflict',
    `flag ${current.key} was changed by ${current.updatedBy} at ${current.updatedAt}: it is at version ${current.version}, you sent version ${expected}`,
    `read it again (\`flagscope flags get ${current.key}\`) and redo your change on version ${current.version}`,
    { details: conflictDetails(current, expected) },
  );
}

function unknownFlag(key: string): FlagscopeError {
  return notFound(`flag ${key} does not exist`, '`flagscope flags list` shows the flags');
}
