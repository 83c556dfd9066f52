/**
 * The operations of flagd's JSON Logic dialect, shared by the rule compiler and the
 * validator: truthiness, `var` paths, comparisons with flagd's coercions, arithmetic checks,
 * `substr`, and flagd's custom `fractional`, `starts_with`, `ends_with` and `sem_ver`.
 * Pure: the hash used by `fractional` comes in through the environment.
 */
import { compareSemanticVersions, parseSemanticVersion, type SemanticVersion } from './semver.js';

/** Thrown while evaluating a rule whose operands make no sense (flagd reports these as GENERAL errors). */
export class LogicEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogicEvaluationError';
  }
}

/** What the custom operators need besides the data. */
export interface LogicEnvironment {
  /** Hash of the bucketing string for `fractional` (unsigned 32-bit). */
  hash: (text: string) => number;
}

/** The largest total weight flagd accepts in one `fractional` (Math.MaxInt32). */
export const maxFractionalTotalWeight = 2147483647;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON Logic truthiness as flagd applies it: empty arrays and empty objects are false. */
export function truthy(value: unknown): boolean {
  if (!value) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Splits a `var` path on dots; `\.` is a literal dot and `\\` a backslash. */
export function splitVarPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch === '\\') {
      const next = path[i + 1];
      if (next === '.' || next === '/' || next === '\\') {
        current += next;
        i++;
      } else {
        current += ch;
      }
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (parts.length !== path.length) parts.push(current);
  return parts;
}

export function child(value: unknown, key: string): unknown {
  if (Array.isArray(value)) {
    if (key === 'length') return value.length;
    return /^(0|[1-9]\d*)$/.test(key) ? value[Number(key)] : undefined;
  }
  if (typeof value === 'string') {
    if (key === 'length') return value.length;
    return /^(0|[1-9]\d*)$/.test(key) ? value[Number(key)] : undefined;
  }
  if (isPlainObject(value)) return Object.hasOwn(value, key) ? value[key] : undefined;
  return undefined;
}

const splitPathCache = new Map<string, string[]>();

export function cachedSplitVarPath(path: string): string[] {
  let parts = splitPathCache.get(path);
  if (parts === undefined) {
    if (splitPathCache.size >= 4096) splitPathCache.clear();
    parts = splitVarPath(path);
    splitPathCache.set(path, parts);
  }
  return parts;
}

/** The value at a `var` path in `data` (`undefined` when absent); an empty path is `data` itself. */
export function lookup(data: unknown, key: unknown): unknown {
  if (key === undefined || key === null || key === '') return data;
  return lookupParts(data, cachedSplitVarPath(String(key)));
}

/** {@link lookup} along a path already split. */
export function lookupParts(data: unknown, parts: readonly string[]): unknown {
  let value: unknown = data;
  for (const part of parts) {
    if (value === null || value === undefined) return undefined;
    value = child(value, part);
  }
  return value;
}

export function toNumber(value: unknown): number {
  if (value !== null && typeof value === 'object') throw new LogicEvaluationError('an arithmetic operand is an object or array');
  const n = Number(value);
  if (Number.isNaN(n)) throw new LogicEvaluationError(`${JSON.stringify(value)} is not a number`);
  return n;
}

export function checkNumber(n: number): number {
  if (Number.isNaN(n)) throw new LogicEvaluationError('arithmetic produced NaN');
  return n;
}

export type Comparison = '==' | '===' | '!=' | '!==' | '<' | '<=' | '>' | '>=';

