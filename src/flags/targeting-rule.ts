/**
 * Targeting without writing JSON Logic: the rule shorthand of `flagscope flags target`
 * (`country in [DE,FR] => on`), compiled to flagd JSON Logic, and the edits of a flag's
 * targeting that the command makes (individual keys, rules added, removed, cleared).
 * Pure: no I/O.
 *
 * Grammar (docs/flags.md, "Targeting shorthand"):
 *
 *   rule       := condition "=>" VARIANT
 *   condition  := conjunct ("or" conjunct)*
 *   conjunct   := clause ("and" clause)*
 *   clause     := "(" condition ")"
 *               | ATTRIBUTE ("in" | "not in") "[" value ("," value)* "]"
 *               | ATTRIBUTE ("==" | "!=" | "<" | "<=" | ">" | ">=") value
 *               | ATTRIBUTE ("starts_with" | "ends_with") value
 *               | ATTRIBUTE "semver" ("=" | "!=" | "<" | "<=" | ">" | ">=" | "^" | "~") value
 *   value      := NUMBER | "text" | 'text' | true | false | BAREWORD (a string)
 *
 * The targeting `flags target` writes is a chain `{"if": [c1, v1, c2, v2, …, ELSE]}`: the
 * first condition that holds names the variant; ELSE is `null` (fall through to the rollout
 * and the default variant) or whatever targeting the flag had before, kept as it was.
 */
import { invalidInput } from '../errors.js';
import { validateJsonLogic } from './json-logic.js';

/** A JSON Logic condition. */
export type Logic = unknown;

/** One compiled rule: when `condition` holds, serve `variant`. */
export interface TargetingRule {
  condition: Logic;
  variant: string;
}

const RULE_EXAMPLE = "e.g. --rule 'country in [DE,FR] => on' or --rule 'plan == pro and age >= 18 => on'";

type Token =
  | { type: 'word'; text: string; at: number }
  | { type: 'string'; text: string; at: number }
  | { type: 'symbol'; text: string; at: number };

const SYMBOLS = ['=>', '==', '!=', '<=', '>=', '<', '>', '=', '^', '~', '[', ']', '(', ')', ','];
const WORD_STOP = /[\s[\](),"'<>=!^~]/;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let out = '';
      while (j < text.length && text[j] !== ch) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        out += text[j];
        j++;
      }
      if (j >= text.length) throw ruleError(text, i, `the quote opened here is not closed`);
      tokens.push({ type: 'string', text: out, at: i });
      i = j + 1;
      continue;
    }
    const symbol = SYMBOLS.find((s) => text.startsWith(s, i));
    if (symbol !== undefined) {
      tokens.push({ type: 'symbol', text: symbol, at: i });
      i += symbol.length;
      continue;
    }
    let j = i;
    while (j < text.length && !WORD_STOP.test(text[j] as string)) j++;
    if (j === i) throw ruleError(text, i, `unexpected ${JSON.stringify(ch)}`);
    tokens.push({ type: 'word', text: text.slice(i, j), at: i });
    i = j;
  }
  return tokens;
}

function ruleError(text: string, at: number, what: string): Error {
  return invalidInput(`rule ${JSON.stringify(text)}: ${what} at character ${at + 1}`, `${RULE_EXAMPLE}; the grammar is in docs/flags.md`);
}

const ATTRIBUTE = /^[A-Za-z_$][A-Za-z0-9_.$-]*$/;
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);
const SEMVER_OPERATORS = new Set(['=', '!=', '<', '<=', '>', '>=', '^', '~']);
const KEYWORDS = new Set(['and', 'or', 'in', 'not', 'starts_with', 'ends_with', 'semver']);

class Parser {
  private i = 0;
  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private fail(what: string): Error {
    const token = this.peek();
    return ruleError(
      this.text,
      token?.at ?? this.text.length,
      token === undefined ? `${what}, found the end` : `${what}, found ${JSON.stringify(token.text)}`,
    );
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t?.type === 'word' && t.text.toLowerCase() === word;
  }

  private isSymbol(symbol: string): boolean {
    const t = this.peek();
    return t?.type === 'symbol' && t.text === symbol;
  }

  private expectSymbol(symbol: string, what: string): void {
    if (!this.isSymbol(symbol)) throw this.fail(`expected ${what}`);
    this.i++;
  }

  rule(): TargetingRule {
    if (this.peek() === undefined) throw invalidInput('the rule is empty', RULE_EXAMPLE);
    const condition = this.condition();
    if (!this.isSymbol('=>')) throw this.fail('expected `=> VARIANT` after the condition');
    this.i++;
    const variant = this.peek();
    if (variant === undefined || variant.type === 'symbol') throw this.fail('expected the variant after `=>`');
    this.i++;
    if (this.peek() !== undefined) throw this.fail('expected the end of the rule after the variant');
    return { condition, variant: variant.text };
  }

