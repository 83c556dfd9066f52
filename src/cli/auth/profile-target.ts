/**
 * Which profile a command that writes the config file acts on, and the masked
 * form of a key for display. Unlike `resolveConnection`, a profile named by
 * `--profile` need not exist yet: `auth login` and `config set` create it.
 */
import { type ConfigFile, DEFAULT_API_URL, DEFAULT_PROFILE } from '../../config/config.js';
import { FlagscopeError } from '../../errors.js';

/** Profile names: what a person would type, so `config set` cannot make an unusable one. */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The profile name by `--profile` > `FLAGSCOPE_PROFILE` > the file's current profile > `default`. */
export function targetProfile(flag: string | undefined, env: Record<string, string | undefined>, config: ConfigFile): string {
  const envProfile = env.FLAGSCOPE_PROFILE !== undefined && env.FLAGSCOPE_PROFILE !== '' ? env.FLAGSCOPE_PROFILE : undefined;
  const name = flag ?? envProfile ?? config.current_profile ?? DEFAULT_PROFILE;
  checkProfileName(name);
  return name;
}

/** Throws a usage error unless `name` is a valid profile name. */
export function checkProfileName(name: string): void {
  if (!PROFILE_NAME.test(name)) {
    throw new FlagscopeError(
      'usage',
      `"${name}" is not a valid profile name`,
      'use 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    );
  }
}

/** The API URL by `--api-url` > `FLAGSCOPE_API_URL` > the profile's > default, checked and without trailing slashes. */
export function targetApiUrl(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  config: ConfigFile,
  profile: string,
): string {
  const envUrl = env.FLAGSCOPE_API_URL !== undefined && env.FLAGSCOPE_API_URL !== '' ? env.FLAGSCOPE_API_URL : undefined;
  return checkApiUrl(flag ?? envUrl ?? config.profiles[profile]?.api_url ?? DEFAULT_API_URL);
}

/** The URL without trailing slashes; a usage error unless it is an http(s) URL. */
export function checkApiUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new FlagscopeError('usage', `API URL "${url}" is not an http(s) URL`, 'give one like http://127.0.0.1:7070');
  }
  return url.replace(/\/+$/, '');
}

/** A key as it may be shown: its first 8 and last 4 characters (`fsk_Z6Q3…AX_E`). */
export function maskApiKey(key: string): string {
  return key.length <= 16 ? '…' : `${key.slice(0, 8)}…${key.slice(-4)}`;
}
