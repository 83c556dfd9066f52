import { invalidInput } from '../errors.js';

/** Multiple-comparison adjustments supported by {@link adjustPValues}. */
export type AdjustMethod = 'bh' | 'holm';

/**
 * Adjusts p-values for multiple comparisons and returns them in input order:
 *
 * - `'bh'` — Benjamini–Hochberg step-up q-values, controlling the false
 *   discovery rate: q₍ᵢ₎ = min over j ≥ i of m·p₍ⱼ₎/j (same as R's
 *   `p.adjust(method = "BH")` and scipy's `false_discovery_control`);
 * - `'holm'` — Holm's step-down adjustment, controlling the family-wise error
 *   rate: p̃₍ᵢ₎ = max over j ≤ i of (m − j + 1)·p₍ⱼ₎ (R's `"holm"`).
 *
 * Values are capped at 1 and monotone in the raw p-values. NaN entries are
 * left as NaN and do not count towards m.
 */
export function adjustPValues(p: number[], method: AdjustMethod): number[] {
  if (!Array.isArray(p)) throw invalidInput('p-values must be an array of numbers');
  if (method !== 'bh' && method !== 'holm') {
    throw invalidInput(`unknown adjustment method ${JSON.stringify(method)}`, "use 'bh' or 'holm'");
  }
  p.forEach((value, i) => {
    if (typeof value !== 'number' || value < 0 || value > 1) {
      throw invalidInput(`p-values must lie between 0 and 1, got ${String(value)} at index ${i}`);
    }
  });
  const adjusted = p.map(() => Number.NaN);
  const order = p
    .map((value, index) => ({ value, index }))
    .filter((entry) => !Number.isNaN(entry.value))
    .sort((x, y) => x.value - y.value || x.index - y.index);
  const m = order.length;
  if (method === 'bh') {
    let running = 1;
    for (let rank = m; rank >= 1; rank--) {
      const entry = order[rank - 1]!;
      running = Math.min(running, (m * entry.value) / rank);
      adjusted[entry.index] = running;
    }
  } else {
    let running = 0;
    for (let rank = 1; rank <= m; rank++) {
      const entry = order[rank - 1]!;
      running = Math.max(running, Math.min(1, (m - rank + 1) * entry.value));
      adjusted[entry.index] = running;
    }
  }
  return adjusted;
}
