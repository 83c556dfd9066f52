/**
 * Compiles a JSON Logic rule in flagd's dialect into a closure, once per rule, so an
 * evaluation walks no JSON: every operator's arguments are read, constants folded and `var`
 * paths split ahead of time. Semantics are those flagd's evaluators have (coercion in
 * comparisons, truthiness of empty arrays and objects, `null` from custom operators given bad
 * arguments). A rule that is malformed compiles all the same: the part that is wrong throws
 * {@link LogicEvaluationError} when, and only when, it is evaluated. Pure.
 */
import {
  arrayOf,
  checkNumber,
  compareStep,
  concatenate,
  fractional,
  isPlainObject,
  LogicEvaluationError,
  lookup,
  lookupParts,
  maxFractionalTotalWeight,
  pickWeighted,
  readBuckets,
  semVer,
  semVerCompare,
  splitVarPath,
  stringCompare,
  substrLikeJavaScript,
  toNumber,
  truthy,
  type Comparison,
  type FractionalBucket,
  type LogicEnvironment,
} from './logic-operators.js';
import { parseSemanticVersion } from './semver.js';

/** A compiled rule: its value for `data`. */
export type CompiledLogic = (data: unknown, env: LogicEnvironment) => unknown;

interface Node {
  run: CompiledLogic;
  /** Set when the node is a constant (no operation anywhere inside): its value. */
  constant?: { value: unknown };
}

const constantNode = (value: unknown): Node => ({ run: () => value, constant: { value } });
const failing = (message: string): Node => ({
  run: () => {
    throw new LogicEvaluationError(message);
  },
});

/** Compiles a rule into a closure; see the module comment. */
export function compileJsonLogic(logic: unknown): CompiledLogic {
  return compileNode(logic).run;
}

function compileNode(node: unknown): Node {
  if (Array.isArray(node)) return compileArray(node);
  if (!isPlainObject(node)) return constantNode(node);
  const keys = Object.keys(node);
  if (keys.length === 0) return constantNode(node);
  if (keys.length > 1) return failing(`an operation has ${keys.length} operator keys`);
  const op = keys[0]!;
  return compileOperation(op, node[op]);
}

/** An array literal: a new array of its evaluated items each time (one shared array when all are constants). */
function compileArray(items: unknown[]): Node {
  const nodes = items.map(compileNode);
  if (nodes.every((n) => n.constant !== undefined)) {
    const values = nodes.map((n) => n.constant!.value);
    return { run: () => values, constant: { value: values } };
  }
  const runs = nodes.map((n) => n.run);
  return {
    run: (data, env) => {
      const out = new Array<unknown>(runs.length);
      for (let i = 0; i < runs.length; i++) out[i] = runs[i]!(data, env);
      return out;
    },
  };
}

/** The compiled arguments of an operation given as an array, or its single argument otherwise. */
function argumentNodes(raw: unknown): Node[] {
  return Array.isArray(raw) ? raw.map(compileNode) : [compileNode(raw)];
}

function runAll(nodes: readonly Node[]): (data: unknown, env: LogicEnvironment) => unknown[] {
  const runs = nodes.map((n) => n.run);
  return (data, env) => {
    const out = new Array<unknown>(runs.length);
    for (let i = 0; i < runs.length; i++) out[i] = runs[i]!(data, env);
    return out;
  };
}

