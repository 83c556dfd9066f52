import type { Command, Help, Option } from 'commander';
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
  // `--service` filters the list; given with a verb it would be parsed and then ignored.
  buttons.hook('preSubcommand', async (_buttons, verb) => {
    if (buttons.getOptionValueSource('service') !== 'cli') return;
    const { FlagscopeError } = await import('../../errors.js');
    throw new FlagscopeError(
      'usage',
      `\`--service\` does not apply to \`flagscope buttons ${verb.name()}\`: a switch is named by its key`,
      `leave out \`--service\`; \`flagscope buttons --service S\` lists that service's switches`,
    );
  });
  for (const verb of ['press', 'release'] as const) {
    const cmd = buttons
      .command(verb)
      .description(
        verb === 'press'
          ? 'press a kill switch: serve its safe variant to everyone now (asks to type the key back on a terminal)'
          : 'release a kill switch: restore exactly what it served before the press',
      )
      .argument('<kill-switch>', 'the kill switch (its flag key)')
      .requiredOption('--reason <text>', `why you ${verb} it (recorded)`)
      .option('-y, --yes', 'do not ask; required when not on a terminal')
      .addHelpText(
        'after',
        examples([
          `flagscope buttons ${verb} payments-off --reason "${verb === 'press' ? 'provider outage' : 'provider recovered'}"`,
          `flagscope buttons ${verb} payments-off --reason "…" --yes --json`,
        ]),
      );
    // The verbs' help lists the global options, but not the list's own `--service`.
    cmd.configureHelp({
      ...cmd.configureHelp(),
      visibleGlobalOptions(this: Help, c: Command): Option[] {
        return (Object.getPrototypeOf(this) as Help).visibleGlobalOptions.call(this, c).filter((o) => !buttons.options.includes(o));
      },
    });
    if (verb === 'press') {
      cmd
        .option(
          '--watch-traffic <dataset>',
          "after the press, follow the flag's variant column in live events until the recent ones show the safe variant",
        )
        .option('--variant-column <column>', 'the variant column to follow (default flag.KEY)')
        .option('--watch-timeout <duration>', 'how long to follow the traffic, e.g. 30s, 2m (default 2m)')
        .option(
          '--watch-window <duration>',
          'judge the events of this last stretch of time, so clients still catching up on the press do not fail it (default 10s)',
        );
    }
    lazyAction(cmd, state, async () => (await import('./button-verbs.js'))[verb === 'press' ? 'pressButtonVerb' : 'releaseButtonVerb']);
  }
}
