import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope columns DATASET [--set-type COLUMN=TYPE [--yes]]`. */
export function registerColumns(program: Command, state: RunState): void {
  const cmd = program
    .command('columns')
    .description("list a dataset's columns, their types and mistyped values; or change a column's type")
    .argument('<dataset>', 'dataset whose columns to list')
    .option(
      '--set-type <column=type>',
      "change a column's type (string, integer, float, boolean), converting its values; needs an admin key",
    )
    .option('-y, --yes', 'do not ask before --set-type; required when not on a terminal')
    .addHelpText(
      'after',
      examples([
        'flagscope columns checkout',
        "flagscope columns checkout --format ndjson | grep '\"flag\\.'",
        'flagscope columns checkout --set-type duration_ms=string --yes',
      ]),
    );
  lazyAction(cmd, state, async () => (await import('./list-columns.js')).listColumns);
}
