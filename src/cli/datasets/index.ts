import type { Command } from '../commander.js';
import { examples } from '../help.js';
import type { RunState } from '../lazy-action.js';
import { lazyAction } from '../lazy-action.js';

/** Registers `flagscope datasets`. */
export function registerDatasets(program: Command, state: RunState): void {
  const cmd = program
    .command('datasets')
    .description('list datasets with their event and column counts')
    .addHelpText('after', examples(['flagscope datasets', 'flagscope datasets --json', 'flagscope datasets --format csv']));
  lazyAction(cmd, state, async () => (await import('./list-datasets.js')).listDatasets);
}