  private condition(): Logic {
    const parts = [this.conjunct()];
    while (this.isWord('or')) {
      this.i++;
      parts.push(this.conjunct());
    }
    return parts.length === 1 ? parts[0] : { or: parts };
  }

  private conjunct(): Logic {
    const parts = [this.clause()];
    while (this.isWord('and')) {
      this.i++;
      parts.push(this.clause());
    }
    return parts.length === 1 ? parts[0] : { and: parts };
  }

  private clause(): Logic {
    if (this.isSymbol('(')) {
      this.i++;
      const inner = this.condition();
      this.expectSymbol(')', '`)`');
      return inner;
    }
    const attribute = this.peek();
    if (attribute?.type !== 'word' || !ATTRIBUTE.test(attribute.text) || KEYWORDS.has(attribute.text.toLowerCase())) {
      throw this.fail('expected an attribute name (e.g. country, plan, targetingKey)');
    }
    this.i++;
    const variable = { var: attribute.text };
    if (this.isWord('in')) {
      this.i++;
      return { in: [variable, this.list()] };
    }
    if (this.isWord('not')) {
      this.i++;
      if (!this.isWord('in')) throw this.fail('expected `in` after `not`');
      this.i++;
      return { '!': { in: [variable, this.list()] } };
    }
    if (this.isWord('starts_with') || this.isWord('ends_with')) {
      const op = (this.peek() as Token).text.toLowerCase();
      this.i++;
      return { [op]: [variable, String(this.value())] };
    }
    if (this.isWord('semver')) {
      this.i++;
      const op = this.peek();
      if (op?.type !== 'symbol' || !SEMVER_OPERATORS.has(op.text))
        throw this.fail('expected a semver comparison (=, !=, <, <=, >, >=, ^, ~)');
      this.i++;
      return { sem_ver: [variable, op.text, String(this.value())] };
    }
    const op = this.peek();
    if (op?.type === 'symbol' && COMPARISONS.has(op.text)) {
      this.i++;
      return { [op.text]: [variable, this.value()] };
    }
    throw this.fail('expected in, not in, ==, !=, <, <=, >, >=, starts_with, ends_with or semver');
  }

  private list(): unknown[] {
    this.expectSymbol('[', '`[` opening a list of values');
    const values: unknown[] = [];
    if (this.isSymbol(']')) throw this.fail('expected at least one value in the list');
    for (;;) {
      values.push(this.value());
      if (this.isSymbol(',')) {
        this.i++;
        continue;
      }
      this.expectSymbol(']', '`,` or `]`');
      return values;
    }
  }

  private value(): unknown {
    const t = this.peek();
    if (t === undefined || t.type === 'symbol') throw this.fail('expected a value');
    this.i++;
    if (t.type === 'string') return t.text;
    if (NUMBER.test(t.text)) return Number(t.text);
    if (t.text === 'true') return true;
    if (t.text === 'false') return false;
    return t.text;
  }
}

/** Parses the rule shorthand `CONDITION => VARIANT` into a JSON Logic condition and a variant. */
export function parseTargetingRule(text: string): TargetingRule {
  const rule = new Parser(text, tokenize(text)).rule();
  validateJsonLogic(rule.condition);
  return rule;
}

/** The condition that matches the given targeting keys. */
export function keysCondition(keys: readonly string[]): Logic {
  return { in: [{ var: 'targetingKey' }, [...keys]] };
}

/** The keys a condition matches when it is a `keysCondition`, else undefined. */
function keysOf(condition: Logic): string[] | undefined {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) return undefined;
  const entries = Object.entries(condition);
  if (entries.length !== 1 || entries[0]?.[0] !== 'in') return undefined;
  const args = entries[0][1];
  if (!Array.isArray(args) || args.length !== 2) return undefined;
  const [variable, list] = args as [unknown, unknown];
  if (!sameJson(variable, { var: 'targetingKey' })) return undefined;
  if (!Array.isArray(list) || !list.every((k) => typeof k === 'string')) return undefined;
  return list as string[];
}

/** A flag's targeting as a rule chain: the pairs `flags target` manages, and what comes after them. */
export interface TargetingChain {
  rules: TargetingRule[];
  /** What the chain falls back to: `null` (the rollout, then the default variant) or earlier custom targeting. */
  otherwise: Logic;
}

