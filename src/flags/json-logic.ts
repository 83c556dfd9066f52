/**
 * flagd's targeting dialect of JSON Logic: the standard operators flagd accepts plus flagd's
 * `fractional`, `starts_with`, `ends_with` and `sem_ver`. Validation here (what flagd refuses,
 * and what it loads but can only evaluate to null); evaluation by the rule compiler
 * (`compile-logic.ts`), whose semantics follow flagd's evaluators. Pure.
 */
import { invalidInput } from '../errors.js';
import { compileJsonLogic } from './compile-logic.js';
import { isPlainObject, type LogicEnvironment } from './logic-operators.js';

export {
  bucketOf,
  LogicEvaluationError,
  maxFractionalTotalWeight,
  pickWeighted,
  truthy,
  type LogicEnvironment,
} from './logic-operators.js';
export { compileJsonLogic, type CompiledLogic } from './compile-logic.js';
import { maxFractionalTotalWeight } from './logic-operators.js';

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

/**
 * Evaluates a JSON Logic rule against `data` (compiling it first; to evaluate a rule many
 * times, compile it once with {@link compileJsonLogic}). Custom operators return `null` on bad
 * arguments (as flagd's do); standard operators given operands they cannot use throw
 * `LogicEvaluationError`.
 */
export function evaluateJsonLogic(logic: unknown, data: unknown, env: LogicEnvironment): unknown {
  return compileJsonLogic(logic)(data, env);
}
