/**
 * flagd flag-definition JSON (https://flagd.dev/schema/v0/flags.json) to and
 * from flagscope flags. A flagscope flag set exported and imported again comes
 * back identical, and a flagd daemon serving the export answers what flagscope
 * answers (a pressed kill switch is exported as its safe variant for everyone).
 */
import { invalidInput, isFlagscopeError } from '../errors.js';
import { inspectJsonLogic, maxFractionalTotalWeight } from './json-logic.js';
import {
  flagKinds,
  maxRolloutPrecision,
  reservedMetadataKeys,
  rolloutTotal,
  validateFlagDefinition,
  type FlagDefinition,
  type FlagKind,
  type JsonValue,
  type Rollout,
  type RolloutPrecision,
  type ServedConfig,
} from './model.js';

const flagdSchemaUrl = 'https://flagd.dev/schema/v0/flags.json';

export type FlagdMetadata = Record<string, string | number | boolean>;

export interface FlagdFlag {
  state: 'ENABLED' | 'DISABLED';
  variants: Record<string, JsonValue>;
  /** Absent: flagd serves the caller's default where no rule decides. */
  defaultVariant?: string;
  targeting?: unknown;
  metadata: FlagdMetadata;
}

export interface FlagdDocument {
  $schema: string;
  flags: Record<string, FlagdFlag>;
}

/** Metadata keys flagscope writes and reads. */
const meta = {
  service: 'service',
  kind: 'kind',
  safeVariant: 'safeVariant',
  description: 'description',
  runbook: 'runbook',
  pressedBy: 'pressedBy',
  pressedAt: 'pressedAt',
  pressedReason: 'pressedReason',
  servedBefore: 'servedBefore',
} as const;

/** The `fractional` expression equivalent to a rollout. */
function rolloutToFractional(rollout: Rollout): { fractional: Array<[string, number]> } {
  return { fractional: rollout.weights.map((w): [string, number] => [w.variant, w.weight]) };
}

/** The flagd targeting equivalent to a flag's targeting and rollout, or undefined for neither. */
export function flagdTargeting(targeting: unknown, rollout: Rollout | undefined): unknown {
  if (rollout === undefined) return targeting === undefined ? undefined : structuredClone(targeting);
  const fractional = rolloutToFractional(rollout);
  if (targeting === undefined) return fractional;
  // Targeting first; when it yields null, the rollout decides.
  return { if: [{ '!==': [structuredClone(targeting), null] }, structuredClone(targeting), fractional] };
}

/** Converts one flag to its flagd definition. */
function toFlagdFlag(flag: FlagDefinition): FlagdFlag {
  const metadata: FlagdMetadata = { ...flag.metadata, [meta.service]: flag.service, [meta.kind]: flag.kind };
  if (flag.safeVariant !== undefined) metadata[meta.safeVariant] = flag.safeVariant;
  if (flag.description !== undefined) metadata[meta.description] = flag.description;
  if (flag.runbookUrl !== undefined) metadata[meta.runbook] = flag.runbookUrl;
  const variants = structuredClone(flag.variants);
  if (flag.pressed !== undefined && flag.safeVariant !== undefined) {
    metadata[meta.pressedBy] = flag.pressed.by;
    metadata[meta.pressedAt] = flag.pressed.at;
    metadata[meta.pressedReason] = flag.pressed.reason;
    metadata[meta.servedBefore] = JSON.stringify(flag.pressed.servedBefore);
    return { state: 'ENABLED', variants, defaultVariant: flag.safeVariant, metadata };
  }
  const out: FlagdFlag = { state: flag.state === 'enabled' ? 'ENABLED' : 'DISABLED', variants, metadata };
  if (flag.defaultVariant !== undefined) out.defaultVariant = flag.defaultVariant;
  const targeting = flagdTargeting(flag.targeting, flag.rollout);
  if (targeting !== undefined) out.targeting = targeting;
  return out;
}

/**
 * Converts flags to a flagd flag-definition document. Archived flags are left
 * out (flagd would serve them). Keys keep the order given.
 */
export function toFlagdDocument(flags: ReadonlyArray<FlagDefinition & { archived?: boolean }>): FlagdDocument {
  const doc: FlagdDocument = { $schema: flagdSchemaUrl, flags: {} };
  for (const flag of flags) {
    if (flag.archived === true) continue;
    doc.flags[flag.key] = toFlagdFlag(flag);
  }
  return doc;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Reads a `fractional` as a rollout when it is one: explicit integer weights over distinct variants summing to 100 × 10^p. */
function fractionalAsRollout(logic: unknown, variants: Record<string, unknown>): Rollout | undefined {
  if (!isPlainObject(logic) || Object.keys(logic).length !== 1 || !Array.isArray(logic['fractional'])) return undefined;
  const entries = logic['fractional'] as unknown[];
  if (entries.length === 0) return undefined;
  const weights: Rollout['weights'] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const e of entries) {
    if (!Array.isArray(e) || e.length !== 2) return undefined;
    const [variant, weight] = e as [unknown, unknown];
    if (typeof variant !== 'string' || !Object.hasOwn(variants, variant) || seen.has(variant)) return undefined;
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0) return undefined;
    seen.add(variant);
    total += weight;
    weights.push({ variant, weight });
  }
  for (let p = 0; p <= maxRolloutPrecision; p++) {
    if (total === rolloutTotal(p as RolloutPrecision) && total <= maxFractionalTotalWeight)
      return { weights, precision: p as RolloutPrecision };
  }
  return undefined;
}