/** Reads targeting (JSON Logic or undefined) as a chain; targeting of another shape becomes the fallback. */
export function targetingChain(targeting: unknown): TargetingChain {
  if (targeting === undefined || targeting === null) return { rules: [], otherwise: null };
  if (typeof targeting === 'object' && !Array.isArray(targeting)) {
    const entries = Object.entries(targeting);
    const args = entries[0]?.[1];
    if (entries.length === 1 && entries[0]?.[0] === 'if' && Array.isArray(args) && args.length >= 2) {
      const rules: TargetingRule[] = [];
      let i = 0;
      for (; i + 1 < args.length; i += 2) {
        const variant = args[i + 1];
        if (typeof variant !== 'string') return { rules: [], otherwise: targeting };
        rules.push({ condition: args[i], variant });
      }
      return { rules, otherwise: i < args.length ? args[i] : null };
    }
  }
  return { rules: [], otherwise: targeting };
}

/** The targeting a chain compiles to; `null` when it targets nothing (the flag then has no targeting). */
export function chainTargeting(chain: TargetingChain): unknown {
  if (chain.rules.length === 0) return chain.otherwise ?? null;
  return { if: [...chain.rules.flatMap((r) => [r.condition, r.variant]), chain.otherwise ?? null] };
}

/** An edit `flags target` makes. */
export type TargetingEdit =
  | { type: 'add-keys'; variant: string; keys: string[] }
  | { type: 'remove-keys'; keys: string[] }
  | { type: 'add-rule'; rule: TargetingRule }
  | { type: 'remove-rule'; rule: TargetingRule }
  | { type: 'clear' };

export interface TargetingEditResult {
  /** The new targeting; `null` removes it. */
  targeting: unknown;
  changed: boolean;
  /** What was done, a line each (for the terminal). */
  notes: string[];
}

function checkVariant(variant: string, variants: Readonly<Record<string, unknown>>): void {
  if (!Object.hasOwn(variants, variant)) {
    throw invalidInput(`${JSON.stringify(variant)} is not a variant of the flag`, `its variants are ${Object.keys(variants).join(', ')}`);
  }
}

/**
 * Applies an edit to a flag's targeting. Individual keys go first in the chain (they win over
 * rules), each key in one place only; rules are appended in the order given; the targeting the
 * flag had before in another shape stays as the chain's fallback.
 */
export function editTargeting(targeting: unknown, edit: TargetingEdit, variants: Readonly<Record<string, unknown>>): TargetingEditResult {
  const before = targeting ?? null;
  const chain = targetingChain(targeting);
  const notes: string[] = [];
  switch (edit.type) {
    case 'clear':
      if (before !== null) notes.push('removed all targeting');
      return { targeting: null, changed: before !== null, notes };
    case 'add-keys': {
      checkVariant(edit.variant, variants);
      const wanted = new Set(edit.keys);
      const rules = withoutKeys(chain.rules, wanted, notes, edit.variant);
      const keyed = rules.findIndex((r) => r.variant === edit.variant && keysOf(r.condition) !== undefined);
      const existing = keyed >= 0 ? (keysOf((rules[keyed] as TargetingRule).condition) as string[]) : [];
      const added = edit.keys.filter((k) => !existing.includes(k));
      const merged = [...existing, ...added];
      if (keyed >= 0) rules[keyed] = { condition: keysCondition(merged), variant: edit.variant };
      else rules.splice(leadingKeyRules(rules), 0, { condition: keysCondition(merged), variant: edit.variant });
      if (added.length > 0) notes.push(`${added.join(', ')} → ${edit.variant}`);
      const already = edit.keys.filter((k) => existing.includes(k));
      if (already.length > 0) notes.push(`${already.join(', ')} already → ${edit.variant}`);
      return finish(before, { rules, otherwise: chain.otherwise }, notes);
    }
    case 'remove-keys': {
      const wanted = new Set(edit.keys);
      const rules = withoutKeys(chain.rules, wanted, notes);
      const found = new Set(chain.rules.flatMap((r) => keysOf(r.condition) ?? []));
      const missing = edit.keys.filter((k) => !found.has(k));
      if (missing.length > 0) notes.push(`${missing.join(', ')} had no individual targeting`);
      return finish(before, { rules, otherwise: chain.otherwise }, notes);
    }
    case 'add-rule': {
      checkVariant(edit.rule.variant, variants);
      if (chain.rules.some((r) => sameJson(r, edit.rule))) {
        notes.push(`the rule is there already: ${describeRule(edit.rule)}`);
        return { targeting: before, changed: false, notes };
      }
      notes.push(`added rule: ${describeRule(edit.rule)}`);
      return finish(before, { rules: [...chain.rules, edit.rule], otherwise: chain.otherwise }, notes);
    }
    case 'remove-rule': {
      const rules = chain.rules.filter((r) => !sameJson(r, edit.rule));
      if (rules.length === chain.rules.length) {
        const listed = chain.rules.filter((r) => keysOf(r.condition) === undefined).map(describeRule);
        throw invalidInput(
          `the flag has no rule ${describeRule(edit.rule)}`,
          listed.length === 0 ? 'it has no rules (`flagscope flags get KEY` shows its targeting)' : `its rules: ${listed.join('; ')}`,
        );
      }
      notes.push(`removed rule: ${describeRule(edit.rule)}`);
      return finish(before, { rules, otherwise: chain.otherwise }, notes);
    }
  }
}

