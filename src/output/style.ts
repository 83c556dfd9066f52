/**
 * Text styling used by the formatters. The formatters take a `Styler` instead
 * of importing chalk, so they stay pure and cheap to load; commands build one
 * with `createStyler` in `src/output/chalk-styler.ts`.
 */
export interface Styler {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const identity = (text: string): string => text;

/** A styler that leaves text unchanged (colour off). */
export const plainStyler: Styler = {
  bold: identity,
  dim: identity,
  red: identity,
  green: identity,
  yellow: identity,
  cyan: identity,
};

// eslint-disable-next-line no-control-regex
const ANSI_PATTERN = /\u001b\[[0-9;]*m/g;

/** Removes ANSI colour sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_PATTERN, '');
}

/** Width of `text` in terminal cells, ignoring colour sequences (wide characters count as one). */
export function visibleWidth(text: string): number {
  return [...stripAnsi(text)].length;
}

/** Pads `text` on the right (or left) to `width` terminal cells. */
export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const missing = width - visibleWidth(text);
  if (missing <= 0) return text;
  return align === 'left' ? text + ' '.repeat(missing) : ' '.repeat(missing) + text;
}

/** Cuts `text` (without colour sequences) to `width` cells, ending with `…` when cut. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, width).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}
