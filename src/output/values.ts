/**
 * Formatting of single values for humans (TTY tables) and for machines
 * (tab-separated, CSV). Pure: the clock is passed in.
 */

/**
 * Significant digits of non-integer numbers in machine output (JSON, NDJSON, CSV, tab-separated).
 * A double holds 15 significant decimal digits exactly (any decimal of up to 15 digits survives the
 * round trip), and the 16th and 17th are where arithmetic noise lives: `115.30640000000014`.
 */
export const MACHINE_SIGNIFICANT_DIGITS = 15;

/**
 * A number for machine output without float noise: non-integers rounded to
 * {@link MACHINE_SIGNIFICANT_DIGITS} significant digits (`115.30640000000014` → `115.3064`,
 * `0.1 + 0.2` → `0.3`); integers (counts, timestamps, ids) and non-finite numbers unchanged.
 */
export function cleanNumber(n: number): number {
  if (!Number.isFinite(n) || Number.isInteger(n)) return n;
  return Number(n.toPrecision(MACHINE_SIGNIFICANT_DIGITS));
}

/** A number as machine text, without float noise ({@link cleanNumber}). */
export function formatRawNumber(n: number): string {
  return String(cleanNumber(n));
}

/** Formats an integer count with thousands separators: `10000` → `10,000`. */
export function formatCount(n: number): string {
  const sign = n < 0 ? '-' : '';
  const digits = Math.trunc(Math.abs(n)).toString();
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * Formats a number for a human table: integers and numbers of 1,000 or more
 * rounded with thousands separators, smaller numbers with 1 (≥ 100) or 2
 * (≥ 1) decimals, below 1 three significant digits; trailing zeros dropped.
 */
export function formatNumberHuman(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (Number.isInteger(n) || abs >= 1000) return formatCount(Math.round(n));
  if (abs >= 100) return trimZeros(n.toFixed(1));
  if (abs >= 1) return trimZeros(n.toFixed(2));
  return trimZeros(n.toPrecision(3));
}

/** Formats a number compactly for chart labels: `1234` → `1.23k`, `0.5` → `0.5`. */
export function formatNumberShort(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) return trimZeros((n / size).toPrecision(3)) + unit;
  }
  if (abs === 0) return '0';
  if (abs >= 1) return trimZeros(n.toPrecision(3));
  return trimZeros(n.toPrecision(2));
}

function trimZeros(s: string): string {
  if (!s.includes('.') || s.includes('e')) return s;
  return s.replace(/0+$/, '').replace(/\.$/, '');
}

/** Formats the time between `time` and `now` as `just now`, `5 minutes ago`, `in 2 hours`, `3 days ago`. */
export function formatRelativeTime(time: number, now: number): string {
  const diff = now - time;
  const future = diff < 0;
  const seconds = Math.abs(diff) / 1000;
  if (seconds < 45) return future ? 'in a few seconds' : 'just now';
  const steps: [number, string][] = [
    [60, 'minute'],
    [3600, 'hour'],
    [86400, 'day'],
    [86400 * 30, 'month'],
    [86400 * 365, 'year'],
  ];
  let unit = 'minute';
  let size = 60;
  for (const [s, name] of steps) {
    if (seconds >= s * 0.75 || s === 60) {
      unit = name;
      size = s;
    }
  }
  const count = Math.max(1, Math.round(seconds / size));
  const label = `${count} ${unit}${count === 1 ? '' : 's'}`;
  return future ? `in ${label}` : `${label} ago`;
}

/** Parses an ISO-8601 string or Unix milliseconds into Unix milliseconds; `undefined` when it is neither. */
export function toMillis(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** ISO-8601 in UTC with seconds precision when the milliseconds are zero: `2026-01-02T03:04:05Z`. */
export function formatIsoTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** Formats a byte count for people with binary units: `0 B`, `512 B`, `1.5 KiB`, `256 MiB`, `1.02 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${trimZeros(value.toPrecision(3))} ${units[unit]}`;
}
