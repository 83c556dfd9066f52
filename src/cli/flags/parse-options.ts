/**
 * Parsing of the flag options of the CLI: `--variants on=true,off=false`,
 * `--rollout on=5,off=95`, `--context JSON`, `--attr k=v`. Pure.
 */
import { invalidInput } from '../../errors.js';

/** Splits on commas that are not inside quotes, braces or brackets. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** A value given on the command line: JSON where it parses as JSON, else the text itself. */
export function parseLooseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function pairs(text: string, option: string, example: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of splitTopLevel(text)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalidInput(`\`${option}\` entry ${JSON.stringify(part)} is not NAME=VALUE`, `e.g. \`${option} ${example}\``);
    out.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
  }
  if (out.length === 0) throw invalidInput(`\`${option}\` is empty`, `e.g. \`${option} ${example}\``);
  return out;
}

/** `on=true,off=false` → `{on: true, off: false}`; a value is JSON where it parses, else a string. */
export function parseVariants(text: string): Record<string, unknown> {
  const variants: Record<string, unknown> = {};
  for (const [name, value] of pairs(text, '--variants', 'on=true,off=false')) {
    if (Object.hasOwn(variants, name)) throw invalidInput(`\`--variants\` names ${name} twice`);
    variants[name] = parseLooseValue(value);
  }
  return variants;
}

/** `on=5,off=95` → `{on: 5, off: 95}` (percentages; the server checks that they sum to 100). */
export function parseRollout(text: string): Record<string, number> {
  const rollout: Record<string, number> = {};
  for (const [name, value] of pairs(text, '--rollout', 'on=5,off=95')) {
    const pct = Number(value.replace(/%$/, ''));
    if (value === '' || !Number.isFinite(pct))
      throw invalidInput(`\`--rollout\` percentage ${JSON.stringify(value)} for ${name} is not a number`, 'e.g. `--rollout on=5,off=95`');
    if (Object.hasOwn(rollout, name)) throw invalidInput(`\`--rollout\` names ${name} twice`);
    rollout[name] = pct;
  }
  const total = Object.values(rollout).reduce((a, b) => a + b, 0);
  if (Math.abs(total - 100) > 1e-9) {
    throw invalidInput(
      `\`--rollout\` percentages sum to ${+total.toFixed(6)}, not 100`,
      'make them add up to 100, e.g. `--rollout on=5,off=95`',
    );
  }
  return rollout;
}

/** An evaluation context from `--context JSON`, `--attr k=v`… and `--targeting-key K`. */
export function buildContext(options: { context?: string; attr?: string[]; targetingKey?: string }): Record<string, unknown> {
  let context: Record<string, unknown> = {};
  if (options.context !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(options.context);
    } catch {
      throw invalidInput('`--context` is not valid JSON', `e.g. --context '{"targetingKey": "user-1", "country": "de"}'`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidInput('`--context` must be a JSON object');
    context = parsed as Record<string, unknown>;
  }
  for (const item of options.attr ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalidInput(`\`--attr\` ${JSON.stringify(item)} is not NAME=VALUE`, 'e.g. `--attr country=de`');
    context[item.slice(0, eq)] = parseLooseValue(item.slice(eq + 1));
  }
  if (options.targetingKey !== undefined) context['targetingKey'] = options.targetingKey;
  return context;
}

/** `--targeting` text: JSON Logic, or `none` to remove it. */
export function parseTargeting(text: string): unknown {
  if (text === 'none') return null;
  try {
    return JSON.parse(text);
  } catch {
    throw invalidInput(
      '`--targeting` is not valid JSON',
      `e.g. --targeting '{"if": [{"in": [{"var": "country"}, ["de", "fr"]]}, "on", null]}'`,
    );
  }
}
