/**
 * Flag evaluation as flagd evaluates its flag-definition JSON, with
 * OpenFeature reasons and error codes. Pure: the `$flagd.timestamp` injected
 * into targeting comes from the caller, never from a clock.
 */
import { isFlagscopeError } from '../errors.js';
import { compileJsonLogic, inspectJsonLogic, pickWeighted, type CompiledLogic, type LogicEnvironment } from './json-logic.js';
import type { FlagDefinition, FlagMetadata, JsonValue, Rollout } from './model.js';
import { murmur3Utf16CodeUnits, murmur3Utf8 } from './murmur3.js';

export type EvaluationReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'DISABLED' | 'ERROR';
export type EvaluationErrorCode =
  | 'FLAG_NOT_FOUND'
  | 'TARGETING_KEY_MISSING'
  | 'PARSE_ERROR'
  | 'TYPE_MISMATCH'
  | 'INVALID_CONTEXT'
  | 'GENERAL';
/** The OpenFeature value types a caller may ask for. */
export type ExpectedType = 'boolean' | 'string' | 'number' | 'object';

/** An OpenFeature evaluation context: `targetingKey` plus any attributes. */
export type EvaluationContext = Record<string, unknown>;

export interface EvaluationResult {
  /**
   * Absent when the caller's own default applies: on `ERROR`, for a disabled flag
   * (`DISABLED`), and where no rule decides on a flag without a default variant (`DEFAULT`).
   */
  value?: JsonValue;
  variant?: string;
  reason: EvaluationReason;
  errorCode?: EvaluationErrorCode;
  errorMessage?: string;
  flagMetadata?: FlagMetadata;
}

/**
 * How the bucketing string is hashed. `utf8` (default): MurmurHash3 of the
 * UTF-8 bytes, as the flagd daemon and its Go, Java, Python and .NET
 * evaluators do. `utf16-code-units`: what the JavaScript `@openfeature/flagd-core`
 * computes, which differs from `utf8` for non-ASCII keys only.
 */
export type BucketHashing = 'utf8' | 'utf16-code-units';

export interface EvaluateOptions {
  /** Unix time in seconds, exposed to targeting as `$flagd.timestamp`. Absent → `$flagd.timestamp` is absent. */
  timestamp?: number;
  hashing?: BucketHashing;
}

const utf8Environment: LogicEnvironment = { hash: murmur3Utf8 };
const utf16Environment: LogicEnvironment = { hash: murmur3Utf16CodeUnits };

/**
 * What evaluation needs of a flag, prepared once per flag object (a stored flag version):
 * the metadata it reports, and its targeting compiled into a closure, or why it cannot be
 * evaluated (`PARSE_ERROR`). The fields it was prepared from are kept, so a flag object
 * changed in place is prepared again.
 */
interface PreparedFlag {
  /** What it was prepared from. */
  from: Pick<FlagDefinition, 'targeting' | 'metadata' | 'service' | 'kind' | 'safeVariant' | 'pressed'>;
  metadata: FlagMetadata;
  targeting: CompiledLogic | undefined;
  problem: string | null;
}

const preparedFlags = new WeakMap<object, PreparedFlag>();

function preparedFrom(flag: FlagDefinition, from: PreparedFlag['from']): boolean {
  return (
    from.targeting === flag.targeting &&
    from.metadata === flag.metadata &&
    from.service === flag.service &&
    from.kind === flag.kind &&
    from.safeVariant === flag.safeVariant &&
    from.pressed === flag.pressed
  );
}

function prepareFlag(flag: FlagDefinition): PreparedFlag {
  const known = preparedFlags.get(flag);
  if (known !== undefined && preparedFrom(flag, known.from)) return known;
  let problem: string | null = null;
  let targeting: CompiledLogic | undefined;
  if (flag.targeting !== undefined) {
    try {
      const unparsable = inspectJsonLogic(flag.targeting).find((f) => f.outcome === 'parse-error');
      if (unparsable !== undefined) problem = unparsable.message;
    } catch (e) {
      problem = isFlagscopeError(e) || e instanceof Error ? e.message : String(e);
    }
    if (problem === null) targeting = compileJsonLogic(flag.targeting);
  }
  const { metadata, service, kind, safeVariant, pressed } = flag;
  const prepared: PreparedFlag = {
    from: { targeting: flag.targeting, metadata, service, kind, safeVariant, pressed },
    metadata: Object.freeze(evaluationMetadata(flag)),
    targeting,
    problem,
  };
  preparedFlags.set(flag, prepared);
  return prepared;
}

/** The metadata a flag reports with every evaluation. */
function evaluationMetadata(flag: FlagDefinition): FlagMetadata {
  const metadata: FlagMetadata = { ...flag.metadata, service: flag.service, kind: flag.kind };
  if (flag.safeVariant !== undefined) metadata['safeVariant'] = flag.safeVariant;
  if (flag.kind === 'kill-switch') metadata['pressed'] = flag.pressed !== undefined;
  return metadata;
}

function error(code: EvaluationErrorCode, message: string, flagMetadata?: FlagMetadata): EvaluationResult {
  const result: EvaluationResult = { reason: 'ERROR', errorCode: code, errorMessage: message };
  if (flagMetadata) result.flagMetadata = flagMetadata;
  return result;
}

