import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope keys create|list|revoke`. */
export function registerKeys(program: Command, state: RunState): void {
  const keys = program.command('keys').description('API keys with scopes (needs an admin key)');
  const create = keys
    .command('create')
    .description('create an API key; the key is shown once')
    .requiredOption('--name <name>', 'who or what uses the key (recorded as "who" in flag history)')
    .requiredOption('--scope <scopes>', 'comma-separated: ingest, query, flags:read, flags:write, killswitch, admin')
    .addHelpText(
      'after',
      examples(['flagscope keys create --name ci --scope ingest,query --json', 'flagscope keys create --name oncall --scope killswitch,flags:read']),
    );
  lazyAction(create, state, async () => (await import('./key-verbs.js')).createKeyVerb);
  const list = keys.command('list').description('list keys (never their secrets)');
  lazyAction(list, state, async () => (await import('./key-verbs.js')).listKeysVerb);
  const revoke = keys.command('revoke').description('revoke a key by id or name').argument('<id-or-name>', 'key id (key_…) or name');
  lazyAction(revoke, state, async () => (await import('./key-verbs.js')).revokeKeyVerb);
}
