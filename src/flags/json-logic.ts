/**
 * A JSON Logic interpreter for flagd's targeting dialect: the standard
 * operators flagd accepts plus flagd's `fractional`, `starts_with`,
 * `ends_with` and `sem_ver`. Semantics follow what flagd's evaluators do
 * (type coercion in comparisons, truthiness of empty arrays and objects,
 * `null` results from custom operators given bad arguments). Pure: the hash
 * used by `fractional` and everything else comes in through the arguments.
 */
import { invalidInput } from '../errors.js';
import { compareSemanticVersions, parseSemanticVersion } from './semver.js';

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

type Evaluate = (logic: unknown, data: unknown) => unknown;

interface OperatorSpec {
  /** Fewest arguments accepted by validation. */
  min: number;
  /** Most arguments accepted by validation. */
  max: number;
  /** Whether a single non-array argument is accepted (`{"var": "x"}`). */
  unary?: boolean;
}

const many = Number.POSITIVE_INFINITY;

/** Every operator flagscope accepts in targeting, with the argument counts validation enforces. */
export const operatorArity: Readonly<Record<string, OperatorSpec>> = {
  var: { min: 0, max: 2, unary: true },
  missing: { min: 0, max: many, unary: true },
  missing_some: { min: 2, max: 2 },
  if: { min: 1, max: many },
  '==': { min: 2, max: 2 },
  '===': { min: 2, max: 2 },
  '!=': { min: 2, max: 2 },
  '!==': { min: 2, max: 2 },
  '!': { min: 1, max: 1, unary: true },
  '!!': { min: 1, max: 1, unary: true },
  or: { min: 1, max: many },
  and: { min: 1, max: many },
  '<': { min: 2, max: 3 },
  '<=': { min: 2, max: 3 },
  '>': { min: 2, max: 2 },
  '>=': { min: 2, max: 2 },
  in: { min: 2, max: 2 },
  cat: { min: 0, max: many, unary: true },
  substr: { min: 2, max: 3 },
  '+': { min: 0, max: many, unary: true },
  '-': { min: 1, max: 2, unary: true },
  '*': { min: 1, max: many },
  '/': { min: 2, max: 2 },
  '%': { min: 2, max: 2 },
  min: { min: 1, max: many },
  max: { min: 1, max: many },
  merge: { min: 0, max: many, unary: true },
  map: { min: 2, max: 2 },
  filter: { min: 2, max: 2 },
  reduce: { min: 2, max: 3 },
  all: { min: 2, max: 2 },
  none: { min: 2, max: 2 },
  some: { min: 2, max: 2 },
  fractional: { min: 1, max: many },
  starts_with: { min: 2, max: 2 },
  ends_with: { min: 2, max: 2 },
  sem_ver: { min: 3, max: 3 },
};