function leadingKeyRules(rules: readonly TargetingRule[]): number {
  let i = 0;
  while (i < rules.length && keysOf((rules[i] as TargetingRule).condition) !== undefined) i++;
  return i;
}

/** The rules with `keys` taken out of every individual-key rule (empty ones dropped). */
function withoutKeys(rules: readonly TargetingRule[], keys: Set<string>, notes: string[], keepVariant?: string): TargetingRule[] {
  const out: TargetingRule[] = [];
  for (const rule of rules) {
    const listed = keysOf(rule.condition);
    if (listed === undefined || rule.variant === keepVariant) {
      out.push(rule);
      continue;
    }
    const kept = listed.filter((k) => !keys.has(k));
    const taken = listed.filter((k) => keys.has(k));
    if (taken.length > 0) notes.push(`${taken.join(', ')} no longer → ${rule.variant}`);
    if (kept.length > 0) out.push({ condition: keysCondition(kept), variant: rule.variant });
  }
  return out;
}

function finish(before: unknown, chain: TargetingChain, notes: string[]): TargetingEditResult {
  const targeting = chainTargeting(chain);
  return { targeting, changed: !sameJson(before, targeting), notes };
}

/** A rule as the shorthand writes it, where it can; JSON Logic otherwise. */
export function describeRule(rule: TargetingRule): string {
  return `${describeCondition(rule.condition, true)} => ${rule.variant}`;
}

/** Targeting as lines of shorthand (`targetingKey in [u1, u2] => on`); the fallback, if any, as JSON. */
export function describeTargeting(targeting: unknown): string[] {
  const chain = targetingChain(targeting);
  const lines = chain.rules.map(describeRule);
  if (chain.otherwise !== null && chain.otherwise !== undefined) {
    lines.push(chain.rules.length === 0 ? JSON.stringify(chain.otherwise) : `otherwise ${JSON.stringify(chain.otherwise)}`);
  }
  return lines;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const bare =
      value !== '' &&
      !WORD_STOP.test(value) &&
      !/\s/.test(value) &&
      !NUMBER.test(value) &&
      !KEYWORDS.has(value) &&
      value !== 'true' &&
      value !== 'false';
    return bare ? value : JSON.stringify(value);
  }
  return JSON.stringify(value);
}

function describeCondition(condition: Logic, top: boolean): string {
  const json = JSON.stringify(condition);
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) return json;
  const entries = Object.entries(condition);
  if (entries.length !== 1) return json;
  const [op, args] = entries[0] as [string, unknown];
  if (op === 'and' || op === 'or') {
    if (!Array.isArray(args)) return json;
    const text = args.map((a) => describeCondition(a, false)).join(` ${op} `);
    return top ? text : `(${text})`;
  }
  if (op === '!') {
    const inner = Array.isArray(args) ? args[0] : args;
    const described = describeCondition(inner, false);
    return described.includes(' in [') && !described.startsWith('(') ? described.replace(' in [', ' not in [') : json;
  }
  if (!Array.isArray(args)) return json;
  const variable = args[0] as { var?: unknown } | undefined;
  const name = typeof variable === 'object' && variable !== null && typeof variable.var === 'string' ? variable.var : undefined;
  if (name === undefined || !ATTRIBUTE.test(name)) return json;
  if (op === 'in' && args.length === 2 && Array.isArray(args[1])) return `${name} in [${args[1].map(describeValue).join(', ')}]`;
  if ((COMPARISONS.has(op) || op === 'starts_with' || op === 'ends_with') && args.length === 2)
    return `${name} ${op} ${describeValue(args[1])}`;
  if (op === 'sem_ver' && args.length === 3) return `${name} semver ${String(args[1])} ${describeValue(args[2])}`;
  return json;
}

/** Deep equality of JSON values, ignoring object key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => sameJson(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
