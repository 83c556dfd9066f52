import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope keys create|list|revoke`. */
export function registerKeys(program: Command, state: RunState): void {
  const keys = program
    .command('keys')
    .description('API keys with scopes (needs an admin key)')
    .addHelpText('after', examples(['flagscope keys create --name ci --scope ingest,query', 'flagscope keys list']));
  const create = keys
    .command('create')
    .description('create an API key; the key is shown once')
    .requiredOption('--name <name>', 'who or what uses the key (recorded as "who" in flag history)')
    .requiredOption('--scope <scopes>', 'comma-separated: ingest, query, flags:read, flags:write, killswitch, admin')
    .addHelpText(
      'after',
      examples([
        'flagscope keys create --name ci --scope ingest,query --json',
        'flagscope keys create --name oncall --scope killswitch,flags:read',
      ]),
    );
  lazyAction(create, state, async () => (await import('./key-verbs.js')).createKeyVerb);
  const list = keys
    .command('list')
    .description('list keys (never their secrets)')
    .addHelpText('after', examples(['flagscope keys list', 'flagscope keys list --json']));
  lazyAction(list, state, async () => (await import('./key-verbs.js')).listKeysVerb);
  const revoke = keys
    .command('revoke')
    .description('revoke a key by id or name')
    .argument('<id-or-name>', 'key id (key_…) or name')
    .addHelpText('after', examples(['flagscope keys revoke ci', 'flagscope keys revoke key_0b8e44f1a2c3']));
  lazyAction(revoke, state, async () => (await import('./key-verbs.js')).revokeKeyVerb);
}
