import { Chalk } from 'chalk';
import type { Styler } from './style.js';
import { plainStyler } from './style.js';

/** Builds a chalk-backed styler; `enabled` comes from the colour rules of the command context. */
export function createStyler(enabled: boolean): Styler {
  if (!enabled) return plainStyler;
  const chalk = new Chalk({ level: 1 });
  return {
    bold: (t) => chalk.bold(t),
    dim: (t) => chalk.dim(t),
    red: (t) => chalk.red(t),
    green: (t) => chalk.green(t),
    yellow: (t) => chalk.yellow(t),
    cyan: (t) => chalk.cyan(t),
  };
}
