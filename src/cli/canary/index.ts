import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { collect, examples, lazyAction } from '../registration.js';

const verbs = async () => import('./canary-verbs.js');

/**
 * Registers `flagscope canary start|status|ramp|promote|pause|resume|abort|gate`.
 * The canary runs in the server; these commands start, follow and steer it.
 */
export function registerCanary(program: Command, state: RunState): void {
  const canary = program
    .command('canary')
    .description('start, follow and steer a server-side canary ramp; gate CI on it')
    .addHelpText(
      'after',
      examples([
        "flagscope canary start checkout-v2 --dataset shop --guard 'RATE(status_code >= 500) <= +0.5pp'",
        'flagscope canary status checkout-v2 --watch',
        'flagscope canary gate checkout-v2 --wait 30m --format junit > canary.xml',
      ]),
    );

  const start = canary
    .command('start')
    .description('start a canary: the server ramps the flag step by step, checking its guards against control, and rolls back on harm')
    .argument('<flag>', 'release flag to ramp')
    .requiredOption('--dataset <dataset>', 'dataset whose events measure the canary')
    .option('--variant <variant>', "variant rolled out (default: the flag's only non-default variant)")
    .option('--baseline <variant>', "control variant (default: the flag's default variant)")
    .option('--column <column>', 'column holding the variant in the events (default flag.<flag>)')
    .option('--steps <percentages>', 'percentages of traffic, ascending, ending at 100 (default 1,5,25,50,100)')
    .option('--interval <duration>', 'hold time per step, e.g. 10m, 30s (default 10m)')
    .option('--min-sample <n>', 'units each cohort needs in a step before it may pass (default 1000)')
    .option('--guard <guard>', "a guard, repeatable, e.g. 'P95(duration_ms) <= +10%' (default: the dataset's defaults)", collect)
    .option('--approve-at <percent>', 'wait at this step for `canary promote`, repeatable', collect)
    .option('--max-wait <duration>', 'how long a step may lack its minimum sample before the canary pauses (default max(1h, 3 × interval))')
    .option('--reason <text>', 'why (recorded in the timeline and the flag history)')
    .option('--dry-run', 'check the plan and print the schedule; start nothing')
    .addHelpText(
      'after',
      examples([
        'flagscope canary start checkout-v2 --dataset shop',
        "flagscope canary start checkout-v2 --dataset shop --steps 1,10,50,100 --interval 15m --guard 'RATE(status_code >= 500) <= +0.5pp' --guard 'P95(duration_ms) <= +10%'",
        'flagscope canary start checkout-v2 --dataset shop --approve-at 50 --dry-run',
      ]),
    );
  lazyAction(start, state, async () => (await verbs()).startCanaryVerb);

  const status = canary
    .command('status')
    .description("a canary's step, next decision, guards with their evidence, sample, sample ratio and timeline")
    .argument('<flag>', 'flag of the canary')
    .option('--watch', 'follow it until it ends: a live view on a terminal, one line per refresh otherwise')
    .option('--interval <duration>', 'refresh interval with --watch (default 2s)')
    .addHelpText(
      'after',
      examples([
        'flagscope canary status checkout-v2',
        'flagscope canary status checkout-v2 --watch',
        'flagscope canary status checkout-v2 --json',
      ]),
    );
  lazyAction(status, state, async () => (await verbs()).statusCanaryVerb);

  const ramp = canary
    .command('ramp')
    .description('move the canary to one of its steps now (refused while a guard fails, unless --force --reason)')
    .argument('<flag>', 'flag of the canary')
    .requiredOption('--to <percent>', 'the step to ramp to')
    .option('--force', 'ramp even while a guard fails (needs --reason)')
    .option('--reason <text>', 'why (recorded)')
    .addHelpText(
      'after',
      examples([
        'flagscope canary ramp checkout-v2 --to 25',
        'flagscope canary ramp checkout-v2 --to 50 --force --reason "known flaky guard"',
      ]),
    );
  lazyAction(ramp, state, async () => (await verbs()).rampCanaryVerb);

  const simple: [string, string, string][] = [
    ['promote', 'pass an approval step, or advance one step now', 'flagscope canary promote checkout-v2'],
    [
      'pause',
      'hold the canary at its step: no promotion, no rollback by the controller',
      'flagscope canary pause checkout-v2 --reason "deploy freeze"',
    ],
    ['resume', 'resume a paused canary (its hold time goes on where it stopped)', 'flagscope canary resume checkout-v2'],
  ];
  for (const [name, description, example] of simple) {
    const cmd = canary
      .command(name)
      .description(description)
      .argument('<flag>', 'flag of the canary')
      .option('--reason <text>', 'why (recorded)')
      .addHelpText('after', examples([example, `${example.split(' --')[0]} --json`]));
    lazyAction(cmd, state, async () => (await verbs()).commandCanaryVerb(name as 'promote' | 'pause' | 'resume'));
  }

  const abort = canary
    .command('abort')
    .description('end the canary now: the flag serves the variant to 0% at once')
    .argument('<flag>', 'flag of the canary')
    .requiredOption('--reason <text>', 'why (recorded in the timeline and the flag history)')
    .addHelpText('after', examples(['flagscope canary abort checkout-v2 --reason "error budget spent"']));
  lazyAction(abort, state, async () => (await verbs()).commandCanaryVerb('abort'));

  const gate = canary
    .command('gate')
    .description('for CI: wait until the canary passes its current (or given) step, fails, or the deadline passes; exit 0, 10 or 11')
    .argument('<flag>', 'flag of the canary')
    .option('--wait <duration>', 'deadline, e.g. 30m, 2h; 0 looks once (default 30m)')
    .option('--step <percent>', 'the step to wait for (default: the step current when the gate starts)')
    .addHelpText(
      'after',
      `${examples([
        'flagscope canary gate checkout-v2',
        'flagscope canary gate checkout-v2 --wait 1h --step 25 --json',
        'flagscope canary gate checkout-v2 --format junit > canary-junit.xml',
        'flagscope canary gate checkout-v2 --format github',
      ])}\nFormats: table, json, junit (JUnit XML), github (workflow annotations; a Markdown summary goes to $GITHUB_STEP_SUMMARY).\nExit codes: 0 passed, 10 regression (rolled back or paused by a guard), 11 inconclusive (deadline, no traffic, or aborted).\n`,
    );
  lazyAction(gate, state, async () => (await import('./gate-verb.js')).gateCanaryVerb);
}

/** Registers `flagscope canaries [--all]`. */
export function registerCanaries(program: Command, state: RunState): void {
  const cmd = program
    .command('canaries')
    .description('list the canaries in flight: step, traffic, guards and next decision')
    .option('--all', 'include ended canaries')
    .addHelpText('after', examples(['flagscope canaries', 'flagscope canaries --all --json']));
  lazyAction(cmd, state, async () => (await verbs()).listCanariesVerb);
}
