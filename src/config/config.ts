/**
 * The config file: `$XDG_CONFIG_HOME/flagscope/config.json` (default
 * `~/.config/flagscope/config.json`), mode 0600, holding named profiles.
 *
 * Precedence for every setting: command-line flag > environment
 * (`FLAGSCOPE_API_URL`, `FLAGSCOPE_API_KEY`, `FLAGSCOPE_PROFILE`) > the profile
 * in the config file > built-in default.
 */
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FlagscopeError } from '../errors.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:7070';
export const DEFAULT_PROFILE = 'default';

export interface Profile {
  api_url?: string;
  api_key?: string;
  /** `flagscope serve --control-store`'s default for this profile (e.g. `postgres://…`). */
  control_store?: string;
  /** `flagscope serve --event-store`'s default for this profile. */
  event_store?: string;
}

export interface ConfigFile {
  /** The profile used when neither `--profile` nor `FLAGSCOPE_PROFILE` names one. */
  current_profile?: string;
  profiles: Record<string, Profile>;
}

export interface ConnectionSettings {
  apiUrl: string;
  apiKey: string | undefined;
  profile: string;
  /** Where each value came from, for `--verbose` and error hints. */
  sources: { apiUrl: 'flag' | 'env' | 'profile' | 'default'; apiKey: 'flag' | 'env' | 'profile' | 'none' };
}

interface Env {
  [name: string]: string | undefined;
}

/** Path of the config file for this environment. */
export function configPath(env: Env, homeDir: string): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.length > 0 ? env.XDG_CONFIG_HOME : join(homeDir, '.config');
  return join(base, 'flagscope', 'config.json');
}

/** Default data directory of `flagscope serve`. */
export function defaultDataDir(env: Env, homeDir: string): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.length > 0 ? env.XDG_DATA_HOME : join(homeDir, '.local', 'share');
  return join(base, 'flagscope');
}

/** Reads the config file; a missing file is an empty config, a corrupt one an error. */
export async function readConfig(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw new FlagscopeError('invalid_input', `cannot read config file ${path}: ${(e as Error).message}`, 'check the file permissions');
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    const obj = parsed as Partial<ConfigFile>;
    const profiles = typeof obj.profiles === 'object' && obj.profiles !== null ? obj.profiles : {};
    const out: ConfigFile = { profiles };
    if (typeof obj.current_profile === 'string') out.current_profile = obj.current_profile;
    return out;
  } catch (e) {
    throw new FlagscopeError(
      'invalid_input',
      `config file ${path} is not valid JSON: ${(e as Error).message}`,
      'fix or delete the file; `flagscope serve` writes a new one on first start',
    );
  }
}

/** Writes the config file atomically with mode 0600. */
export async function writeConfig(path: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** Sets fields of one profile, keeping the rest of the file. */
export async function updateProfile(path: string, name: string, patch: Profile, makeCurrent = false): Promise<void> {
  const config = await readConfig(path);
  config.profiles[name] = { ...config.profiles[name], ...patch };
  if (makeCurrent || config.current_profile === undefined) config.current_profile = name;
  await writeConfig(path, config);
}

/** Resolves URL, key and profile by the precedence flag > env > profile > default. */
export function resolveConnection(
  flags: { apiUrl?: string | undefined; apiKey?: string | undefined; profile?: string | undefined },
  env: Env,
  config: ConfigFile,
): ConnectionSettings {
  const profileName = flags.profile ?? nonEmpty(env.FLAGSCOPE_PROFILE) ?? config.current_profile ?? DEFAULT_PROFILE;
  const explicitProfile = flags.profile !== undefined || nonEmpty(env.FLAGSCOPE_PROFILE) !== undefined;
  const profile = config.profiles[profileName];
  if (explicitProfile && profile === undefined) {
    const known = Object.keys(config.profiles);
    throw new FlagscopeError(
      'usage',
      `profile "${profileName}" is not in the config file`,
      known.length > 0 ? `use one of: ${known.join(', ')}` : 'start `flagscope serve` once to create the default profile',
    );
  }
  let apiUrl: string;
  let urlSource: ConnectionSettings['sources']['apiUrl'];
  if (flags.apiUrl !== undefined) [apiUrl, urlSource] = [flags.apiUrl, 'flag'];
  else if (nonEmpty(env.FLAGSCOPE_API_URL) !== undefined) [apiUrl, urlSource] = [env.FLAGSCOPE_API_URL as string, 'env'];
  else if (profile?.api_url !== undefined) [apiUrl, urlSource] = [profile.api_url, 'profile'];
  else [apiUrl, urlSource] = [DEFAULT_API_URL, 'default'];

  let apiKey: string | undefined;
  let keySource: ConnectionSettings['sources']['apiKey'];
  if (flags.apiKey !== undefined) [apiKey, keySource] = [flags.apiKey, 'flag'];
  else if (nonEmpty(env.FLAGSCOPE_API_KEY) !== undefined) [apiKey, keySource] = [env.FLAGSCOPE_API_KEY, 'env'];
  else if (profile?.api_key !== undefined) [apiKey, keySource] = [profile.api_key, 'profile'];
  else [apiKey, keySource] = [undefined, 'none'];

  try {
    const u = new URL(apiUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new FlagscopeError('usage', `API URL "${apiUrl}" (from ${urlSource}) is not an http(s) URL`, 'pass `--api-url http://HOST:PORT`');
  }
  return { apiUrl: apiUrl.replace(/\/+$/, ''), apiKey, profile: profileName, sources: { apiUrl: urlSource, apiKey: keySource } };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.length === 0 ? undefined : s;
}
