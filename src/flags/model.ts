/**
 * The flag model shared by the flag store, the server, the CLI and the
 * evaluator, and its validator. Pure: no I/O, no clock.
 */
import { FlagscopeError, invalidInput, isFlagscopeError } from '../errors.js';
import { inspectJsonLogic } from './json-logic.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const flagKinds = ['release', 'experiment', 'operational', 'kill-switch', 'permission'] as const;
export type FlagKind = (typeof flagKinds)[number];

export type FlagState = 'enabled' | 'disabled';

/** One variant's share of a percentage rollout, as an integer weight. */
export interface RolloutWeight {
  variant: string;
  weight: number;
}

/**
 * A percentage rollout. Weights are integers in units of 10^-precision percent
 * and sum to `100 × 10^precision`: precision 0 means whole percent (weights sum
 * to 100), precision 3 means thousandths of a percent (weights sum to 100000,
 * so 0.001% is weight 1). Order matters: users are bucketed along the
 * cumulative weights in this order, so growing the first entry's weight keeps
 * everyone who already had it.
 */
export interface Rollout {
  weights: RolloutWeight[];
  precision: RolloutPrecision;
}
export type RolloutPrecision = 0 | 1 | 2 | 3;

/** A variant's share of a rollout, in percent (undefined without a rollout). */
export function rolloutShare(rollout: Rollout | undefined, variant: string): number | undefined {
  if (rollout === undefined) return undefined;
  const total = 100 * 10 ** rollout.precision;
  const weight = rollout.weights.filter((w) => w.variant === variant).reduce((sum, w) => sum + w.weight, 0);
  return (100 * weight) / total;
}
export const maxRolloutPrecision = 3;

/** What a flag served before a kill switch was pressed; restored exactly on release. */
export interface ServedConfig {
  state: FlagState;
  defaultVariant?: string;
  targeting?: unknown;
  rollout?: Rollout;
}

/** The pressed state of a kill switch. */
export interface KillSwitchPress {
  by: string;
  /** ISO-8601 time of the press. */
  at: string;
  reason: string;
  servedBefore: ServedConfig;
}

/** The part of a flag its owners edit. */
export interface FlagDefinition {
  key: string;
  service: string;
  kind: FlagKind;
  description?: string;
  runbookUrl?: string;
  variants: Record<string, JsonValue>;
  /** Absent: where no rule decides, the caller's own default is served (reason `DEFAULT`), as flagd does. */
  defaultVariant?: string;
  state: FlagState;
  /** JSON Logic in flagd's dialect; evaluated before the rollout. */
  targeting?: unknown;
  rollout?: Rollout;
  /** Required for `kill-switch` flags, forbidden for the other kinds. */
  safeVariant?: string;
  /** Present while a kill switch is pressed. */
  pressed?: KillSwitchPress;
  /** The flag's own metadata (flagd's `metadata`), returned with every evaluation under flagscope's own fields. */
  metadata?: FlagMetadata;
}

/** Flag metadata: flat entries of strings, numbers and booleans. */
export type FlagMetadata = Record<string, string | number | boolean>;

/**
 * Metadata keys that are flagscope's own fields (in evaluations and in a flagd export): a
 * flag's own metadata cannot use them.
 */
export const reservedMetadataKeys: readonly string[] = [
  'service',
  'kind',
  'safeVariant',
  'pressed',
  'description',
  'runbook',
  'pressedBy',
  'pressedAt',
  'pressedReason',
  'servedBefore',
];
const maxMetadataEntries = 64;

/** A stored flag: its definition plus the store's bookkeeping. */
export interface Flag extends FlagDefinition {
  version: number;
  createdBy: string;
  /** ISO-8601. */
  createdAt: string;
  updatedBy: string;
  /** ISO-8601. */
  updatedAt: string;
  archived: boolean;
}

