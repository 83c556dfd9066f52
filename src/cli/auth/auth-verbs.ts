/**
 * `flagscope auth login|status|logout`: a key checked against the server
 * (`GET /api/v1/whoami`) before it is stored in a config profile (mode 0600),
 * who that key is, and taking it out of the profile again.
 */
import type { WhoAmIResponse } from '../../api/keys.js';
import { createApiClient } from '../../client/api-client.js';
import { whoAmI } from '../../client/keys.js';
import { configPath, readConfig, updateProfile, writeConfig } from '../../config/config.js';
import { FlagscopeError } from '../../errors.js';
import { renderJson } from '../../output/serialize.js';
import type { CommandEnv } from '../command-env.js';
import type { GlobalFlags } from '../global-options.js';
import type { Verb } from '../registration.js';
import { maskApiKey, targetApiUrl, targetProfile } from './profile-target.js';
import { promptHidden, readAllStdin } from './read-secret.js';

type KeyIdentity = WhoAmIResponse['key'];

/** `auth login [--with-key]`: reads a key, checks it with the server, stores it in the profile. */
export const loginVerb: Verb = async (env, _args, options) => {
  const flags = env.command.optsWithGlobals<GlobalFlags>();
  const path = configPath(env.ctx.env, env.ctx.homeDir);
  const config = await readConfig(path);
  const profile = targetProfile(flags.profile, env.ctx.env, config);
  const apiUrl = targetApiUrl(flags.apiUrl, env.ctx.env, config, profile);
  const key = checkKeyShape(await readKey(env, flags, options.withKey === true, apiUrl));
  const identity = await checkKey(env, apiUrl, key);
  await updateProfile(path, profile, { api_url: apiUrl, api_key: key });
  const after = await readConfig(path);
  const isCurrent = after.current_profile === profile;
  if (env.format !== 'table') {
    env.out(renderJson({ profile, api_url: apiUrl, config_path: path, current: isCurrent, key: identity }));
  } else {
    env.info(
      `logged in to ${apiUrl} as key "${identity.name}" (${identity.id}, scopes ${identity.scopes.join(', ')}); saved to profile "${profile}" in ${path}`,
    );
    if (!isCurrent) {
      env.info(
        `profile "${profile}" is not the default ("${after.current_profile}"): pass \`--profile ${profile}\`, or make it the default with \`flagscope config set current_profile ${profile}\``,
      );
    }
  }
  const envKey = env.ctx.env.FLAGSCOPE_API_KEY;
  if (envKey !== undefined && envKey !== '')
    env.warn('FLAGSCOPE_API_KEY is set and wins over the key saved in the profile; unset it to use this one');
};

async function readKey(env: CommandEnv, flags: GlobalFlags, withKey: boolean, apiUrl: string): Promise<string> {
  if (withKey) {
    if (flags.apiKey !== undefined)
      throw new FlagscopeError('usage', '`--with-key` and `--api-key` both give the key', 'pass only one of them');
    if (env.stdinIsTTY) env.info('reading the key from stdin; end it with Enter and Ctrl-D');
    return readAllStdin(env.ctx.stdin);
  }
  if (flags.apiKey !== undefined) return flags.apiKey;
  if (!env.stdinIsTTY) {
    throw new FlagscopeError(
      'usage',
      'no key to log in with: stdin is not a terminal, so there is no prompt',
      'pipe the key in with `--with-key` (`flagscope auth login --with-key < key.txt`)',
    );
  }
  return promptHidden(env.ctx.stdin, env.ctx.stderr, `API key for ${apiUrl} (input hidden): `);
}

/** The trimmed key; a usage error when it cannot be a flagscope key, so nothing is sent or saved. */
function checkKeyShape(text: string): string {
  const key = text.trim();
  if (key.length === 0)
    throw new FlagscopeError('usage', 'the key is empty; nothing was saved', 'give the key `flagscope keys create` printed (fsk_…)');
  if (!/^fsk_[A-Za-z0-9_-]+$/.test(key)) {
    throw new FlagscopeError(
      'usage',
      `that is not a flagscope API key (${key.length} characters; keys are fsk_ and 43 letters, digits, - or _); nothing was saved`,
      'give the key `flagscope keys create` printed, or the admin key `flagscope serve` saved on first start',
    );
  }
  return key;
}

