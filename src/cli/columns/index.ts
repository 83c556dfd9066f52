import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope columns DATASET`. */
export function registerColumns(program: Command, state: RunState): void {
  const cmd = program
    .command('columns')
    .description("list a dataset's columns and their types")
    .argument('<dataset>', 'dataset whose columns to list')
    .addHelpText('after', examples(['flagscope columns checkout', "flagscope columns checkout --format ndjson | grep '\"flag\\.'"]));
  lazyAction(cmd, state, async () => (await import('./list-columns.js')).listColumns);
}
