/**
 * The CLI's shorthand for queries: `P99(duration_ms)`, `status_code >= 500 AND
 * service.name = "api"`, `2h`, `-30m`, `P99(duration_ms) desc`, `COUNT > 100`.
 * Grammar and examples: docs/query.md, "CLI shorthand". Every parser throws
 * `FlagscopeError('usage')` with the reason and a hint on bad input.
 */
import { parseDuration } from '../api/duration.js';
import { FlagscopeError } from '../errors.js';
import { calculationName, formatColumn, formatFilter, formatFilters, formatValue } from './format.js';
import {
  CALC_OPS,
  FILTER_OPS,
  type CalcOp,
  type Calculation,
  type Filter,
  type FilterOp,
  type FilterValue,
  type Having,
  type Order,
} from './spec.js';
import { closestName, shortName } from './suggest.js';

export { calculationName, formatColumn, formatFilter, formatFilters, formatValue };

/** Filters parsed from one `--where` expression (or several, merged). */
export interface WhereExpression {
  filters: Filter[];
  filter_combination: 'AND' | 'OR';
}

/** The filter operators written as words (`contains`, `not-in`, …), in the spec's order. */
const WORD_OPS: readonly FilterOp[] = FILTER_OPS.filter((op) => /^[a-z]/.test(op));
const SYMBOL_OPS: readonly string[] = ['>=', '<=', '!=', '==', '=', '>', '<'];
const BARE_COLUMN_CHAR = /[A-Za-z0-9._\-/:]/;
const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const VALUE_STOP = /[\s(),'"]/;

function usage(message: string, hint: string): FlagscopeError {
  return new FlagscopeError('usage', message, hint);
}

const WHERE_HINT =
  'e.g. --where \'status_code >= 500 AND service.name = "api"\'; ops: = != > >= < <= starts-with does-not-start-with contains does-not-contain exists does-not-exist in not-in';

/** A cursor over shorthand text with the few token readers the grammar needs. */
class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    private readonly what: string,
    private readonly hint: string,
  ) {}

  error(problem: string, hint = this.hint): FlagscopeError {
    return usage(`invalid ${this.what} ${JSON.stringify(shortName(this.text))}: ${problem}`, hint);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** A bare column (letters, digits, `. _ - / :`) or a backquoted one with `\` escapes. */
  column(): string {
    this.skipSpace();
    if (this.peek() === '`') return this.quoted('`');
    const start = this.pos;
    while (this.pos < this.text.length && BARE_COLUMN_CHAR.test(this.peek())) this.pos++;
    if (this.pos === start) {
      throw this.error(
        this.pos >= this.text.length
          ? 'expected a column name at the end'
          : `expected a column name at position ${this.pos + 1}, found ${JSON.stringify(this.peek())}`,
        'column names are bare (letters, digits, . _ - / :) or `backquoted`',
      );
    }
    return this.text.slice(start, this.pos);
  }

  /** A quoted string; the opening quote is at `pos`. Escapes: \\ \' \" \` \n \r \t \b \f \uXXXX (JSON's, plus \' and \`). */
  quoted(quote: string): string {
    const open = this.pos;
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos] ?? '';
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === '\\') {
        const next = this.text[this.pos + 1];
        if (next === undefined) break;
        if (next === 'n') out += '\n';
        else if (next === 'r') out += '\r';
        else if (next === 't') out += '\t';
        else if (next === 'b') out += '\b';
        else if (next === 'f') out += '\f';
        else if (next === 'u') {
          const hex = this.text.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex))
            throw this.error(`bad \\u escape at position ${this.pos + 1}`, 'write \\u followed by four hex digits');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 6;
          continue;
        } else out += next;
        this.pos += 2;
        continue;
      }
      out += c;
      this.pos++;
    }
    throw this.error(
      `unterminated ${quote} quote starting at position ${open + 1}`,
      `close it with ${quote}; escape a ${quote} inside with \\${quote}`,
    );
  }

  /** A filter op: a symbol (`>=` …) or a word (`starts-with` …), case-insensitive. */
  op(column: string): FilterOp {
    this.skipSpace();
    for (const symbol of SYMBOL_OPS) {
      if (this.text.startsWith(symbol, this.pos)) {
        this.pos += symbol.length;
        return (symbol === '==' ? '=' : symbol) as FilterOp;
      }
    }
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z-]/.test(this.peek())) this.pos++;
    const word = this.text.slice(start, this.pos).toLowerCase();
    if (word === '') throw this.error(`expected an operator after ${formatColumn(column)}`);
    if ((WORD_OPS as readonly string[]).includes(word)) return word as FilterOp;
    if (word === 'not' || word === 'does') {
      throw this.error(
        `unknown operator "${word}" after ${formatColumn(column)}`,
        'write negated ops with dashes: not-in, does-not-contain, does-not-start-with, does-not-exist',
      );
    }
    const suggestion = closestName(word, WORD_OPS);
    throw this.error(
      `unknown operator ${JSON.stringify(shortName(word))} after ${formatColumn(column)}`,
      suggestion ? `did you mean "${suggestion}"? ${WHERE_HINT}` : WHERE_HINT,
    );
  }

  /** A value: number, true/false, null, a quoted string, or a bare word (a string). */
  value(): FilterValue {
    this.skipSpace();
    const c = this.peek();
    if (c === '"' || c === "'") return this.quoted(c);
    if (/[=<>!]/.test(c))
      throw this.error(
        `expected a value at position ${this.pos + 1}, found ${JSON.stringify(c)}`,
        'quote values that start with = < > or !',
      );
    const start = this.pos;
    while (this.pos < this.text.length && !VALUE_STOP.test(this.peek())) this.pos++;
    const word = this.text.slice(start, this.pos);
    if (word === '')
      throw this.error(
        this.pos >= this.text.length
          ? 'expected a value at the end'
          : `expected a value at position ${this.pos + 1}, found ${JSON.stringify(c)}`,
        'quote values that contain spaces, commas, parentheses or quotes',
      );
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (word === 'null') return null;
    if (NUMBER_TEXT.test(word)) {
      const n = Number(word);
      if (Number.isFinite(n)) return n;
    }
    return word;
  }

  /** A parenthesised, comma-separated list of values. */
  valueList(): FilterValue[] {
    this.skipSpace();
    if (this.peek() !== '(')
      throw this.error(`expected "(" to open a list of values at position ${this.pos + 1}`, 'e.g. region in ("eu", "us")');
    this.pos++;
    const values: FilterValue[] = [];
    for (;;) {
      values.push(this.value());
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c === ')') return values;
      if (c !== ',')
        throw this.error(
          c === '' ? 'unclosed list of values' : `expected "," or ")" at position ${this.pos}, found ${JSON.stringify(c)}`,
          'e.g. region in ("eu", "us")',
        );
    }
  }

  /** A word at the cursor (for AND/OR), without consuming anything else. */
  word(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z]/.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }
}

function parseCondition(scanner: Scanner): Filter {
  const column = scanner.column();
  const op = scanner.op(column);
  if (op === 'exists' || op === 'does-not-exist') return { column, op };
  if (op === 'in' || op === 'not-in') return { column, op, value: scanner.valueList() };
  return { column, op, value: scanner.value() };
}

function parseWhereWith(scanner: Scanner): WhereExpression {
  if (scanner.atEnd()) throw scanner.error('the expression is empty');
  const filters: Filter[] = [parseCondition(scanner)];
  let combination: 'AND' | 'OR' | undefined;
  while (!scanner.atEnd()) {
    const at = scanner.pos;
    const word = scanner.word().toUpperCase();
    if (word !== 'AND' && word !== 'OR') {
      throw scanner.error(
        `expected AND or OR at position ${at + 1}, found ${JSON.stringify(shortName(scanner.text.slice(at, at + 20), 20))}`,
        'quote values that contain spaces; join conditions with AND or OR',
      );
    }
    if (combination !== undefined && combination !== word) {
      throw scanner.error(
        'AND and OR cannot be mixed in one expression',
        'use one --where per AND-ed condition, or one expression whose conditions are all joined by OR',
      );
    }
    combination = word;
    filters.push(parseCondition(scanner));
  }
  return { filters, filter_combination: combination ?? 'AND' };
}

/**
 * Parses a `--where` expression: conditions joined by AND or by OR (not both).
 *
 * @example parseWhere('status_code >= 500 AND service.name = "api"')
 * @throws FlagscopeError `usage` naming the position of the problem
 */
export function parseWhere(text: string): WhereExpression {
  return parseWhereWith(new Scanner(text, '--where expression', WHERE_HINT));
}

/**
 * Merges several `--where` expressions into one, ANDed. An OR expression of more
 * than one condition can only stand alone, since a query spec has one combination.
 */
export function mergeWhere(expressions: WhereExpression[]): WhereExpression {
  if (expressions.length === 1 && expressions[0] !== undefined) return expressions[0];
  const filters: Filter[] = [];
  for (const expression of expressions) {
    if (expression.filter_combination === 'OR' && expression.filters.length > 1) {
      throw usage(
        `cannot AND the OR expression ${JSON.stringify(shortName(formatFilters(expression.filters, 'OR')))} with other --where options`,
        'a query has one filter combination: give the OR conditions as the only --where',
      );
    }
    filters.push(...expression.filters);
  }
  return { filters, filter_combination: 'AND' };
}

const CALC_HINT = 'e.g. COUNT, P99(duration_ms), COUNT_DISTINCT(user.id), RATE(status_code >= 500), HEATMAP(duration_ms), INCOMPLETE';

function calcOpOf(word: string, text: string): CalcOp {
  const op = word.toUpperCase();
  if ((CALC_OPS as readonly string[]).includes(op)) return op as CalcOp;
  const suggestion = closestName(op, CALC_OPS);
  throw usage(
    `invalid calculation ${JSON.stringify(shortName(text))}: unknown op ${JSON.stringify(shortName(word))}`,
    suggestion ? `did you mean ${suggestion}? ${CALC_HINT}` : `ops: ${CALC_OPS.join(' ')}; ${CALC_HINT}`,
  );
}

/**
 * Parses a calculation: `COUNT`, `INCOMPLETE`, `OP(column)` or `RATE(where-expression)`; ops are case-insensitive.
 *
 * @example parseCalculation('P99(duration_ms)') // { op: 'P99', column: 'duration_ms' }
 */
export function parseCalculation(text: string): Calculation {
  const trimmed = text.trim();
  const match = /^([A-Za-z0-9_]+)\s*(?:\(([\s\S]*)\))?$/.exec(trimmed);
  if (!match) throw usage(`invalid calculation ${JSON.stringify(shortName(text))}: expected OP or OP(column)`, CALC_HINT);
  const op = calcOpOf(match[1] ?? '', text);
  const argument = match[2];
  if (op === 'COUNT' || op === 'INCOMPLETE') {
    if (argument !== undefined && argument.trim() !== '') {
      throw usage(
        `invalid calculation ${JSON.stringify(shortName(text))}: ${op === 'COUNT' ? 'COUNT takes no column' : 'INCOMPLETE takes no argument'}`,
        op === 'COUNT'
          ? 'write COUNT, or COUNT_DISTINCT(column) to count distinct values'
          : 'write INCOMPLETE (the share of meta.incomplete = true), or RATE(filter) for the share of other events',
      );
    }
    return { op };
  }
  if (argument === undefined || argument.trim() === '') {
    throw usage(
      `invalid calculation ${JSON.stringify(shortName(text))}: ${op} needs ${op === 'RATE' ? 'a filter' : 'a column'}`,
      op === 'RATE' ? 'e.g. RATE(status_code >= 500)' : `e.g. ${op}(duration_ms)`,
    );
  }
  if (op === 'RATE') {
    const where = parseWhereWith(
      new Scanner(argument, 'RATE filter', 'e.g. RATE(status_code >= 500), RATE(error exists OR status_code >= 500)'),
    );
    return { op, filters: where.filters, filter_combination: where.filter_combination };
  }
  const scanner = new Scanner(argument, 'calculation column', 'column names are bare (letters, digits, . _ - / :) or `backquoted`');
  const column = scanner.column();
  if (!scanner.atEnd()) throw scanner.error(`unexpected text after the column at position ${scanner.pos + 1}`);
  return { op, column };
}

const ORDER_HINT = "e.g. --order 'P99(duration_ms) desc', --order service.name, --order -COUNT";

/**
 * Parses an order: a calculation or a breakdown column, with an optional `asc`/`desc`
 * suffix or a `-` prefix for descending. A bare word that is a calculation op
 * (`count`) means the calculation; backquote a column of that name.
 *
 * @example parseOrder('-COUNT') // { op: 'COUNT', order: 'descending' }
 */
export function parseOrder(text: string): Order {
  let rest = text.trim();
  let order: Order['order'];
  if (rest.startsWith('-')) {
    order = 'descending';
    rest = rest.slice(1).trim();
  }
  const suffix = /\s+(asc|ascending|desc|descending)$/i.exec(rest);
  if (suffix) {
    const word = (suffix[1] ?? '').toLowerCase();
    const direction = word.startsWith('asc') ? 'ascending' : 'descending';
    if (order !== undefined && order !== direction)
      throw usage(`invalid order ${JSON.stringify(shortName(text))}: "-" and "${word}" disagree`, ORDER_HINT);
    order = direction;
    rest = rest.slice(0, suffix.index).trim();
  }
  if (rest === '') throw usage(`invalid order ${JSON.stringify(shortName(text))}: nothing to order by`, ORDER_HINT);
  const calcLike = /^([A-Za-z0-9_]+)\s*(\([\s\S]*\))?$/.exec(rest);
  const result: Order = {};
  if (!rest.startsWith('`') && calcLike && (CALC_OPS as readonly string[]).includes((calcLike[1] ?? '').toUpperCase())) {
    const calc = parseCalculation(rest);
    result.op = calc.op;
    if (calc.column !== undefined) result.column = calc.column;
    if (calc.filters !== undefined) {
      result.filters = calc.filters;
      result.filter_combination = calc.filter_combination ?? 'AND';
    }
  } else {
    const scanner = new Scanner(rest, 'order', ORDER_HINT);
    result.column = scanner.column();
    if (!scanner.atEnd()) throw scanner.error(`unexpected text at position ${scanner.pos + 1}`);
  }
  if (order !== undefined) result.order = order;
  return result;
}

