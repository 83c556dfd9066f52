import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope datasets`. */
export function registerDatasets(program: Command, state: RunState): void {
  const cmd = program
    .command('datasets')
    .description('list datasets with their event and column counts')
    .addHelpText('after', examples(['flagscope datasets', 'flagscope datasets --json', 'flagscope datasets --format csv']));
  lazyAction(cmd, state, async () => (await import('./list-datasets.js')).listDatasets);
}