/** Flag keys, service names and variant names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 128 characters. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const definitionFields = new Set([
  'key',
  'service',
  'kind',
  'description',
  'runbookUrl',
  'variants',
  'defaultVariant',
  'state',
  'targeting',
  'rollout',
  'safeVariant',
  'pressed',
  'metadata',
]);
const recordFields = new Set(['version', 'createdBy', 'createdAt', 'updatedBy', 'updatedAt', 'archived']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, field: string, what = field): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalidInput(`${what} is missing or not a non-empty string`);
  return v;
}

function checkName(value: string, what: string): string {
  if (!namePattern.test(value)) {
    throw invalidInput(
      `invalid ${what} ${JSON.stringify(value)}: use letters, digits, ".", "_" and "-", starting with a letter or digit, at most 128 characters`,
    );
  }
  return value;
}

function checkJsonValue(value: unknown, path: string, depth = 0): JsonValue {
  if (depth > 32) throw invalidInput(`${path} is nested more than 32 levels deep`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidInput(`${path} is not a finite number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => checkJsonValue(v, `${path}[${i}]`, depth + 1));
  if (isPlainObject(value)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = checkJsonValue(v, `${path}.${k}`, depth + 1);
    return out;
  }
  throw invalidInput(`${path} is not a JSON value`);
}

function variantType(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function validateVariants(raw: unknown, key: string): Record<string, JsonValue> {
  if (!isPlainObject(raw) || Object.keys(raw).length === 0) {
    throw invalidInput(`flag ${key}: variants must be an object with at least one variant`, 'e.g. {"on": true, "off": false}');
  }
  const variants: Record<string, JsonValue> = {};
  let firstType: string | undefined;
  for (const [name, value] of Object.entries(raw)) {
    checkName(name, `variant name in flag ${key}`);
    const v = checkJsonValue(value, `variant ${name}`);
    const type = variantType(v);
    if (type === 'null' || type === 'array') {
      throw invalidInput(`flag ${key}: variant ${name} is ${type}; variants are booleans, numbers, strings or objects`);
    }
    if (firstType !== undefined && type !== firstType) {
      throw invalidInput(
        `flag ${key}: variants mix ${firstType} and ${type} values`,
        'all variants of a flag have the same type (all booleans, all numbers, all strings or all objects)',
      );
    }
    firstType = type;
    variants[name] = v;
  }
  return variants;
}

function decimalsOf(value: number): number | undefined {
  for (let p = 0; p <= maxRolloutPrecision; p++) {
    const scaled = value * 10 ** p;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-7) return p;
  }
  return undefined;
}

/**
 * Turns percentages per variant (`{on: 0.5, off: 99.5}`, at most three
 * decimals, summing to 100) into a {@link Rollout} with integer weights.
 * Key order is kept. Throws `invalid_input` with the reason.
 */
export function rolloutFromPercentages(percentages: Record<string, unknown>, flagKey = 'flag'): Rollout {
  const entries = Object.entries(percentages);
  if (entries.length === 0) throw invalidInput(`flag ${flagKey}: rollout has no variants`);
  let precision = 0;
  for (const [variant, pct] of entries) {
    if (typeof pct !== 'number' || !Number.isFinite(pct)) {
      throw invalidInput(
        `flag ${flagKey}: rollout percentage for ${variant} is not a finite number`,
        'give each variant a percentage from 0 to 100, e.g. `on=5,off=95`',
      );
    }
    if (pct < 0 || pct > 100) {
      throw invalidInput(
        `flag ${flagKey}: rollout percentage ${pct} for ${variant} is outside 0–100`,
        'give each variant a percentage from 0 to 100, e.g. `on=5,off=95`',
      );
    }
    const d = decimalsOf(pct);
    if (d === undefined) {
      throw invalidInput(`flag ${flagKey}: rollout percentage ${pct} for ${variant} is finer than 0.001%`, 'use at most three decimals');
    }
    precision = Math.max(precision, d);
  }
  const scale = 10 ** precision;
  const weights = entries.map(([variant, pct]) => ({ variant, weight: Math.round((pct as number) * scale) }));
  return { weights, precision: precision as RolloutPrecision };
}

/** Total weight of a rollout of the given precision: `100 × 10^precision`. */
export function rolloutTotal(precision: RolloutPrecision): number {
  return 100 * 10 ** precision;
}

/** Formats a rollout weight as a percentage string (`1` of precision 3 → `"0.001"`). */
export function rolloutPercentage(weight: number, precision: RolloutPrecision): string {
  return (weight / 10 ** precision).toFixed(precision);
}