function compileOperation(op: string, raw: unknown): Node {
  switch (op) {
    case 'var':
      return compileVar(raw);
    case 'missing': {
      const args = runAll(argumentNodes(raw));
      return {
        run: (data, env) => {
          let keys = args(data, env);
          if (Array.isArray(keys[0])) keys = keys[0] as unknown[];
          return keys.filter((k) => lookup(data, k) === undefined);
        },
      };
    }
    case 'missing_some': {
      if (!Array.isArray(raw)) return failing(`"${op}" takes an array of arguments`);
      const need = compileNode(raw[0]).run;
      const options = compileNode(raw[1]).run;
      return {
        run: (data, env) => {
          const needed = Number(need(data, env));
          const names = arrayOf(options(data, env), op);
          const missing = names.filter((k) => lookup(data, k) === undefined);
          return names.length - missing.length >= needed ? [] : missing;
        },
      };
    }
    case 'if':
      return compileIf(raw);
    case '==':
    case '===':
    case '!=':
    case '!==':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return compileComparison(op, raw);
    case '!':
    case '!!': {
      const operand = compileNode(Array.isArray(raw) ? raw[0] : raw).run;
      return op === '!' ? { run: (data, env) => !truthy(operand(data, env)) } : { run: (data, env) => truthy(operand(data, env)) };
    }
    case 'or':
    case 'and':
      return compileAndOr(op, raw);
    case 'in':
      return compileIn(raw);
    case 'cat':
      return compileCat(raw);
    case 'substr': {
      const args = runAll(argumentNodes(raw));
      return {
        run: (data, env) => {
          const [text, start, length] = args(data, env);
          if (typeof text !== 'string') throw new LogicEvaluationError('"substr" needs a string');
          return substrLikeJavaScript(text, start, length);
        },
      };
    }
    case '+':
    case '*':
    case '-':
    case '/':
    case '%':
    case 'min':
    case 'max':
      return compileArithmetic(op, runAll(argumentNodes(raw)));
    case 'merge': {
      const args = runAll(argumentNodes(raw));
      return {
        run: (data, env) => {
          const out: unknown[] = [];
          for (const a of args(data, env)) {
            if (Array.isArray(a)) out.push(...(a as unknown[]));
            else out.push(a);
          }
          return out;
        },
      };
    }
    case 'map':
    case 'filter':
    case 'all':
    case 'some':
    case 'none':
      return compileIteration(op, raw);
    case 'reduce':
      return compileReduce(raw);
    case 'fractional':
      return compileFractional(raw);
    case 'starts_with':
    case 'ends_with': {
      const args = compileNode(raw).run;
      return { run: (data, env) => stringCompare(args(data, env), op) };
    }
    case 'sem_ver':
      return compileSemVer(raw);
    default:
      return failing(`unknown operator "${op}"`);
  }
}

function compileVar(raw: unknown): Node {
  const [keyRaw, defaultRaw] = Array.isArray(raw) ? raw : [raw];
  const fallback = defaultRaw === undefined ? undefined : compileNode(defaultRaw).run;
  const orDefault = (found: unknown, data: unknown, env: LogicEnvironment): unknown => {
    if (found !== undefined && found !== null) return found;
    return fallback === undefined ? null : fallback(data, env);
  };
  const key = compileNode(keyRaw);
  if (key.constant !== undefined) {
    const name = key.constant.value;
    if (name === undefined || name === null || name === '') return { run: (data, env) => orDefault(data, data, env) };
    const parts = splitVarPath(String(name));
    if (parts.length === 1) {
      const [part] = parts as [string];
      const numeric = /^(0|[1-9]\d*)$/.test(part) || part === 'length';
      if (!numeric) {
        // An object's own property; arrays, strings and other values have none of this name.
        return {
          run: (data, env) => {
            const found = isPlainObject(data) && Object.hasOwn(data, part) ? data[part] : undefined;
            return orDefault(found, data, env);
          },
        };
      }
    }
    return { run: (data, env) => orDefault(lookupParts(data, parts), data, env) };
  }
  const name = key.run;
  return { run: (data, env) => orDefault(lookup(data, name(data, env)), data, env) };
}

function compileIf(raw: unknown): Node {
  if (!Array.isArray(raw)) return failing('"if" takes an array of arguments');
  const args = raw.map((a) => compileNode(a).run);
  if (args.length === 0) return constantNode(null);
  if (args.length === 1) return { run: args[0]! };
  const pairs = Math.floor(args.length / 2);
  const otherwise = args.length % 2 === 1 ? args[args.length - 1]! : undefined;
  if (pairs === 1) {
    const [condition, then] = args as [CompiledLogic, CompiledLogic];
    return {
      run: (data, env) => {
        if (truthy(condition(data, env))) return then(data, env);
        return otherwise === undefined ? null : otherwise(data, env);
      },
    };
  }
  return {
    run: (data, env) => {
      for (let i = 0; i < pairs * 2; i += 2) {
        if (truthy(args[i]!(data, env))) return args[i + 1]!(data, env);
      }
      return otherwise === undefined ? null : otherwise(data, env);
    },
  };
}

function compileComparison(op: Comparison, raw: unknown): Node {
  if (!Array.isArray(raw)) return failing(`"${op}" takes an array of arguments`);
  if (raw.length < 2) return failing(`"${op}" needs at least two arguments`);
  const args = raw.map((a) => compileNode(a).run);
  if (args.length === 2) {
    const [left, right] = args as [CompiledLogic, CompiledLogic];
    return { run: (data, env) => compareStep(op, left(data, env), right(data, env)) };
  }
  return {
    run: (data, env) => {
      let previous = args[0]!(data, env);
      for (let i = 1; i < args.length; i++) {
        const current = args[i]!(data, env);
        if (!compareStep(op, previous, current)) return false;
        previous = current;
      }
      return true;
    },
  };
}

