import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

/** Registers `flagscope compare FLAG --dataset D`. */
export function registerCompare(program: Command, state: RunState): void {
  const cmd = program
    .command('compare')
    .description('compare the cohorts of a flag (or of combinations of flags) on metrics, peeking-safe and FDR-controlled')
    .argument('<flag>', 'flag key; its variant column is flag.<key> unless --column says otherwise')
    .requiredOption('--dataset <dataset>', 'dataset of the events')
    .option(
      '--metric <metric>',
      "metric: COUNT, SUM(col), AVG(col), P50(col)…P999(col), 'RATE(filter)', INCOMPLETE; suffix :higher or :lower (repeatable; default error rate and P95(duration_ms))",
      collect,
    )
    .option(
      '--with <flag>',
      'combine with another flag: cohorts are combinations of variants, and interactions are reported (repeatable)',
      collect,
    )
    .option('--column <column>', 'column holding the variant of FLAG (default flag.<key>)')
    .option('--control <variant>', "control variant of FLAG (default: the flag's default variant, else off/control)")
    .option('--expect <split>', "expected split of FLAG for the sample-ratio test, e.g. on=50,off=50 (default: the flag's rollout)")
    .option('--where <filter>', "narrow the events, e.g. 'service.name = checkout' (repeatable; all must match)", collect)
    .option('--any', 'match events where any `--where` filter matches instead of all')
    .option('--since <duration>', 'time range ending now, e.g. 15m, 2h, 7d (default 2h)')
    .option('--start <time>', 'start of the time range (ISO-8601, Unix seconds, or a duration ago)')
    .option('--end <time>', 'end of the time range (default now)')
    .option(
      '--unit <column>',
      "column of the randomised unit (default user.id when present): the sample-ratio test counts units and metrics are tested per unit; 'none' for events",
    )
    .option('--alpha <alpha>', 'significance level of q-values and intervals', '0.05')
    .addHelpText(
      'after',
      `${examples([
        'flagscope compare checkout_v2 --dataset shop --since 24h',
        "flagscope compare checkout_v2 --dataset shop --with new_cart --metric 'RATE(error = true)' --metric 'P95(duration_ms)'",
        'flagscope compare promo_banner --dataset shop --control control --expect control=34,variant_a=33,variant_b=33',
        "flagscope compare checkout_v2 --dataset shop --where 'service.name = checkout' --json",
      ])}\nVerdicts: better, worse, no detectable difference, not enough data. Docs: docs/compare.md\n`,
    );
  lazyAction(cmd, state, async () => (await import('./run-compare.js')).runCompare);
}