function typeOfValue(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * The bucket string flagd hashes for a plain `fractional` (no custom
 * bucketing expression): flag key followed by targeting key.
 */
function bucketingString(flagKey: string, targetingKey: string): string {
  return `${flagKey}${targetingKey}`;
}

/**
 * The variant a rollout assigns to a targeting key: MurmurHash3 x86 32-bit
 * (seed 0) of flag key + targeting key, bucket `(hash × total) >> 32`, then the
 * cumulative weights in order. Identical to flagd's `fractional` over the same
 * weights.
 */
export function rolloutVariant(flagKey: string, targetingKey: string, rollout: Rollout, hashing: BucketHashing = 'utf8'): string {
  const hash = (hashing === 'utf8' ? murmur3Utf8 : murmur3Utf16CodeUnits)(bucketingString(flagKey, targetingKey));
  const picked = pickWeighted(hash, rollout.weights);
  // Rollout weights always sum to 100 × 10^precision > 0, so a bucket is always found.
  return picked!.variant;
}

/**
 * Evaluates a flag for a context as flagd would evaluate its flagd export,
 * plus flagscope's own rollout and kill-switch semantics:
 *
 * - unknown or archived flag → `ERROR` / `FLAG_NOT_FOUND`;
 * - pressed kill switch → the safe variant, `STATIC` (overrides state, targeting and rollout);
 * - disabled → `DISABLED`, no value: the caller's default (flagd's behaviour since flagd issue 1965);
 * - targeting → its result names the variant (`TARGETING_MATCH`); `null` falls through;
 *   a name that is not a variant → `ERROR` / `GENERAL`; a rule that throws → `ERROR` / `GENERAL`;
 *   an invalid rule → `ERROR` / `PARSE_ERROR`;
 * - rollout → the bucketed variant (`SPLIT`); no targeting key → `ERROR` / `TARGETING_KEY_MISSING`;
 * - otherwise the default variant: `STATIC` without targeting, `DEFAULT` when targeting returned null;
 *   a flag without a default variant gives no value there (the caller's default) and `DEFAULT`;
 * - `expectedType` not matching the value → `ERROR` / `TYPE_MISMATCH`.
 */
export function evaluateFlag(
  flag: FlagDefinition | (FlagDefinition & { archived?: boolean }) | undefined,
  context: EvaluationContext,
  expectedType?: ExpectedType,
  options: EvaluateOptions = {},
): EvaluationResult {
  if (flag === undefined || ('archived' in flag && flag.archived === true)) {
    return error('FLAG_NOT_FOUND', 'flag not found');
  }
  const prepared = prepareFlag(flag);
  const flagMetadata = prepared.metadata;
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    return error('INVALID_CONTEXT', 'the evaluation context is not an object', flagMetadata);
  }
  const targetingKey = context['targetingKey'];
  if (targetingKey !== undefined && targetingKey !== null && typeof targetingKey !== 'string') {
    return error('INVALID_CONTEXT', 'targetingKey is not a string', flagMetadata);
  }

  let variant: string | undefined;
  let reason: EvaluationReason;
  if (flag.pressed !== undefined && flag.safeVariant !== undefined) {
    variant = flag.safeVariant;
    reason = 'STATIC';
  } else if (flag.state === 'disabled') {
    return { reason: 'DISABLED', flagMetadata };
  } else {
    let targetingResult: unknown = null;
    if (flag.targeting !== undefined) {
      if (prepared.problem !== null) {
        return error('PARSE_ERROR', `invalid targeting for flag ${flag.key}: ${prepared.problem}`, flagMetadata);
      }
      const flagd: Record<string, unknown> =
        options.timestamp === undefined ? { flagKey: flag.key } : { flagKey: flag.key, timestamp: options.timestamp };
      // Object.assign, not a spread: the same own properties, several times faster on Node 20.
      const data: Record<string, unknown> = Object.assign({}, context);
      data['$flagd'] = flagd;
      try {
        targetingResult = (prepared.targeting as CompiledLogic)(
          data,
          options.hashing === 'utf16-code-units' ? utf16Environment : utf8Environment,
        );
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        return error('GENERAL', `error evaluating targeting rule for flag ${flag.key}: ${why}`, flagMetadata);
      }
    }
    if (targetingResult !== null && targetingResult !== undefined) {
      variant = String(targetingResult);
      reason = 'TARGETING_MATCH';
    } else if (flag.rollout !== undefined) {
      if (typeof targetingKey !== 'string' || targetingKey === '') {
        return error(
          'TARGETING_KEY_MISSING',
          `flag ${flag.key} has a percentage rollout and the context has no targetingKey`,
          flagMetadata,
        );
      }
      variant = rolloutVariant(flag.key, targetingKey, flag.rollout, options.hashing);
      reason = 'SPLIT';
    } else {
      variant = flag.defaultVariant;
      reason = flag.targeting === undefined && variant !== undefined ? 'STATIC' : 'DEFAULT';
    }
  }
  if (variant === undefined) return { reason, flagMetadata };

  if (!Object.hasOwn(flag.variants, variant)) {
    return error('GENERAL', `variant '${variant}' not found in flag with key '${flag.key}'`, flagMetadata);
  }
  const value = flag.variants[variant]!;
  if (expectedType !== undefined && typeOfValue(value) !== expectedType) {
    return error('TYPE_MISMATCH', `flag ${flag.key} is of type ${typeOfValue(value)}, not ${expectedType}`, flagMetadata);
  }
  return { value, variant, reason, flagMetadata };
}
