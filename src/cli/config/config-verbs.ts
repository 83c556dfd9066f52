/**
 * `flagscope config get|set|list`: the settings of the config file, without
 * editing JSON. `current_profile` is the file's default profile; `api_url` and
 * `api_key` belong to the profile `--profile` (or `FLAGSCOPE_PROFILE`, or the
 * default) names. Keys are shown masked and set only by `auth login`, which
 * checks them.
 */
import {
  type ConfigFile,
  configPath,
  DEFAULT_API_URL,
  DEFAULT_PROFILE,
  readConfig,
  updateProfile,
  writeConfig,
} from '../../config/config.js';
import { FlagscopeError } from '../../errors.js';
import { renderJson } from '../../output/serialize.js';
import { closestName } from '../../query/suggest.js';
import { checkApiUrl, checkProfileName, maskApiKey, targetProfile } from '../auth/profile-target.js';
import type { CommandEnv } from '../command-env.js';
import type { GlobalFlags } from '../global-options.js';
import { printRecords } from '../print-records.js';
import type { Verb } from '../registration.js';

export const CONFIG_SETTINGS = ['current_profile', 'api_url', 'api_key', 'control_store', 'event_store'] as const;
type Setting = (typeof CONFIG_SETTINGS)[number];

const NOT_SET_HINT: Partial<Record<Setting, string>> = {
  api_key: '; `flagscope auth login` sets it',
  control_store: '; `flagscope serve` keeps the control store in its data directory',
  event_store: '; `flagscope serve` keeps the event store in its data directory',
};

function setting(name: string): Setting {
  if ((CONFIG_SETTINGS as readonly string[]).includes(name)) return name as Setting;
  const near = closestName(name, CONFIG_SETTINGS);
  throw new FlagscopeError(
    'usage',
    `unknown setting "${name}"`,
    `${near === undefined ? '' : `did you mean ${near}? `}settings are ${CONFIG_SETTINGS.join(', ')}`,
  );
}

interface Loaded {
  path: string;
  config: ConfigFile;
  flags: GlobalFlags;
}

async function load(env: CommandEnv): Promise<Loaded> {
  const path = configPath(env.ctx.env, env.ctx.homeDir);
  return { path, config: await readConfig(path), flags: env.command.optsWithGlobals<GlobalFlags>() };
}

/** The profile to read: like `targetProfile`, but a profile named explicitly must exist. */
function existingProfile({ path, config, flags }: Loaded, env: CommandEnv): string {
  const profile = targetProfile(flags.profile, env.ctx.env, config);
  const explicit = flags.profile !== undefined || (env.ctx.env.FLAGSCOPE_PROFILE ?? '') !== '';
  if (explicit && config.profiles[profile] === undefined) throw unknownProfile(profile, config, path);
  return profile;
}

function unknownProfile(profile: string, config: ConfigFile, path: string): FlagscopeError {
  const known = Object.keys(config.profiles);
  const near = closestName(profile, known);
  return new FlagscopeError(
    'usage',
    `profile "${profile}" is not in the config file ${path}`,
    known.length === 0
      ? 'there are no profiles yet; `flagscope auth login --profile NAME` makes one'
      : `${near === undefined ? '' : `did you mean ${near}? `}profiles: ${known.join(', ')}`,
  );
}

/** `config get SETTING`: the value on stdout (a key masked); a default or an unset value is noted on stderr. */
export const configGetVerb: Verb = async (env, args) => {
  const name = setting(String(args[0]));
  const loaded = await load(env);
  let value: string | undefined;
  let profile: string | undefined;
  let fallback: string | undefined;
  if (name === 'current_profile') {
    value = loaded.config.current_profile;
    fallback = DEFAULT_PROFILE;
  } else {
    profile = existingProfile(loaded, env);
    const stored = loaded.config.profiles[profile];
    if (name === 'api_url') {
      value = stored?.api_url;
      fallback = DEFAULT_API_URL;
    } else if (name === 'control_store' || name === 'event_store') value = stored?.[name];
    else value = stored?.api_key === undefined ? undefined : maskApiKey(stored.api_key);
  }
  if (env.format !== 'table') {
    env.out(renderJson({ setting: name, ...(profile === undefined ? {} : { profile }), value: value ?? null, default: fallback ?? null }));
    return;
  }
  const where = profile === undefined ? '' : ` in profile "${profile}"`;
  if (value !== undefined) env.out(`${value}\n`);
  else if (fallback !== undefined) {
    env.out(`${fallback}\n`);
    env.info(`${name} is not set${where}; this is the default`);
  } else env.info(`${name} is not set${where}${NOT_SET_HINT[name] ?? ''}`);
};