function compileAndOr(op: 'and' | 'or', raw: unknown): Node {
  if (!Array.isArray(raw)) return failing(`"${op}" takes an array of arguments`);
  if (raw.length === 0) return constantNode(null);
  const args = raw.map((a) => compileNode(a).run);
  const stopOn = op === 'or';
  return {
    run: (data, env) => {
      let item: unknown;
      for (const a of args) {
        item = a(data, env);
        if (truthy(item) === stopOn) return item;
      }
      return item;
    },
  };
}

function compileIn(raw: unknown): Node {
  const nodes = argumentNodes(raw);
  const search = (needle: unknown, container: unknown): boolean => {
    if (!container) return false;
    if (typeof container === 'string') return container.includes(String(needle));
    if (Array.isArray(container)) return container.includes(needle);
    throw new LogicEvaluationError('"in" needs an array or a string to search');
  };
  const constant = nodes.length === 2 ? nodes[1]!.constant?.value : undefined;
  if (Array.isArray(constant) && constant.length > 8) {
    // A long literal list: Set#has and Array#includes both compare by SameValueZero.
    const members = new Set(constant);
    const item = nodes[0]!.run;
    return { run: (data, env) => members.has(item(data, env)) };
  }
  const args = runAll(nodes);
  return {
    run: (data, env) => {
      const values = args(data, env);
      return search(values[0], values[1]);
    },
  };
}

function compileCat(raw: unknown): Node {
  if (typeof raw === 'string') return constantNode(raw);
  if (!Array.isArray(raw)) {
    const operand = compileNode(raw).run;
    return {
      run: (data, env) => {
        const v = operand(data, env);
        if (typeof v === 'string') return v;
        if (Array.isArray(v)) return concatenate(v.filter((x) => x !== null && x !== undefined));
        if (v === null || v === undefined) throw new LogicEvaluationError('"cat" of null');
        return String(v);
      },
    };
  }
  const args = runAll(raw.map(compileNode));
  return { run: (data, env) => concatenate(args(data, env)) };
}

function compileArithmetic(op: string, args: (data: unknown, env: LogicEnvironment) => unknown[]): Node {
  switch (op) {
    case '+':
      return {
        run: (data, env) => {
          let sum = 0;
          for (const a of args(data, env)) sum += toNumber(a);
          return checkNumber(sum);
        },
      };
    case '*':
      return {
        run: (data, env) => {
          let product = 1;
          for (const a of args(data, env)) product *= toNumber(a);
          return checkNumber(product);
        },
      };
    case '-':
      return {
        run: (data, env) => {
          const values = args(data, env);
          if (values.length === 0) throw new LogicEvaluationError('"-" needs an argument');
          if (values.length === 1) return checkNumber(-toNumber(values[0]));
          let result = toNumber(values[0]);
          for (let i = 1; i < values.length; i++) result -= toNumber(values[i]);
          return checkNumber(result);
        },
      };
    case '/':
      return {
        run: (data, env) => {
          const values = args(data, env);
          if (values.length === 0) throw new LogicEvaluationError('"/" needs arguments');
          const operands = values.length === 1 ? [1, values[0]] : values;
          let result = toNumber(operands[0]);
          for (let i = 1; i < operands.length; i++) {
            const divisor = toNumber(operands[i]);
            if (divisor === 0) throw new LogicEvaluationError('division by zero');
            result /= divisor;
          }
          if (!Number.isFinite(result)) throw new LogicEvaluationError('division produced no finite number');
          return result;
        },
      };
    case '%':
      return {
        run: (data, env) => {
          const values = args(data, env);
          if (values.length < 2) throw new LogicEvaluationError('"%" needs two arguments');
          let result = toNumber(values[0]);
          for (let i = 1; i < values.length; i++) result %= toNumber(values[i]);
          return checkNumber(result);
        },
      };
    default:
      return {
        run: (data, env) => {
          const values = args(data, env);
          if (values.length === 0 || values.some((a) => typeof a !== 'number')) throw new LogicEvaluationError(`"${op}" needs numbers`);
          const numbers = values as number[];
          return op === 'min' ? Math.min(...numbers) : Math.max(...numbers);
        },
      };
  }
}

