import type { Command } from 'commander';
import { examples } from '../help.js';
import type { RunState } from '../lazy-action.js';
import { lazyAction } from '../lazy-action.js';

/** Registers `flagscope demo`. */
export function registerDemo(program: Command, state: RunState): void {
  const cmd = program
    .command('demo')
    .description('start a server with realistic seeded data and walk through what flagscope does')
    .addHelpText('after', examples(['flagscope demo', 'flagscope demo --no-color | less -R']));
  lazyAction(cmd, state, async () => (await import('./run-demo.js')).demo);
}