function validateRollout(raw: unknown, key: string, variants: Record<string, JsonValue>): Rollout {
  let rollout: Rollout;
  if (isPlainObject(raw) && Array.isArray(raw['weights'])) {
    const precision = raw['precision'] ?? 0;
    if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 0 || precision > maxRolloutPrecision) {
      throw invalidInput(`flag ${key}: rollout precision must be an integer from 0 to ${maxRolloutPrecision}`);
    }
    for (const k of Object.keys(raw)) {
      if (k !== 'weights' && k !== 'precision') throw invalidInput(`flag ${key}: unknown rollout field ${k}`);
    }
    const weights = (raw['weights'] as unknown[]).map((w, i) => {
      if (!isPlainObject(w) || typeof w['variant'] !== 'string') {
        throw invalidInput(`flag ${key}: rollout weight ${i + 1} is not {"variant": NAME, "weight": N}`);
      }
      const weight = w['weight'];
      if (typeof weight !== 'number' || !Number.isFinite(weight)) {
        throw invalidInput(`flag ${key}: rollout weight for ${w['variant']} is not a finite number`);
      }
      if (!Number.isInteger(weight)) {
        throw invalidInput(
          `flag ${key}: rollout weight ${weight} for ${w['variant']} is not an integer`,
          'weights are integers in units of 10^-precision percent; raise precision for finer splits',
        );
      }
      if (weight < 0) throw invalidInput(`flag ${key}: rollout weight ${weight} for ${w['variant']} is negative`);
      return { variant: w['variant'], weight };
    });
    rollout = { weights, precision: precision as RolloutPrecision };
  } else if (isPlainObject(raw)) {
    rollout = rolloutFromPercentages(raw, key);
  } else {
    throw invalidInput(`flag ${key}: rollout must be percentages per variant, e.g. {"on": 5, "off": 95}`);
  }
  if (rollout.weights.length === 0) throw invalidInput(`flag ${key}: rollout has no variants`);
  const seen = new Set<string>();
  for (const { variant } of rollout.weights) {
    if (!Object.hasOwn(variants, variant)) {
      throw invalidInput(
        `flag ${key}: rollout names ${variant}, which is not a variant`,
        `variants are: ${Object.keys(variants).join(', ')}`,
      );
    }
    if (seen.has(variant)) throw invalidInput(`flag ${key}: rollout names ${variant} twice`);
    seen.add(variant);
  }
  const total = rollout.weights.reduce((s, w) => s + w.weight, 0);
  const expected = rolloutTotal(rollout.precision);
  if (total !== expected) {
    const pct = total / 10 ** rollout.precision;
    throw invalidInput(
      `flag ${key}: rollout percentages sum to ${pct}, not 100`,
      rollout.precision === 0
        ? 'make the percentages add up to 100, e.g. on=5,off=95'
        : `weights of precision ${rollout.precision} must sum to ${expected}`,
    );
  }
  return rollout;
}

/** Literal variant names of every `fractional` bucket in a rule. */
function fractionalVariantNames(logic: unknown, out: string[] = []): string[] {
  if (Array.isArray(logic)) {
    for (const item of logic) fractionalVariantNames(item, out);
  } else if (isPlainObject(logic)) {
    for (const [operator, args] of Object.entries(logic)) {
      if (operator === 'fractional' && Array.isArray(args)) {
        for (const bucket of args) if (Array.isArray(bucket) && typeof bucket[0] === 'string') out.push(bucket[0]);
      }
      fractionalVariantNames(args, out);
    }
  }
  return out;
}

function validateTargeting(raw: unknown, key: string, variants: Record<string, JsonValue>): unknown {
  if (raw === undefined || raw === null) return undefined;
  if (isPlainObject(raw) && Object.keys(raw).length === 0) return undefined;
  try {
    inspectJsonLogic(raw);
  } catch (e) {
    if (isFlagscopeError(e)) throw invalidInput(`flag ${key}: invalid targeting: ${e.message}`, e.hint);
    throw e;
  }
  for (const name of fractionalVariantNames(raw)) {
    if (!Object.hasOwn(variants, name)) {
      throw invalidInput(
        `flag ${key}: invalid targeting: a fractional bucket names ${name}, which is not a variant`,
        `variants are: ${Object.keys(variants).join(', ')}`,
      );
    }
  }
  return structuredClone(raw);
}