/** Asks the server who `key` is; a refusal says nothing was saved. */
async function checkKey(env: CommandEnv, apiUrl: string, key: string): Promise<KeyIdentity> {
  const client = createApiClient({
    baseUrl: apiUrl,
    apiKey: key,
    timeoutMs: env.timeoutMs,
    sleep: env.ctx.sleep,
    log: env.verbose ? (line) => env.ctx.stderr.write(`${line}\n`) : undefined,
    userAgent: 'flagscope-cli',
  });
  try {
    return await whoAmI(client);
  } catch (e) {
    if (e instanceof FlagscopeError && e.code === 'unauthenticated') {
      throw new FlagscopeError(
        'unauthenticated',
        `the flagscope API at ${apiUrl} refused the key: it is unknown or revoked; nothing was saved`,
        'check the key (`flagscope keys list` with an admin key shows the valid ones)',
        { cause: e },
      );
    }
    if (e instanceof FlagscopeError && e.code === 'not_found') {
      throw new FlagscopeError(
        'not_found',
        `${apiUrl} has no /api/v1/whoami; nothing was saved`,
        'check that `--api-url` points at a flagscope server of this version',
        { cause: e },
      );
    }
    if (e instanceof FlagscopeError) throw new FlagscopeError(e.code, `${e.message}; nothing was saved`, e.hint, { cause: e });
    throw e;
  } finally {
    await client.close();
  }
}

/** `auth status`: the profile, URL and key in use and who the server says the key is. */
export const statusVerb: Verb = async (env) => {
  const settings = await env.connection();
  if (settings.apiKey === undefined) {
    throw new FlagscopeError(
      'unauthenticated',
      `not logged in: profile "${settings.profile}" holds no API key`,
      `log in with \`flagscope auth login${settings.profile === 'default' ? '' : ` --profile ${settings.profile}`}\``,
    );
  }
  const identity = await whoAmI(await env.client());
  const record = {
    profile: settings.profile,
    api_url: settings.apiUrl,
    api_url_source: settings.sources.apiUrl,
    key_source: settings.sources.apiKey,
    key_masked: maskApiKey(settings.apiKey),
    key: identity,
  };
  if (env.format === 'json') {
    env.out(renderJson(record));
    return;
  }
  const flat = {
    profile: record.profile,
    api_url: record.api_url,
    api_url_source: record.api_url_source,
    key_name: identity.name,
    key_id: identity.id,
    scopes: identity.scopes.join(','),
    key_source: record.key_source,
    key_masked: record.key_masked,
  };
  if (env.format === 'ndjson') {
    env.out(`${JSON.stringify(flat)}\n`);
    return;
  }
  if (env.format === 'csv') {
    const { renderCsv } = await import('../../output/serialize.js');
    env.out(renderCsv(Object.keys(flat), [Object.values(flat)]));
    return;
  }
  const lines: Array<[string, string]> = env.stdoutIsTTY
    ? [
        ['profile', settings.profile],
        ['api url', `${settings.apiUrl} (from ${settings.sources.apiUrl})`],
        ['key', `"${identity.name}" ${identity.id} ${maskApiKey(settings.apiKey)} (from ${settings.sources.apiKey})`],
        ['scopes', identity.scopes.join(', ')],
      ]
    : Object.entries(flat);
  const width = Math.max(...lines.map(([k]) => k.length));
  env.out(`${lines.map(([k, v]) => (env.stdoutIsTTY ? `${env.styler.bold(k.padEnd(width))}  ${v}` : `${k}\t${v}`)).join('\n')}\n`);
};

/** `auth logout`: removes the key from the profile (the key stays valid on the server). */
export const logoutVerb: Verb = async (env) => {
  const flags = env.command.optsWithGlobals<GlobalFlags>();
  const path = configPath(env.ctx.env, env.ctx.homeDir);
  const config = await readConfig(path);
  const profile = targetProfile(flags.profile, env.ctx.env, config);
  const stored = config.profiles[profile];
  if (stored?.api_key === undefined) {
    if (flags.profile !== undefined && stored === undefined) {
      const known = Object.keys(config.profiles);
      throw new FlagscopeError(
        'usage',
        `profile "${profile}" is not in the config file ${path}`,
        known.length > 0 ? `use one of: ${known.join(', ')}` : 'there are no profiles yet; `flagscope auth login` makes one',
      );
    }
    if (env.format !== 'table') env.out(renderJson({ profile, config_path: path, removed: false }));
    else env.info(`profile "${profile}" holds no key; nothing to do`);
    return;
  }
  const { api_key: removedKey, ...rest } = stored;
  config.profiles[profile] = rest;
  await writeConfig(path, config);
  if (env.format !== 'table') {
    env.out(renderJson({ profile, config_path: path, removed: true, key_masked: maskApiKey(removedKey) }));
    return;
  }
  env.info(
    `removed the key ${maskApiKey(removedKey)} from profile "${profile}" in ${path}; it stays valid on the server (\`flagscope keys revoke\` revokes it)`,
  );
};
