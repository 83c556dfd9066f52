import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

/** Registers `flagscope explain DATASET --where FILTER` (or `--incomplete`). */
export function registerExplain(program: Command, state: RunState): void {
  const cmd = program
    .command('explain')
    .description('find what sets the selected events apart from the rest: columns, values and flag combinations, ranked, FDR-controlled')
    .argument('<dataset>', 'dataset of the events')
    .option('--where <filter>', "the selection, e.g. 'error = true' (repeatable; all must match)", collect)
    .option('--any', 'select events where any `--where` filter matches instead of all')
    .option('--incomplete', 'select the incomplete executions (meta.incomplete = true: their end never arrived) instead of `--where`')
    .option('--population <filter>', "narrow both sides first, e.g. 'service.name = checkout' (repeatable)", collect)
    .option('--since <duration>', 'time range ending now, e.g. 15m, 2h, 7d (default 2h)')
    .option('--start <time>', 'start of the time range (ISO-8601, Unix seconds, or a duration ago)')
    .option('--end <time>', 'end of the time range (default now)')
    .option('--limit <n>', 'findings to show', '15')
    .option('--alpha <alpha>', 'false discovery rate', '0.05')
    .addHelpText(
      'after',
      `${examples([
        "flagscope explain shop --where 'error = true' --since 24h",
        "flagscope explain shop --where 'duration_ms > 1000' --population 'service.name = checkout'",
        "flagscope explain shop --where 'status_code >= 500' --json",
        'flagscope explain web --incomplete --since 24h',
      ])}\nDocs: docs/compare.md\n`,
    );
  lazyAction(cmd, state, async () => (await import('./run-explain.js')).runExplain);
}
