/**
 * "Did you mean" suggestions for misspelt names, by edit distance.
 */

const MAX_SUGGEST_LENGTH = 200;

/** Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`. */
function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate to `name` if it is close enough to be a plausible typo (case-insensitive). */
export function closestName(name: string, candidateNames: Iterable<string>): string | undefined {
  if (name.length > MAX_SUGGEST_LENGTH) return undefined;
  const candidates = [...candidateNames];
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  const lower = name.toLowerCase();
  for (const candidate of candidates) {
    if (candidate.length > MAX_SUGGEST_LENGTH) continue;
    const distance = editDistance(lower, candidate.toLowerCase(), bestDistance - 1);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined && lower.length > 0) {
    // "service" → "service.name": a dotted name whose first segments were given.
    for (const candidate of candidates) {
      if (candidate.toLowerCase().startsWith(`${lower}.`)) return candidate;
    }
  }
  return best;
}

/**
 * Up to `max` candidates close enough to `name` to be plausible typos (the same distance
 * limit as `closestName`), nearest first; ties keep the candidates' order.
 */
export function closestNames(name: string, candidateNames: Iterable<string>, max = 3): string[] {
  if (name.length > MAX_SUGGEST_LENGTH) return [];
  const limit = Math.max(2, Math.floor(name.length / 3));
  const lower = name.toLowerCase();
  const near: Array<{ candidate: string; distance: number }> = [];
  for (const candidate of candidateNames) {
    if (candidate.length > MAX_SUGGEST_LENGTH) continue;
    const distance = editDistance(lower, candidate.toLowerCase(), limit);
    if (distance <= limit) near.push({ candidate, distance });
  }
  return near
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((n) => n.candidate);
}

/** A name shortened for error messages, so a 10 kB column name does not flood the terminal. */
export function shortName(name: string, max = 80): string {
  return name.length <= max ? name : `${name.slice(0, max)}…`;
}