/** Splits flagd targeting into flagscope targeting and rollout, recognising what {@link flagdTargeting} writes. */
function splitFlagdTargeting(targeting: unknown, variants: Record<string, unknown>): { targeting?: unknown; rollout?: Rollout } {
  if (targeting === undefined || targeting === null || (isPlainObject(targeting) && Object.keys(targeting).length === 0)) return {};
  const rollout = fractionalAsRollout(targeting, variants);
  if (rollout) return { rollout };
  if (isPlainObject(targeting) && Object.keys(targeting).length === 1 && Array.isArray(targeting['if']) && targeting['if'].length === 3) {
    const [condition, then, otherwise] = targeting['if'] as [unknown, unknown, unknown];
    const tail = fractionalAsRollout(otherwise, variants);
    if (
      tail &&
      isPlainObject(condition) &&
      Object.keys(condition).length === 1 &&
      Array.isArray(condition['!==']) &&
      condition['!=='].length === 2 &&
      condition['!=='][1] === null &&
      deepEqual(condition['!=='][0], then)
    ) {
      return { targeting: then, rollout: tail };
    }
  }
  return { targeting };
}

/**
 * Replaces `{"$ref": NAME}` with the shared evaluator NAME from `$evaluators`, as flagd does.
 * A `$ref` to an evaluator the document does not define stays as it is: flagd loads such a
 * flag and answers `PARSE_ERROR` for it, and so does flagscope.
 */
