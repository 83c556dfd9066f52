import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope config get|set|list`. */
export function registerConfig(program: Command, state: RunState): void {
  const config = program
    .command('config')
    .description("read and change the config file: the default profile, and each profile's API URL")
    .addHelpText(
      'after',
      examples(['flagscope config list', 'flagscope config set current_profile prod', 'flagscope config get api_url --profile prod']) +
        '\nSettings: current_profile (the default profile), api_url and api_key (of the profile `--profile` names,\n' +
        'else the default one). A key is shown masked and is set only by `flagscope auth login`, which checks it.\n' +
        'control_store and event_store: where `flagscope serve` with this profile keeps its stores (store URLs).\n',
    );
  const get = config
    .command('get')
    .description('print one setting (a key masked)')
    .argument('<setting>', 'current_profile, api_url, api_key, control_store or event_store')
    .addHelpText('after', examples(['flagscope config get current_profile', 'flagscope config get api_url --profile prod']));
  lazyAction(get, state, async () => (await import('./config-verbs.js')).configGetVerb);
  const set = config
    .command('set')
    .description(
      'change one setting: current_profile (an existing profile), or api_url, control_store or event_store (creates the profile if needed)',
    )
    .argument('<setting>', 'current_profile, api_url, control_store or event_store')
    .argument('<value>', 'a profile name, an http(s) URL, or a store URL')
    .addHelpText(
      'after',
      examples(['flagscope config set current_profile prod', 'flagscope config set api_url http://flagscope.internal:7070 --profile prod']),
    );
  lazyAction(set, state, async () => (await import('./config-verbs.js')).configSetVerb);
  const list = config
    .command('list')
    .description('list every profile with its API URL and masked key; the default one marked')
    .addHelpText('after', examples(['flagscope config list', 'flagscope config list --json']));
  lazyAction(list, state, async () => (await import('./config-verbs.js')).configListVerb);
}