/** `config set SETTING VALUE`: writes one setting, keeping the rest of the file. */
export const configSetVerb: Verb = async (env, args) => {
  const name = setting(String(args[0]));
  const value = String(args[1]);
  const loaded = await load(env);
  const { path, config } = loaded;
  if (name === 'api_key') {
    throw new FlagscopeError(
      'usage',
      '`config set api_key` would store a key nobody checked',
      'use `flagscope auth login` (`--with-key` reads it from stdin), which checks the key with the server first',
    );
  }
  if (name === 'current_profile') {
    checkProfileName(value);
    if (config.profiles[value] === undefined) throw unknownProfile(value, config, path);
    const before = config.current_profile;
    config.current_profile = value;
    await writeConfig(path, config);
    report(
      env,
      { setting: name, value, previous: before ?? null, config_path: path },
      `default profile is now "${value}" (was ${before === undefined ? 'unset' : `"${before}"`})`,
    );
    return;
  }
  if (name === 'control_store' || name === 'event_store') {
    const store = checkStoreSetting(name, value);
    const profile = targetProfile(loaded.flags.profile, env.ctx.env, config);
    const before = config.profiles[profile]?.[name];
    await updateProfile(path, profile, { [name]: store });
    report(
      env,
      { setting: name, profile, value: store, previous: before ?? null, config_path: path },
      `${name} of profile "${profile}" is now ${store}${before === undefined ? '' : ` (was ${before})`}; \`flagscope serve\` checks it when it starts`,
    );
    return;
  }
  const url = checkApiUrl(value);
  const profile = targetProfile(loaded.flags.profile, env.ctx.env, config);
  const before = config.profiles[profile]?.api_url;
  await updateProfile(path, profile, { api_url: url });
  report(
    env,
    { setting: name, profile, value: url, previous: before ?? null, config_path: path },
    `api_url of profile "${profile}" is now ${url}${before === undefined ? '' : ` (was ${before})`}`,
  );
};

/** A store URL for a profile: its scheme is checked here, the rest by `flagscope serve` (the store factory) when it starts. */
function checkStoreSetting(name: 'control_store' | 'event_store', value: string): string {
  const schemes = name === 'control_store' ? ['duckdb:', 'postgres://', 'postgresql://'] : ['duckdb:'];
  if (!schemes.some((scheme) => value.toLowerCase().startsWith(scheme)) || value.length <= 'duckdb:'.length) {
    throw new FlagscopeError(
      'usage',
      `\`${value}\` is not a ${name === 'control_store' ? 'control' : 'event'} store URL`,
      name === 'control_store' ? 'pass duckdb:DIR or postgres://USER:PASSWORD@HOST:PORT/DATABASE' : 'pass duckdb:DIR',
    );
  }
  return value;
}

function report(env: CommandEnv, json: Record<string, unknown>, line: string): void {
  if (env.format !== 'table') env.out(renderJson(json));
  else env.info(line);
}

interface ProfileRow {
  name: string;
  current: boolean;
  api_url: string | null;
  api_key: string | null;
}

/** `config list`: every profile with its URL and masked key; the default marked. */
export const configListVerb: Verb = async (env) => {
  const { path, config } = await load(env);
  const rows: ProfileRow[] = Object.entries(config.profiles).map(([name, p]) => ({
    name,
    current: (config.current_profile ?? DEFAULT_PROFILE) === name,
    api_url: p.api_url ?? null,
    api_key: p.api_key === undefined ? null : maskApiKey(p.api_key),
  }));
  if (rows.length === 0) env.info(`no profiles in ${path}; \`flagscope auth login\` makes one`);
  printRecords<ProfileRow>(
    env,
    rows,
    [
      { key: 'name', header: 'PROFILE', value: (r) => r.name, human: (r) => (r.current ? env.styler.bold(r.name) : r.name) },
      { key: 'current', header: 'DEFAULT', value: (r) => r.current, human: (r) => (r.current ? 'yes' : '') },
      { key: 'api_url', header: 'API URL', value: (r) => r.api_url, human: (r) => r.api_url ?? `(${DEFAULT_API_URL})` },
      { key: 'api_key', header: 'API KEY', value: (r) => r.api_key, human: (r) => r.api_key ?? '(none)' },
    ],
    { config_path: path, current_profile: config.current_profile ?? null, profiles: rows },
  );
};
