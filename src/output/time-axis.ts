/** Short UTC labels for chart time axes. */

/** `HH:MM` for buckets shorter than a day, `MM-DD` otherwise (UTC). */
export function formatAxisTime(ms: number, stepSeconds: number): string {
  const iso = new Date(ms).toISOString();
  if (stepSeconds >= 86400) return iso.slice(5, 10);
  if (stepSeconds < 60) return iso.slice(11, 19);
  return iso.slice(11, 16);
}

/** A line of `width` cells with `left` at the start and `right` at the end (omitted when they would overlap). */
export function axisLine(left: string, right: string, width: number): string {
  if (width < left.length + right.length + 1) return left;
  return left + ' '.repeat(width - left.length - right.length) + right;
}