/**
 * Parses a having: `CALCULATION OP NUMBER`, e.g. `COUNT > 100`, `P99(duration_ms) >= 250`.
 */
export function parseHaving(text: string): Having {
  const match = /^([\s\S]*?)\s*(>=|<=|!=|=|>|<)\s*([^\s<>=!]+)\s*$/.exec(text.trim());
  const hint = "e.g. --having 'COUNT > 100', --having 'P99(duration_ms) >= 250'";
  if (!match) throw usage(`invalid having ${JSON.stringify(shortName(text))}: expected CALCULATION OP NUMBER`, hint);
  const valueText = match[3] ?? '';
  if (!NUMBER_TEXT.test(valueText) || !Number.isFinite(Number(valueText))) {
    throw usage(`invalid having ${JSON.stringify(shortName(text))}: ${JSON.stringify(shortName(valueText))} is not a number`, hint);
  }
  const calc = parseCalculation(match[1] ?? '');
  const having: Having = { calculate_op: calc.op, op: (match[2] ?? '=') as Having['op'], value: Number(valueText) };
  if (calc.column !== undefined) having.column = calc.column;
  if (calc.filters !== undefined) {
    having.filters = calc.filters;
    having.filter_combination = calc.filter_combination ?? 'AND';
  }
  return having;
}