export function jsCompare(op: Comparison, a: unknown, b: unknown): boolean {
  // JSON Logic comparisons are JavaScript's own, coercion included.
  const x = a as number;
  const y = b as number;
  switch (op) {
    case '==':
      // biome-ignore lint/suspicious/noDoubleEquals: JSON Logic's == is JavaScript's loose equality
      return x == y;
    case '===':
      return x === y;
    case '!=':
      // biome-ignore lint/suspicious/noDoubleEquals: JSON Logic's != is JavaScript's loose inequality
      return x != y;
    case '!==':
      return x !== y;
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
}

export function isNumberLike(value: unknown): boolean {
  if (value !== null && typeof value === 'object') return false;
  return !Number.isNaN(Number(value));
}

/**
 * One step of a (possibly chained) comparison. Strict comparisons and
 * comparisons of two strings (or nulls) are plain; otherwise both sides must
 * read as numbers, and `null` pairs with a falsy operand as equal.
 */
export function compareStep(op: Comparison, previous: unknown, current: unknown): boolean {
  const strict = op.length === 3;
  const stringish = (v: unknown) => typeof v === 'string' || v === null;
  if (strict || (stringish(previous) && stringish(current))) return jsCompare(op, previous, current);
  if (!isNumberLike(current) && previous !== null) throw new LogicEvaluationError(`cannot compare ${JSON.stringify(current)} with ${op}`);
  if (!isNumberLike(previous)) throw new LogicEvaluationError(`cannot compare ${JSON.stringify(previous)} with ${op}`);
  let right = current;
  if (previous === null && !current) right = null;
  else if (current === null && !previous) right = 0;
  return jsCompare(op, previous, right);
}

export function substrLikeJavaScript(text: string, startRaw: unknown, lengthRaw: unknown): string {
  const toInteger = (v: unknown) => {
    const n = Math.trunc(Number(v));
    return Number.isNaN(n) ? 0 : n;
  };
  const size = text.length;
  let start = toInteger(startRaw);
  if (start < 0) start = Math.max(size + start, 0);
  start = Math.min(start, size);
  if (lengthRaw === undefined || lengthRaw === null) {
    return lengthRaw === null ? '' : text.slice(start);
  }
  const length = toInteger(lengthRaw);
  if (length < 0) {
    const rest = text.slice(start);
    return rest.slice(0, Math.max(rest.length + length, 0));
  }
  return text.slice(start, start + length);
}

export function concatenate(values: unknown[]): string {
  let out = '';
  for (const v of values) out += String(v);
  return out;
}

export interface FractionalBucket {
  variant: string | number | boolean | null;
  weight: number;
}

export function readBuckets(entries: unknown[]): FractionalBucket[] | null {
  const buckets: FractionalBucket[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length === 0 || entry.length > 2) return null;
    const first: unknown = entry[0];
    let variant: FractionalBucket['variant'];
    if (typeof first === 'string' || typeof first === 'number' || typeof first === 'boolean') variant = first;
    else if (first === null || first === undefined) variant = null;
    else return null;
    let weight = 1;
    if (entry.length === 2) {
      const raw: unknown = entry[1];
      if (typeof raw !== 'number' || !Number.isInteger(raw)) return null;
      weight = Math.max(0, raw);
    }
    buckets.push({ variant, weight });
  }
  return buckets;
}

/**
 * flagd's bucket for a hash: `(hash * totalWeight) >> 32` on 64-bit integers,
 * i.e. `floor(hash * totalWeight / 2^32)`, with `hash` unsigned 32-bit.
 */
export function bucketOf(hash: number, totalWeight: number): number {
  // hash × total can reach 2^63, beyond exact doubles: multiply the 16-bit halves
  // of the hash separately (each product < 2^47) and carry, which is exact.
  const h = hash >>> 0;
  const high = Math.floor(h / 65536) * totalWeight;
  const low = (h & 0xffff) * totalWeight;
  return Math.floor((high + Math.floor(low / 65536)) / 65536);
}

/**
 * Picks the bucket a hash falls into: walks the cumulative weights and returns
 * the first entry whose running sum exceeds the hash's bucket; `undefined` when
 * the total weight is zero.
 */
export function pickWeighted<T extends { weight: number }>(hash: number, entries: readonly T[]): T | undefined {
  let total = 0;
  for (const e of entries) total += e.weight;
  const bucket = bucketOf(hash, total);
  let sum = 0;
  for (const e of entries) {
    sum += e.weight;
    if (sum > bucket) return e;
  }
  return undefined;
}

export function fractional(args: unknown, data: unknown, env: LogicEnvironment): unknown {
  if (!Array.isArray(args) || args.length < 1) return null;
  const flagd = child(data, '$flagd');
  if (!flagd) return null;
  let bucketBy: string;
  let entries: unknown[];
  if (typeof args[0] === 'string') {
    bucketBy = args[0];
    entries = args.slice(1);
  } else {
    const targetingKey = child(data, 'targetingKey');
    if (!targetingKey) return null;
    bucketBy = `${String(child(flagd, 'flagKey'))}${String(targetingKey)}`;
    entries = args;
  }
  const buckets = readBuckets(entries);
  if (buckets === null) return null;
  let total = 0;
  for (const b of buckets) total += b.weight;
  if (total > maxFractionalTotalWeight) return null;
  const picked = pickWeighted(env.hash(bucketBy), buckets);
  return picked === undefined ? null : picked.variant;
}

export function stringCompare(args: unknown, which: 'starts_with' | 'ends_with'): boolean | null {
  if (!Array.isArray(args) || args.length !== 2) return null;
  const [text, affix] = args as [unknown, unknown];
  if (typeof text !== 'string' || typeof affix !== 'string') return null;
  return which === 'starts_with' ? text.startsWith(affix) : text.endsWith(affix);
}

export function semVer(args: unknown): boolean | null {
  if (!Array.isArray(args) || args.length !== 3) return null;
  return semVerCompare(parseSemanticVersion(args[0]), String(args[1]), parseSemanticVersion(args[2]));
}

/** `sem_ver` on versions already parsed (`null`: not a version); `null` for an unknown comparison. */
export function semVerCompare(
  left: SemanticVersion | null | undefined,
  operator: string,
  right: SemanticVersion | null | undefined,
): boolean | null {
  if (!left || !right) return null;
  const c = compareSemanticVersions(left, right);
  switch (operator) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    case '^':
      return left.major === right.major;
    case '~':
      return left.major === right.major && left.minor === right.minor;
    default:
      return null;
  }
}

export function arrayOf(value: unknown, operator: string): unknown[] {
  const v = value || [];
  if (!Array.isArray(v)) throw new LogicEvaluationError(`"${operator}" needs an array to iterate over`);
  return v;
}
