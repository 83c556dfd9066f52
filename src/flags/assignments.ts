/**
 * The `NAME=VALUE,NAME=VALUE` syntax of `flags create --variants` and
 * `--rollout`. Pure parsing; the results go through `validateFlagDefinition`.
 */
import { invalidInput } from '../errors.js';
import type { JsonValue } from './model.js';

/** Splits on commas that are outside JSON strings, objects and arrays. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '{' || ch === '[') {
      depth++;
    } else if ((ch === '}' || ch === ']') && depth > 0) {
      depth--;
    } else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function pairs(text: string, option: string, example: string): Array<[string, string]> {
  if (text.trim() === '') throw invalidInput(`${option} is empty`, `write it as ${example}`);
  const seen = new Set<string>();
  return splitTopLevel(text).map((part) => {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (eq < 0 || name === '') throw invalidInput(`${option}: ${JSON.stringify(part)} is not NAME=VALUE`, `write it as ${example}`);
    if (seen.has(name)) throw invalidInput(`${option}: ${name} appears twice`);
    seen.add(name);
    return [name, part.slice(eq + 1).trim()];
  });
}

/**
 * Parses `on=true,off=false`: each value is JSON where it parses as JSON,
 * else a string (`red=#f00` → `"#f00"`). Commas inside JSON objects, arrays
 * and strings do not split. Key order is kept.
 */
export function parseVariantAssignments(text: string, option = '--variants'): Record<string, JsonValue> {
  const variants: Record<string, JsonValue> = {};
  for (const [name, raw] of pairs(text, option, 'on=true,off=false')) {
    let value: JsonValue;
    try {
      value = JSON.parse(raw) as JsonValue;
    } catch {
      value = raw;
    }
    variants[name] = value;
  }
  return variants;
}

/**
 * Parses `on=5,off=95` into percentages per variant (key order kept; up to
 * three decimals, e.g. `on=0.001,off=99.999`). Sums and ranges are checked by
 * `validateFlagDefinition`.
 */
export function parseRolloutAssignments(text: string, option = '--rollout'): Record<string, number> {
  const rollout: Record<string, number> = {};
  for (const [name, raw] of pairs(text, option, 'on=5,off=95')) {
    const pct = Number(raw.replace(/%$/, ''));
    if (raw === '' || !Number.isFinite(pct)) {
      throw invalidInput(`${option}: percentage ${JSON.stringify(raw)} for ${name} is not a number`, 'write it as on=5,off=95');
    }
    rollout[name] = pct;
  }
  return rollout;
}