function validateMetadata(raw: unknown, key: string): FlagMetadata | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) throw invalidInput(`flag ${key}: metadata must be an object of strings, numbers and booleans`);
  const entries = Object.entries(raw);
  if (entries.length === 0) return undefined;
  if (entries.length > maxMetadataEntries) throw invalidInput(`flag ${key}: metadata has more than ${maxMetadataEntries} entries`);
  const out: FlagMetadata = {};
  for (const [name, value] of entries) {
    if (name === '' || name.length > 128) throw invalidInput(`flag ${key}: a metadata key is empty or longer than 128 characters`);
    if (reservedMetadataKeys.includes(name)) {
      throw invalidInput(
        `flag ${key}: metadata key ${name} is one of flagscope's own fields`,
        `flagscope fills ${reservedMetadataKeys.join(', ')} itself; rename the entry`,
      );
    }
    const ok =
      typeof value === 'boolean' ||
      (typeof value === 'string' && value.length <= 2000) ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) throw invalidInput(`flag ${key}: metadata ${name} is not a string (at most 2000 characters), a finite number or a boolean`);
    out[name] = value as string | number | boolean;
  }
  return out;
}

function validateIsoTime(raw: unknown, what: string): string {
  if (typeof raw !== 'string' || Number.isNaN(Date.parse(raw))) throw invalidInput(`${what} is not an ISO-8601 time`);
  return raw;
}

function validateServed(raw: unknown, key: string, variants: Record<string, JsonValue>): ServedConfig {
  if (!isPlainObject(raw)) throw invalidInput(`flag ${key}: pressed.servedBefore is missing`);
  const state = raw['state'];
  if (state !== 'enabled' && state !== 'disabled')
    throw invalidInput(`flag ${key}: pressed.servedBefore.state must be enabled or disabled`);
  const defaultVariant = raw['defaultVariant'];
  const served: ServedConfig = { state };
  if (defaultVariant !== undefined && defaultVariant !== null) {
    if (typeof defaultVariant !== 'string' || !Object.hasOwn(variants, defaultVariant))
      throw invalidInput(`flag ${key}: pressed.servedBefore.defaultVariant ${JSON.stringify(defaultVariant)} is not a variant`);
    served.defaultVariant = defaultVariant;
  }
  const targeting = validateTargeting(raw['targeting'], key, variants);
  if (targeting !== undefined) served.targeting = targeting;
  if (raw['rollout'] !== undefined && raw['rollout'] !== null) served.rollout = validateRollout(raw['rollout'], key, variants);
  return served;
}

/**
 * Validates the editable part of a flag (as sent by the CLI or the API) and
 * returns a normalised copy: `state` defaults to `enabled`, an empty targeting
 * object means no targeting, rollout percentages become integer weights.
 * Throws `FlagscopeError('invalid_input')` naming what is wrong.
 */
export function validateFlagDefinition(input: unknown): FlagDefinition {
  return withRulesHint(() => validateFields(input, false) as FlagDefinition);
}

/**
 * Validates a complete stored flag: the definition rules plus version,
 * created/updated by and at, and archived. Throws `FlagscopeError('invalid_input')`.
 */
export function validateFlag(input: unknown): Flag {
  return withRulesHint(() => validateFields(input, true) as Flag);
}

/** Gives every validation error that has no hint of its own one that says where the rules are. */
function withRulesHint<T>(validate: () => T): T {
  try {
    return validate();
  } catch (e) {
    if (isFlagscopeError(e) && e.hint === undefined) {
      throw new FlagscopeError(e.code, e.message, 'the rules are in docs/flags.md ("Validation rules"); nothing was changed', {
        cause: e,
        details: e.details,
      });
    }
    throw e;
  }
}

