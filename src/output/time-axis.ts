/** Short UTC labels for chart time axes. */

/** `HH:MM` for buckets shorter than a day, `MM-DD` otherwise (UTC). */
function formatAxisTime(ms: number, stepSeconds: number): string {
  const iso = new Date(ms).toISOString();
  if (stepSeconds >= 86400) return iso.slice(5, 10);
  if (stepSeconds < 60) return iso.slice(11, 19);
  return iso.slice(11, 16);
}

/**
 * Labels for both ends of a time axis. When the two ends fall on different
 * UTC days and the buckets are shorter than a day, both carry the date
 * (`11-22 20:30`), so a 24 h chart does not read "20:30 … 20:30".
 */
export function formatAxisEnds(firstMs: number, lastMs: number, stepSeconds: number): [string, string] {
  const left = formatAxisTime(firstMs, stepSeconds);
  const right = formatAxisTime(lastMs, stepSeconds);
  const sameDay = new Date(firstMs).toISOString().slice(0, 10) === new Date(lastMs).toISOString().slice(0, 10);
  if (stepSeconds >= 86400 || sameDay) return [left, right];
  const day = (ms: number) => new Date(ms).toISOString().slice(5, 10);
  return [`${day(firstMs)} ${left}`, `${day(lastMs)} ${right}`];
}

/** A line of `width` cells with `left` at the start and `right` at the end (omitted when they would overlap). */
export function axisLine(left: string, right: string, width: number): string {
  if (width < left.length + right.length + 1) return left;
  return left + ' '.repeat(width - left.length - right.length) + right;
}
