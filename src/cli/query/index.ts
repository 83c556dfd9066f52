import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

/** Registers `flagscope query DATASET`. */
export function registerQuery(program: Command, state: RunState): void {
  const cmd = program
    .command('query')
    .description('run a Honeycomb-style query: calculations by breakdown over a time range')
    .argument('<dataset>', 'dataset to query')
    .option(
      '--calc <calc>',
      "calculation, e.g. COUNT, 'P99(duration_ms)', 'RATE(status_code >= 500)', INCOMPLETE (repeatable; default COUNT)",
      collect,
    )
    .option('--where <filter>', "filter, e.g. 'status_code >= 500' (repeatable; all must match)", collect)
    .option('--any', 'match events where any `--where` filter matches instead of all')
    .option('--by <columns>', 'break down by columns (repeatable or comma-separated)', collect)
    .option('--since <duration>', 'time range ending now, e.g. 15m, 2h, 7d (default 2h)')
    .option('--start <time>', 'start of the time range (ISO-8601, Unix seconds, or a duration ago)')
    .option('--end <time>', 'end of the time range (default now)')
    .option('--granularity <duration>', 'time bucket size; draws a chart per calculation')
    .option('--order <order>', "order, e.g. 'P99(duration_ms) desc' or 'service.name asc' (repeatable)", collect)
    .option('--having <having>', "filter groups by a calculation, e.g. 'COUNT > 10' (repeatable)", collect)
    .option('--limit <n>', 'maximum number of groups')
    .option('--spec <file>', 'Honeycomb query-spec JSON file (`-` for stdin); other options override its fields')
    .option('--heatmap <column>', 'add HEATMAP(column) and draw a time × value heatmap')
    .option('--watch', 'run the query again every few seconds (terminal only)')
    .option('--interval <duration>', 'refresh interval of `--watch`', '5s')
    .addHelpText(
      'after',
      examples([
        "flagscope query checkout --calc COUNT --calc 'P99(duration_ms)' --by service.name --since 2h",
        "flagscope query checkout --where 'status_code >= 500' --by flag.new_cart --order 'COUNT desc' --limit 10",
        "flagscope query checkout --calc 'P95(duration_ms)' --granularity 5m --since 6h",
        "flagscope query web --calc INCOMPLETE --calc COUNT --by flag.new_cart --order 'INCOMPLETE desc'",
        'flagscope query checkout --heatmap duration_ms --since 1h',
        'flagscope query checkout --spec query.json --format csv > result.csv',
      ]),
    );
  lazyAction(cmd, state, async () => (await import('./run-query.js')).runQuery);
}