function compileIteration(op: 'map' | 'filter' | 'all' | 'some' | 'none', raw: unknown): Node {
  if (!Array.isArray(raw)) return failing(`"${op}" takes an array of arguments`);
  const [selectorRaw, mapper] = raw as [unknown, unknown];
  const selector = compileNode(selectorRaw).run;
  const compiledMapper = isPlainObject(mapper) || Array.isArray(mapper) ? compileNode(mapper).run : undefined;
  const apply = (item: unknown, env: LogicEnvironment): unknown => (compiledMapper === undefined ? mapper : compiledMapper(item, env));
  return {
    run: (data, env) => {
      const selected = selector(data, env);
      // flagd: "all" of an empty array is false, but of a missing one (null) it is true.
      if (op === 'all' && Array.isArray(selected) && selected.length === 0) return false;
      const items = arrayOf(selected, op);
      if (op === 'map') return items.map((item) => apply(item, env));
      if (op === 'filter') return items.filter((item) => truthy(apply(item, env)));
      if (op === 'all') return items.every((item) => truthy(apply(item, env)));
      const some = items.some((item) => truthy(apply(item, env)));
      return op === 'some' ? some : !some;
    },
  };
}

function compileReduce(raw: unknown): Node {
  if (!Array.isArray(raw)) return failing('"reduce" takes an array of arguments');
  const items = compileNode(raw[0]).run;
  const mapper = compileNode(raw[1]).run;
  const initial = raw[2] === undefined ? undefined : compileNode(raw[2]).run;
  return {
    run: (data, env) => {
      const list = arrayOf(items(data, env), 'reduce');
      const step = (accumulator: unknown, current: unknown) => mapper({ accumulator, current }, env);
      if (initial === undefined) {
        if (list.length === 0) throw new LogicEvaluationError('"reduce" of an empty array with no initial value');
        return list.reduce(step);
      }
      return list.reduce(step, initial(data, env));
    },
  };
}

/** Literal buckets (`["variant", weight]` with literal parts), read once; undefined when any part is computed. */
function literalBuckets(entries: readonly Node[]): FractionalBucket[] | null | undefined {
  if (!entries.every((e) => e.constant !== undefined)) return undefined;
  return readBuckets(entries.map((e) => e.constant!.value));
}

function compileFractional(raw: unknown): Node {
  const args = compileNode(raw);
  const generic: Node = { run: (data, env) => fractional(args.run(data, env), data, env) };
  if (!Array.isArray(raw) || raw.length === 0) return generic;
  const nodes = raw.map(compileNode);
  const first = nodes[0]!;
  const firstIsBucket = first.constant !== undefined && Array.isArray(first.constant.value);
  // Literal first arguments that are no bucket, and computed buckets, go the general way every call.
  if (!firstIsBucket && first.constant !== undefined) return generic;
  const buckets = literalBuckets(firstIsBucket ? nodes : nodes.slice(1));
  if (buckets === undefined || buckets === null) return generic;
  let total = 0;
  for (const b of buckets) total += b.weight;
  if (total > maxFractionalTotalWeight) return generic;
  const pick = (text: string, env: LogicEnvironment): unknown => {
    const picked = pickWeighted(env.hash(text), buckets);
    return picked === undefined ? null : picked.variant;
  };
  const own = (value: unknown, key: string): unknown => (isPlainObject(value) && Object.hasOwn(value, key) ? value[key] : undefined);
  if (firstIsBucket) {
    // Shorthand: bucket by flag key and targeting key.
    return {
      run: (data, env) => {
        const flagd = own(data, '$flagd');
        if (!flagd) return null;
        const targetingKey = own(data, 'targetingKey');
        if (!targetingKey) return null;
        return pick(`${String(own(flagd, 'flagKey'))}${String(targetingKey)}`, env);
      },
    };
  }
  const bucketBy = first.run;
  return {
    run: (data, env) => {
      const by = bucketBy(data, env);
      if (typeof by !== 'string') return generic.run(data, env);
      if (!own(data, '$flagd')) return null;
      return pick(by, env);
    },
  };
}

function compileSemVer(raw: unknown): Node {
  const args = compileNode(raw);
  if (Array.isArray(raw) && raw.length === 3) {
    const [leftNode, opNode, rightNode] = raw.map(compileNode) as [Node, Node, Node];
    if (opNode.constant !== undefined && rightNode.constant !== undefined) {
      const operator = String(opNode.constant.value);
      const right = parseSemanticVersion(rightNode.constant.value);
      const left = leftNode.run;
      return { run: (data, env) => semVerCompare(parseSemanticVersion(left(data, env)), operator, right) };
    }
  }
  return { run: (data, env) => semVer(args.run(data, env)) };
}