function validateFields(input: unknown, withRecord: boolean): FlagDefinition | Flag {
  if (!isPlainObject(input)) throw invalidInput('a flag must be a JSON object');
  const rawKey = input['key'];
  if (typeof rawKey !== 'string') throw invalidInput('flag key is missing or not a string');
  const key = checkName(rawKey, 'flag key');
  for (const field of Object.keys(input)) {
    if (!definitionFields.has(field) && !(withRecord && recordFields.has(field))) {
      throw invalidInput(`flag ${key}: unknown field ${field}`);
    }
  }
  const service = checkName(requireString(input, 'service', `flag ${key}: service`), 'service name');
  const kind = input['kind'];
  if (typeof kind !== 'string' || !(flagKinds as readonly string[]).includes(kind)) {
    throw invalidInput(`flag ${key}: kind must be one of ${flagKinds.join(', ')}`);
  }
  const variants = validateVariants(input['variants'], key);
  const defaultVariant = input['defaultVariant'];
  if (
    defaultVariant !== undefined &&
    defaultVariant !== null &&
    (typeof defaultVariant !== 'string' || !Object.hasOwn(variants, defaultVariant))
  ) {
    throw invalidInput(
      `flag ${key}: default variant ${JSON.stringify(defaultVariant)} is not a variant`,
      `variants are: ${Object.keys(variants).join(', ')}`,
    );
  }
  const state = input['state'] ?? 'enabled';
  if (state !== 'enabled' && state !== 'disabled') throw invalidInput(`flag ${key}: state must be enabled or disabled`);
  const flag: FlagDefinition = { key, service, kind: kind as FlagKind, variants, state };
  if (typeof defaultVariant === 'string') flag.defaultVariant = defaultVariant;

  const description = input['description'];
  if (description !== undefined && description !== null) {
    if (typeof description !== 'string' || description.length > 2000)
      throw invalidInput(`flag ${key}: description must be a string of at most 2000 characters`);
    if (description !== '') flag.description = description;
  }
  const runbook = input['runbookUrl'];
  if (runbook !== undefined && runbook !== null && runbook !== '') {
    let ok = false;
    if (typeof runbook === 'string') {
      try {
        const u = new URL(runbook);
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
    }
    if (!ok) throw invalidInput(`flag ${key}: runbook URL ${JSON.stringify(runbook)} is not an http(s) URL`);
    flag.runbookUrl = runbook as string;
  }
  const targeting = validateTargeting(input['targeting'], key, variants);
  if (targeting !== undefined) flag.targeting = targeting;
  if (input['rollout'] !== undefined && input['rollout'] !== null) flag.rollout = validateRollout(input['rollout'], key, variants);

  const safeVariant = input['safeVariant'];
  if (kind === 'kill-switch') {
    if (typeof safeVariant !== 'string' || safeVariant === '') {
      throw invalidInput(`flag ${key}: a kill switch needs a safe variant`, 'name the variant served when it is pressed, e.g. --safe off');
    }
    if (!Object.hasOwn(variants, safeVariant)) {
      throw invalidInput(`flag ${key}: safe variant ${safeVariant} is not a variant`, `variants are: ${Object.keys(variants).join(', ')}`);
    }
    flag.safeVariant = safeVariant;
  } else if (safeVariant !== undefined && safeVariant !== null) {
    throw invalidInput(`flag ${key}: only kill-switch flags have a safe variant`, 'use --kind kill-switch or drop the safe variant');
  }

  const pressed = input['pressed'];
  if (pressed !== undefined && pressed !== null) {
    if (kind !== 'kill-switch') throw invalidInput(`flag ${key}: only kill-switch flags can be pressed`);
    if (!isPlainObject(pressed)) throw invalidInput(`flag ${key}: pressed must be an object`);
    flag.pressed = {
      by: requireString(pressed, 'by', `flag ${key}: pressed.by`),
      at: validateIsoTime(pressed['at'], `flag ${key}: pressed.at`),
      reason: requireString(pressed, 'reason', `flag ${key}: pressed.reason`),
      servedBefore: validateServed(pressed['servedBefore'], key, variants),
    };
  }

  const metadata = validateMetadata(input['metadata'], key);
  if (metadata !== undefined) flag.metadata = metadata;

  if (!withRecord) return flag;
  const version = input['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw invalidInput(`flag ${key}: version must be a positive integer`);
  }
  const archived = input['archived'] ?? false;
  if (typeof archived !== 'boolean') throw invalidInput(`flag ${key}: archived must be true or false`);
  return {
    ...flag,
    version,
    createdBy: requireString(input, 'createdBy', `flag ${key}: createdBy`),
    createdAt: validateIsoTime(input['createdAt'], `flag ${key}: createdAt`),
    updatedBy: requireString(input, 'updatedBy', `flag ${key}: updatedBy`),
    updatedAt: validateIsoTime(input['updatedAt'], `flag ${key}: updatedAt`),
    archived,
  };
}
