import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope buttons [--service S]` and `buttons press|release KEY --reason TEXT [--yes]`. */
export function registerButtons(program: Command, state: RunState): void {
  const buttons = program
    .command('buttons')
    .description("the quick red buttons: every service's kill switches, state, last press and runbook")
    .option('--service <service>', 'only this service')
    .addHelpText(
      'after',
      examples([
        'flagscope buttons',
        'flagscope buttons --service checkout',
        'flagscope buttons press payments-off --reason "provider outage"',
      ]),
    );
  lazyAction(buttons, state, async () => (await import('./button-verbs.js')).listButtonsVerb);
  for (const verb of ['press', 'release'] as const) {
    const cmd = buttons
      .command(verb)
      .description(
        verb === 'press'
          ? 'press a kill switch: serve its safe variant to everyone now (asks to type the key back on a terminal)'
          : 'release a kill switch: restore exactly what it served before the press',
      )
      .argument('<flag>', 'kill-switch flag key')
      .requiredOption('--reason <text>', `why you ${verb} it (recorded)`)
      .option('-y, --yes', 'do not ask; required when not on a terminal')
      .addHelpText(
        'after',
        examples([
          `flagscope buttons ${verb} payments-off --reason "${verb === 'press' ? 'provider outage' : 'provider recovered'}"`,
          `flagscope buttons ${verb} payments-off --reason "…" --yes --json`,
        ]),
      );
    if (verb === 'press') {
      cmd
        .option(
          '--watch-traffic <dataset>',
          "after the press, follow the flag's variant column in live events until they show the safe variant",
        )
        .option('--variant-column <column>', 'the variant column to follow (default flag.<flag>)')
        .option('--watch-timeout <duration>', 'how long to follow the traffic, e.g. 30s, 2m (default 2m)');
    }
    lazyAction(cmd, state, async () => (await import('./button-verbs.js'))[verb === 'press' ? 'pressButtonVerb' : 'releaseButtonVerb']);
  }
}