/** The duration parser is shared with the rest of the CLI and the server; re-exported for the shorthand's readers. */
export { parseDuration };

/**
 * Parses a point in time into unix seconds: an ISO-8601 date or date-time (UTC when
 * it has no offset), integer unix seconds, `now`, or `-DURATION` before `now`.
 *
 * @param now the current time in unix milliseconds
 */
export function parseTime(text: string, now: number): number {
  const trimmed = text.trim();
  const nowSeconds = Math.floor(now / 1000);
  const hint = 'e.g. 2026-11-23T10:00:00Z, 1700000000 (unix seconds), -2h (two hours ago), now';
  if (trimmed.toLowerCase() === 'now') return nowSeconds;
  if (trimmed.startsWith('-')) return nowSeconds - parseDuration(trimmed.slice(1));
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const hasTime = /T|\s\d/.test(trimmed.slice(10));
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed);
    const iso = hasTime && !hasZone ? `${trimmed.replace(' ', 'T')}Z` : trimmed.replace(' ', 'T');
    const ms = Date.parse(iso);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  if (/^\d+[wdhms]/i.test(trimmed)) {
    throw usage(
      `invalid time ${JSON.stringify(shortName(text))}: a duration is not a point in time`,
      `write -${trimmed} for ${trimmed} ago`,
    );
  }
  throw usage(`invalid time ${JSON.stringify(shortName(text))}: expected an ISO-8601 time, unix seconds or -DURATION`, hint);
}