const semVerOperators = new Set(['=', '!=', '<', '<=', '>', '>=', '^', '~']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(path: string): string {
  return path === '' ? 'targeting' : `targeting at ${path}`;
}

/**
 * A part of a rule that flagd loads but that can never give an answer: `null` (an unknown
 * `sem_ver` comparison, a wrong argument count for `sem_ver`, `starts_with` or `ends_with`:
 * the caller's default or the default variant is served) or a parse error (a `$ref` to an
 * evaluator the document does not define: every evaluation answers `PARSE_ERROR`).
 */
export interface LogicFinding {
  outcome: 'null' | 'parse-error';
  /** Where and what, e.g. `"sem_ver" in targeting takes 3 arguments, got 2`. */
  message: string;
}

/** Operators flagd evaluates to `null` when given the wrong number of arguments. */
const nullOnBadArity = new Set(['sem_ver', 'starts_with', 'ends_with']);

/**
 * Checks a targeting rule strictly: every object is one operation with a known operator and
 * an accepted number of arguments; `fractional` buckets are well formed and their literal
 * weights fit flagd's limit; `sem_ver` names a known comparison. Throws
 * `FlagscopeError('invalid_input')`, also for the parts {@link inspectJsonLogic} only reports.
 */
export function validateJsonLogic(logic: unknown, path = ''): void {
  const findings = inspectJsonLogic(logic, path);
  if (findings.length > 0) {
    const first = findings[0]!;
    throw invalidInput(
      first.message,
      first.outcome === 'null' ? 'this part can only evaluate to null' : 'define the evaluator in $evaluators',
    );
  }
}

/**
 * Checks a targeting rule as flagd loads it: what flagd refuses throws
 * `FlagscopeError('invalid_input')`; what flagd loads but can only evaluate to `null` (or to a
 * parse error) is returned, one finding each, so an import can warn or refuse.
 */
export function inspectJsonLogic(logic: unknown, path = ''): LogicFinding[] {
  const findings: LogicFinding[] = [];
  validateNode(logic, path, 0, findings);
  return findings;
}

/** Deeper rules are refused: no real targeting needs them, and evaluation recurses. */
const maxLogicDepth = 64;

function validateNode(logic: unknown, path: string, depth: number, findings: LogicFinding[]): void {
  if (depth > maxLogicDepth) {
    throw invalidInput(
      `${describe(path)} is nested more than ${maxLogicDepth} levels deep`,
      'flatten the rule, e.g. with "and"/"or" lists or if chains',
    );
  }
  if (Array.isArray(logic)) {
    logic.forEach((item, i) => validateNode(item, `${path}[${i}]`, depth + 1, findings));
    return;
  }
  if (!isPlainObject(logic)) {
    if (typeof logic === 'number' && !Number.isFinite(logic)) {
      throw invalidInput(`${describe(path)} is not a finite number`);
    }
    return;
  }
  const keys = Object.keys(logic);
  if (keys.length === 0) {
    throw invalidInput(`${describe(path)} is an empty object, not a JSON Logic operation`, 'write an operation such as {"var": "email"}');
  }
  if (keys.length > 1) {
    throw invalidInput(
      `${describe(path)} has ${keys.length} keys (${keys.join(', ')}): a JSON Logic operation has exactly one operator`,
      'split it into separate operations combined with "and", "or" or "if"',
    );
  }
  const operator = keys[0]!;
  if (operator === '$ref' && typeof logic[operator] === 'string') {
    findings.push({ outcome: 'parse-error', message: `${describe(path)} is a $ref to unknown evaluator ${logic[operator] as string}` });
    return;
  }
  const spec = Object.hasOwn(operatorArity, operator) ? operatorArity[operator] : undefined;
  if (spec === undefined) {
    throw invalidInput(
      `unknown JSON Logic operator "${operator}" in ${describe(path)}`,
      `use one of: ${Object.keys(operatorArity).join(', ')}`,
    );
  }
  const raw = logic[operator];
  const here = `${path}.${operator}`;
  if (!Array.isArray(raw)) {
    if (!spec.unary) {
      if (nullOnBadArity.has(operator)) {
        findings.push({ outcome: 'null', message: `"${operator}" in ${describe(path)} takes an array of arguments` });
      } else {
        throw invalidInput(`"${operator}" in ${describe(path)} takes an array of arguments`, `write {"${operator}": [ ... ]}`);
      }
    }
    validateNode(raw, here, depth + 1, findings);
    return;
  }
  if (raw.length < spec.min || raw.length > spec.max) {
    const expected = spec.min === spec.max ? `${spec.min}` : spec.max === many ? `at least ${spec.min}` : `${spec.min} to ${spec.max}`;
    const message = `"${operator}" in ${describe(path)} takes ${expected} arguments, got ${raw.length}`;
    if (!nullOnBadArity.has(operator)) throw invalidInput(message);
    findings.push({ outcome: 'null', message });
  } else if (operator === 'sem_ver' && typeof raw[1] === 'string' && !semVerOperators.has(raw[1])) {
    findings.push({ outcome: 'null', message: `unknown sem_ver comparison "${raw[1]}" in ${describe(path)}` });
  }
  if (operator === 'fractional') validateFractional(raw, here);
  raw.forEach((item, i) => validateNode(item, `${here}[${i}]`, depth + 1, findings));
  rejectFailingConstant(logic, path);
}

const dataReaders = new Set(['var', 'missing', 'missing_some', 'fractional']);

function isConstant(logic: unknown): boolean {
  if (Array.isArray(logic)) return logic.every(isConstant);
  if (!isPlainObject(logic)) return true;
  const [operator] = Object.keys(logic);
  if (operator === undefined || operator === '$ref' || dataReaders.has(operator)) return false;
  return isConstant(logic[operator]);
}

/**
 * flagd compiles rules and evaluates the parts that read no data while doing
 * so; a part that cannot be evaluated (`{"/": [1, 0]}`) makes the whole rule
 * invalid. The same check here.
 */
function rejectFailingConstant(logic: Record<string, unknown>, path: string): void {
  if (!isConstant(logic)) return;
  try {
    evaluateJsonLogic(logic, null, { hash: () => 0 });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw invalidInput(`${describe(path)} always fails: ${why}`, 'fix the operands of this operation');
  }
}

/**
 * A `fractional`'s buckets: `[variant]` or `[variant, weight]`, where the variant and the
 * weight may be expressions (evaluated per call). A literal weight is an integer; a negative
 * one counts as 0, as flagd clamps it. The literal weights must fit flagd's total.
 */
function validateFractional(args: unknown[], path: string): void {
  const buckets = Array.isArray(args[0]) ? args : args.slice(1);
  if (buckets.length === 0) {
    throw invalidInput(`"fractional" in ${describe(path)} has no buckets`, 'add buckets such as ["on", 50], ["off", 50]');
  }
  let total = 0;
  buckets.forEach((bucket, i) => {
    const where = `${describe(path)} bucket ${i + 1}`;
    if (!Array.isArray(bucket) || bucket.length < 1 || bucket.length > 2) {
      throw invalidInput(`${where} is not [variant] or [variant, weight]`, 'write buckets as ["variant", weight]');
    }
    if (bucket.length === 2) {
      const weight = bucket[1];
      if (isPlainObject(weight)) return;
      if (typeof weight !== 'number' || !Number.isFinite(weight)) {
        throw invalidInput(`${where} has a weight that is not a finite number`, 'weights are integers (or an expression giving one)');
      }
      if (!Number.isInteger(weight)) {
        throw invalidInput(
          `${where} has a non-integer weight ${weight}`,
          'weights are integers; scale them all (e.g. by 1000) for finer splits',
        );
      }
      total += Math.max(0, weight);
    } else {
      total += 1;
    }
  });
  if (total > maxFractionalTotalWeight) {
    throw invalidInput(`"fractional" in ${describe(path)} has total weight ${total}, more than ${maxFractionalTotalWeight}`);
  }
}

/** JSON Logic truthiness as flagd applies it: empty arrays and empty objects are false. */
export function truthy(value: unknown): boolean {
  if (!value) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Splits a `var` path on dots; `\.` is a literal dot and `\\` a backslash. */
function splitVarPath(path: string): string[] {
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

function child(value: unknown, key: string): unknown {
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

function cachedSplitVarPath(path: string): string[] {
  let parts = splitPathCache.get(path);
  if (parts === undefined) {
    if (splitPathCache.size >= 4096) splitPathCache.clear();
    parts = splitVarPath(path);
    splitPathCache.set(path, parts);
  }
  return parts;
}

function lookup(data: unknown, key: unknown): unknown {
  if (key === undefined || key === null || key === '') return data;
  let value: unknown = data;
  for (const part of cachedSplitVarPath(String(key))) {
    if (value === null || value === undefined) return undefined;
    value = child(value, part);
  }
  return value;
}

function toNumber(value: unknown): number {
  if (value !== null && typeof value === 'object') throw new LogicEvaluationError('an arithmetic operand is an object or array');
  const n = Number(value);
  if (Number.isNaN(n)) throw new LogicEvaluationError(`${JSON.stringify(value)} is not a number`);
  return n;
}

function checkNumber(n: number): number {
  if (Number.isNaN(n)) throw new LogicEvaluationError('arithmetic produced NaN');
  return n;
}

type Comparison = '==' | '===' | '!=' | '!==' | '<' | '<=' | '>' | '>=';

function jsCompare(op: Comparison, a: unknown, b: unknown): boolean {
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

function isNumberLike(value: unknown): boolean {
  if (value !== null && typeof value === 'object') return false;
  return !Number.isNaN(Number(value));
}

/**
 * One step of a (possibly chained) comparison. Strict comparisons and
 * comparisons of two strings (or nulls) are plain; otherwise both sides must
 * read as numbers, and `null` pairs with a falsy operand as equal.
 */
function compareStep(op: Comparison, previous: unknown, current: unknown): boolean {
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

function substrLikeJavaScript(text: string, startRaw: unknown, lengthRaw: unknown): string {
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

function concatenate(values: unknown[]): string {
  let out = '';
  for (const v of values) out += String(v);
  return out;
}

interface FractionalBucket {
  variant: string | number | boolean | null;
  weight: number;
}

function readBuckets(entries: unknown[]): FractionalBucket[] | null {
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

function fractional(args: unknown, data: unknown, env: LogicEnvironment): unknown {
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

function stringCompare(args: unknown, which: 'starts_with' | 'ends_with'): boolean | null {
  if (!Array.isArray(args) || args.length !== 2) return null;
  const [text, affix] = args as [unknown, unknown];
  if (typeof text !== 'string' || typeof affix !== 'string') return null;
  return which === 'starts_with' ? text.startsWith(affix) : text.endsWith(affix);
}

function semVer(args: unknown): boolean | null {
  if (!Array.isArray(args) || args.length !== 3) return null;
  const left = parseSemanticVersion(args[0]);
  const right = parseSemanticVersion(args[2]);
  if (!left || !right) return null;
  const c = compareSemanticVersions(left, right);
  switch (String(args[1])) {
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

function argumentList(raw: unknown, data: unknown, evaluate: Evaluate): unknown[] {
  return Array.isArray(raw) ? raw.map((r) => evaluate(r, data)) : [evaluate(raw, data)];
}

function arrayOf(value: unknown, operator: string): unknown[] {
  const v = value || [];
  if (!Array.isArray(v)) throw new LogicEvaluationError(`"${operator}" needs an array to iterate over`);
  return v;
}

function needArray(raw: unknown, operator: string): unknown[] {
  if (!Array.isArray(raw)) throw new LogicEvaluationError(`"${operator}" takes an array of arguments`);
  return raw;
}

/**
 * Evaluates a JSON Logic rule against `data`. Custom operators return `null`
 * on bad arguments (as flagd's do); standard operators given operands they
 * cannot use throw {@link LogicEvaluationError}.
 */
export function evaluateJsonLogic(logic: unknown, data: unknown, env: LogicEnvironment): unknown {
  const evaluate: Evaluate = (node, scope) => {
    if (Array.isArray(node)) return node.map((n) => evaluate(n, scope));
    if (!isPlainObject(node)) return node;
    const keys = Object.keys(node);
    if (keys.length === 0) return node;
    if (keys.length > 1) throw new LogicEvaluationError(`an operation has ${keys.length} operator keys`);
    const op = keys[0]!;
    const raw = node[op];
    switch (op) {
      case 'var': {
        const [keyRaw, defaultRaw] = Array.isArray(raw) ? raw : [raw];
        const key = evaluate(keyRaw, scope);
        const found = lookup(scope, key);
        if (found === undefined || found === null) return defaultRaw === undefined ? null : evaluate(defaultRaw, scope);
        return found;
      }
      case 'missing': {
        let keys2 = argumentList(raw, scope, evaluate);
        if (Array.isArray(keys2[0])) keys2 = keys2[0] as unknown[];
        return keys2.filter((k) => lookup(scope, k) === undefined);
      }
      case 'missing_some': {
        const [needRaw, optionsRaw] = needArray(raw, op);
        const need = Number(evaluate(needRaw, scope));
        const options = arrayOf(evaluate(optionsRaw, scope), op);
        const missing = options.filter((k) => lookup(scope, k) === undefined);
        return options.length - missing.length >= need ? [] : missing;
      }
      case 'if': {
        const args = needArray(raw, op);
        if (args.length === 0) return null;
        if (args.length === 1) return evaluate(args[0], scope);
        let i = 0;
        for (; i + 1 < args.length; i += 2) {
          if (truthy(evaluate(args[i], scope))) return evaluate(args[i + 1], scope);
        }
        return i < args.length ? evaluate(args[i], scope) : null;
      }
      case '==':
      case '===':
      case '!=':
      case '!==':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const args = needArray(raw, op);
        if (args.length < 2) throw new LogicEvaluationError(`"${op}" needs at least two arguments`);
        let previous = evaluate(args[0], scope);
        for (let i = 1; i < args.length; i++) {
          const current = evaluate(args[i], scope);
          if (!compareStep(op, previous, current)) return false;
          previous = current;
        }
        return true;
      }
      case '!':
        return !truthy(evaluate(Array.isArray(raw) ? raw[0] : raw, scope));
      case '!!':
        return truthy(evaluate(Array.isArray(raw) ? raw[0] : raw, scope));
      case 'or':
      case 'and': {
        const args = needArray(raw, op);
        if (args.length === 0) return null;
        let item: unknown;
        for (const a of args) {
          item = evaluate(a, scope);
          if (truthy(item) === (op === 'or')) return item;
        }
        return item;
      }
      case 'in': {
        const [item, container] = argumentList(raw, scope, evaluate);
        if (!container) return false;
        if (typeof container === 'string') return container.includes(String(item));
        if (Array.isArray(container)) return container.includes(item);
        throw new LogicEvaluationError('"in" needs an array or a string to search');
      }
      case 'cat': {
        if (typeof raw === 'string') return raw;
        if (!Array.isArray(raw)) {
          const v = evaluate(raw, scope);
          if (typeof v === 'string') return v;
          if (Array.isArray(v)) return concatenate(v.filter((x) => x !== null && x !== undefined));
          if (v === null || v === undefined) throw new LogicEvaluationError('"cat" of null');
          return String(v);
        }
        return concatenate(raw.map((r) => evaluate(r, scope)));
      }
      case 'substr': {
        const [text, start, length] = argumentList(raw, scope, evaluate);
        if (typeof text !== 'string') throw new LogicEvaluationError('"substr" needs a string');
        return substrLikeJavaScript(text, start, length);
      }
      case '+': {
        const args = argumentList(raw, scope, evaluate);
        let sum = 0;
        for (const a of args) sum += toNumber(a);
        return checkNumber(sum);
      }
      case '*': {
        const args = argumentList(raw, scope, evaluate);
        let product = 1;
        for (const a of args) product *= toNumber(a);
        return checkNumber(product);
      }
      case '-': {
        const args = argumentList(raw, scope, evaluate);
        if (args.length === 0) throw new LogicEvaluationError('"-" needs an argument');
        if (args.length === 1) return checkNumber(-toNumber(args[0]));
        let result = toNumber(args[0]);
        for (const a of args.slice(1)) result -= toNumber(a);
        return checkNumber(result);
      }
      case '/': {
        const args = argumentList(raw, scope, evaluate);
        if (args.length === 0) throw new LogicEvaluationError('"/" needs arguments');
        const operands = args.length === 1 ? [1, args[0]] : args;
        let result = toNumber(operands[0]);
        for (const a of operands.slice(1)) {
          const divisor = toNumber(a);
          if (divisor === 0) throw new LogicEvaluationError('division by zero');
          result /= divisor;
        }
        if (!Number.isFinite(result)) throw new LogicEvaluationError('division produced no finite number');
        return result;
      }
      case '%': {
        const args = argumentList(raw, scope, evaluate);
        if (args.length < 2) throw new LogicEvaluationError('"%" needs two arguments');
        let result = toNumber(args[0]);
        for (const a of args.slice(1)) result %= toNumber(a);
        return checkNumber(result);
      }
      case 'min':
      case 'max': {
        const args = argumentList(raw, scope, evaluate);
        if (args.length === 0 || args.some((a) => typeof a !== 'number')) {
          throw new LogicEvaluationError(`"${op}" needs numbers`);
        }
        const numbers = args as number[];
        return op === 'min' ? Math.min(...numbers) : Math.max(...numbers);
      }
      case 'merge': {
        const out: unknown[] = [];
        for (const a of argumentList(raw, scope, evaluate)) {
          if (Array.isArray(a)) out.push(...(a as unknown[]));
          else out.push(a);
        }
        return out;
      }
      case 'map':
      case 'filter':
      case 'all':
      case 'some':
      case 'none': {
        const [selectorRaw, mapper] = needArray(raw, op);
        const selected = evaluate(selectorRaw, scope);
        // flagd: "all" of an empty array is false, but of a missing one (null) it is true.
        if (op === 'all' && Array.isArray(selected) && selected.length === 0) return false;
        const items = arrayOf(selected, op);
        const apply = (item: unknown) => (isPlainObject(mapper) || Array.isArray(mapper) ? evaluate(mapper, item) : mapper);
        if (op === 'map') return items.map(apply);
        if (op === 'filter') return items.filter((item) => truthy(apply(item)));
        if (op === 'all') return items.every((item) => truthy(apply(item)));
        const some = items.some((item) => truthy(apply(item)));
        return op === 'some' ? some : !some;
      }
      case 'reduce': {
        const args = needArray(raw, op);
        const items = arrayOf(evaluate(args[0], scope), op);
        const mapper = args[1];
        const step = (accumulator: unknown, current: unknown) => evaluate(mapper, { accumulator, current });
        if (args[2] === undefined) {
          if (items.length === 0) throw new LogicEvaluationError('"reduce" of an empty array with no initial value');
          return items.reduce(step);
        }
        return items.reduce(step, evaluate(args[2], scope));
      }
      case 'fractional':
        return fractional(evaluate(raw, scope), scope, env);
      case 'starts_with':
      case 'ends_with':
        return stringCompare(evaluate(raw, scope), op);
      case 'sem_ver':
        return semVer(evaluate(raw, scope));
      default:
        throw new LogicEvaluationError(`unknown operator "${op}"`);
    }
  };
  return evaluate(logic, data);
}
