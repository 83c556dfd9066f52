import type { Command } from 'commander';
import type { RunState } from '../registration.js';
import { examples, lazyAction } from '../registration.js';

/** Registers `flagscope auth login|status|logout`. */
export function registerAuth(program: Command, state: RunState): void {
  const auth = program
    .command('auth')
    .description('log in with an API key (checked, saved to a 0600 profile), see who you are, log out')
    .addHelpText('after', examples(['flagscope auth login', 'flagscope auth status', 'flagscope auth logout']));
  const login = auth
    .command('login')
    .description('check an API key with the server and save it, with the API URL, to a config profile (mode 0600)')
    .option('--with-key', 'read the key from stdin instead of a hidden prompt')
    .addHelpText(
      'after',
      examples([
        'flagscope auth login',
        'flagscope auth login --api-url http://flagscope.internal:7070 --profile prod',
        'flagscope auth login --with-key < key.txt',
        'printenv CI_FLAGSCOPE_KEY | flagscope auth login --with-key --profile ci',
      ]) +
        '\nWithout `--with-key` it prompts for the key on a terminal; with no terminal and no `--with-key` it exits 2.\n' +
        'The profile is `--profile`, else FLAGSCOPE_PROFILE, else the default one; the URL `--api-url`, else\n' +
        "FLAGSCOPE_API_URL, else the profile's, else http://127.0.0.1:7070. A refused key is not saved.\n",
    );
  lazyAction(login, state, async () => (await import('./auth-verbs.js')).loginVerb);
  const status = auth
    .command('status')
    .description("show the profile, API URL and key in use, and the key's name and scopes as the server knows them")
    .addHelpText('after', examples(['flagscope auth status', 'flagscope auth status --profile prod --json']));
  lazyAction(status, state, async () => (await import('./auth-verbs.js')).statusVerb);
  const logout = auth
    .command('logout')
    .description('remove the key from the profile (the key stays valid on the server)')
    .addHelpText('after', examples(['flagscope auth logout', 'flagscope auth logout --profile prod']));
  lazyAction(logout, state, async () => (await import('./auth-verbs.js')).logoutVerb);
}
