/**
 * What a change did to a flag, field by field: the per-field diff `flagscope flags history`
 * shows for every entry (a description change is a change too). Pure.
 */
import type { Flag } from './model.js';
import { describeTargeting, sameJson } from './targeting-rule.js';

/** One changed field: its value before and after (`null` where it was or became absent). */
export interface FieldChange {
  /** `state`, `defaultVariant`, `variants.NAME`, `targeting`, `rollout`, `description`, … */
  field: string;
  before: unknown;
  after: unknown;
}

/** Fields in the order a diff lists them; bookkeeping (version, who, when) is left out. */
const FIELDS = [
  'service',
  'kind',
  'state',
  'defaultVariant',
  'safeVariant',
  'targeting',
  'rollout',
  'description',
  'runbookUrl',
  'metadata',
  'pressed',
  'archived',
] as const;

/** Every field that differs between `before` (null for a creation) and `after`; variants one by one. */
export function diffFlags(before: Flag | null, after: Flag): FieldChange[] {
  const changes: FieldChange[] = [];
  const push = (field: string, a: unknown, b: unknown): void => {
    if (!sameJson(a ?? null, b ?? null)) changes.push({ field, before: a ?? null, after: b ?? null });
  };
  for (const field of FIELDS.slice(0, 4)) push(field, before?.[field], after[field]);
  const names = [...new Set([...Object.keys(before?.variants ?? {}), ...Object.keys(after.variants)])];
  for (const name of names) push(`variants.${name}`, before?.variants[name], after.variants[name]);
  for (const field of FIELDS.slice(4)) {
    if (field === 'archived') push(field, before?.archived ?? false, after.archived);
    else push(field, before?.[field], after[field]);
  }
  return changes;
}

/** A field's value in a few words, for the terminal: `—` for absent, rollouts as percentages, targeting as shorthand. */
export function describeFieldValue(field: string, value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (field === 'rollout' && typeof value === 'object') {
    const rollout = value as { weights?: Array<{ variant: string; weight: number }>; precision?: number };
    if (Array.isArray(rollout.weights)) {
      const scale = 10 ** (rollout.precision ?? 0);
      return rollout.weights.map((w) => `${w.variant}=${w.weight / scale}%`).join(' ');
    }
  }
  if (field === 'targeting') return describeTargeting(value).join('; ');
  if (field === 'pressed' && typeof value === 'object') {
    const press = value as { by?: unknown; reason?: unknown };
    return `pressed by ${String(press.by)}: ${String(press.reason)}`;
  }
  return JSON.stringify(value);
}

/** A change as one line: `description: "old" → "new"`. */
export function describeChange(change: FieldChange): string {
  return `${change.field}: ${describeFieldValue(change.field, change.before)} → ${describeFieldValue(change.field, change.after)}`;
}