function resolveRefs(node: unknown, evaluators: Record<string, unknown>, depth = 0): unknown {
  if (depth > 64) throw invalidInput('flagd document: $ref nesting is deeper than 64 levels (a cycle?)');
  if (Array.isArray(node)) return node.map((n) => resolveRefs(n, evaluators, depth + 1));
  if (!isPlainObject(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1 && keys[0] === '$ref' && typeof node['$ref'] === 'string') {
    const name = node['$ref'];
    if (!Object.hasOwn(evaluators, name)) return { $ref: name };
    return resolveRefs(structuredClone(evaluators[name]), evaluators, depth + 1);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = resolveRefs(node[k], evaluators, depth + 1);
  return out;
}

export interface FlagdImportDefaults {
  /** Service for flags whose metadata names none. */
  service?: string;
  /** Kind for flags whose metadata names none; `release` unless given. */
  kind?: FlagKind;
}

function importFlag(key: string, raw: unknown, setMetadata: Record<string, unknown>, defaults: FlagdImportDefaults): FlagDefinition {
  if (!isPlainObject(raw)) throw invalidInput(`flagd flag ${key} is not an object`);
  const metadata = { ...setMetadata, ...(isPlainObject(raw['metadata']) ? raw['metadata'] : {}) };
  const state = raw['state'];
  if (state !== 'ENABLED' && state !== 'DISABLED') throw invalidInput(`flagd flag ${key}: state must be ENABLED or DISABLED`);
  const variants = raw['variants'];
  if (!isPlainObject(variants)) throw invalidInput(`flagd flag ${key}: variants must be an object`);
  const defaultVariant = raw['defaultVariant'] ?? undefined;
  if (defaultVariant !== undefined && typeof defaultVariant !== 'string') {
    throw invalidInput(`flagd flag ${key}: defaultVariant must be a variant name, null or absent`);
  }
  const service = metadata[meta.service] ?? defaults.service;
  if (typeof service !== 'string') {
    throw invalidInput(
      `flagd flag ${key}: metadata has no service`,
      'add "metadata": {"service": "NAME"} to the flag or to the document, or name a service for such flags (`flagscope flags import FILE --service NAME`; `?service=NAME` in the API)',
    );
  }
  const kind = metadata[meta.kind] ?? defaults.kind ?? 'release';
  if (typeof kind !== 'string' || !(flagKinds as readonly string[]).includes(kind)) {
    throw invalidInput(`flagd flag ${key}: metadata kind must be one of ${flagKinds.join(', ')}`);
  }
  const definition: Record<string, unknown> = { key, service, kind, variants, state: state === 'ENABLED' ? 'enabled' : 'disabled' };
  if (defaultVariant !== undefined) definition['defaultVariant'] = defaultVariant;
  const own = Object.entries(metadata).filter(([name]) => !reservedMetadataKeys.includes(name));
  if (own.length > 0) definition['metadata'] = Object.fromEntries(own);
  for (const [field, metaKey] of [
    ['safeVariant', meta.safeVariant],
    ['description', meta.description],
    ['runbookUrl', meta.runbook],
  ] as const) {
    if (metadata[metaKey] !== undefined) definition[field] = metadata[metaKey];
  }
  const pressedBefore = metadata[meta.servedBefore];
  // The press metadata is reserved: it comes whole, as an export writes it, or not at all.
  const pressKeys = [meta.pressedBy, meta.pressedAt, meta.pressedReason, meta.servedBefore];
  const present = pressKeys.filter((k) => metadata[k] !== undefined);
  if (present.length > 0 && present.length < pressKeys.length) {
    throw invalidInput(
      `flagd flag ${key}: metadata ${present.join(', ')} without ${pressKeys.filter((k) => metadata[k] === undefined).join(', ')}`,
      `${pressKeys.join(', ')} are reserved for a pressed kill switch's press and come together, as an export writes them; leave them out otherwise`,
    );
  }
  if (pressedBefore !== undefined) {
    let served: ServedConfig;
    try {
      served = JSON.parse(String(pressedBefore)) as ServedConfig;
    } catch {
      throw invalidInput(`flagd flag ${key}: metadata servedBefore is not JSON`);
    }
    definition['pressed'] = {
      by: metadata[meta.pressedBy],
      at: metadata[meta.pressedAt],
      reason: metadata[meta.pressedReason],
      servedBefore: served,
    };
    if (isPlainObject(served)) {
      // The export serves the safe variant; what the flag really holds is what it served before.
      definition['state'] = served.state;
      if (served.defaultVariant !== undefined) definition['defaultVariant'] = served.defaultVariant;
      else delete definition['defaultVariant'];
      if (served.targeting !== undefined) definition['targeting'] = served.targeting;
      if (served.rollout !== undefined) definition['rollout'] = served.rollout;
    }
  } else {
    const split = splitFlagdTargeting(raw['targeting'], variants);
    if (split.targeting !== undefined) definition['targeting'] = split.targeting;
    if (split.rollout !== undefined) definition['rollout'] = split.rollout;
  }
  return validateFlagDefinition(definition);
}

/**
 * Reads a flagd flag-definition document (an object or its JSON text) into
 * flagscope flag definitions. `metadata` (flag set, then flag) may carry
 * `service`, `kind`, `safeVariant`, `description` and `runbook`; `$ref`s to
 * `$evaluators` are resolved; a `fractional` that is a percentage split
 * becomes a rollout. Every flag is validated; the first problem throws
 * `invalid_input` naming the flag.
 */
export function fromFlagdDocument(input: unknown, defaults: FlagdImportDefaults = {}): FlagDefinition[] {
  let doc = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      throw invalidInput(`flagd document is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (!isPlainObject(doc)) throw invalidInput('flagd document must be a JSON object');
  const evaluators = doc['$evaluators'];
  if (evaluators !== undefined) {
    if (!isPlainObject(evaluators)) throw invalidInput('flagd document: $evaluators must be an object');
    doc = resolveRefs(doc, evaluators);
  }
  const resolved = doc as Record<string, unknown>;
  const flags = resolved['flags'];
  if (!isPlainObject(flags)) throw invalidInput('flagd document has no "flags" object');
  const setMetadata = isPlainObject(resolved['metadata']) ? resolved['metadata'] : {};
  const out: FlagDefinition[] = [];
  for (const [key, raw] of Object.entries(flags)) {
    try {
      out.push(importFlag(key, raw, setMetadata, defaults));
    } catch (e) {
      if (isFlagscopeError(e) && !e.message.includes(key)) throw invalidInput(`flagd flag ${key}: ${e.message}`, e.hint);
      throw e;
    }
  }
  return out;
}

/** A part of a flag's targeting that can only evaluate to null, or only to a parse error. */
export interface NullOnlyRule {
  flag: string;
  outcome: 'null' | 'parse-error';
  message: string;
}

/**
 * The parts of the flags' targeting (also what a pressed kill switch will restore) that flagd
 * loads but that can never give an answer: an unknown `sem_ver` comparison, a wrong argument
 * count for `sem_ver`, `starts_with` or `ends_with` (always `null`), a `$ref` to an evaluator
 * that does not exist (always `PARSE_ERROR`). An import warns about them, or refuses them
 * when strict.
 */
export function nullOnlyRules(definitions: readonly FlagDefinition[]): NullOnlyRule[] {
  const out: NullOnlyRule[] = [];
  for (const flag of definitions) {
    for (const targeting of [flag.targeting, flag.pressed?.servedBefore.targeting]) {
      if (targeting === undefined) continue;
      for (const f of inspectJsonLogic(targeting)) out.push({ flag: flag.key, outcome: f.outcome, message: f.message });
    }
  }
  return out;
}

/** Serialises a flagd document the way `flags export --format flagd` writes it. */
export function formatFlagdDocument(doc: FlagdDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
