import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configPath, readConfig, resolveConnection, updateProfile, DEFAULT_API_URL } from '../../src/config/config.js';

const config = {
  current_profile: 'default',
  profiles: { default: { api_url: 'http://127.0.0.1:9000', api_key: 'k-profile' }, prod: { api_url: 'http://prod:1' } },
};

describe('resolveConnection', () => {
  it('prefers flag over env over profile over default', () => {
    const env = { FLAGSCOPE_API_URL: 'http://env:1', FLAGSCOPE_API_KEY: 'k-env' };
    expect(resolveConnection({ apiUrl: 'http://flag:1', apiKey: 'k-flag' }, env, config)).toMatchObject({
      apiUrl: 'http://flag:1',
      apiKey: 'k-flag',
    });
    expect(resolveConnection({}, env, config)).toMatchObject({ apiUrl: 'http://env:1', apiKey: 'k-env' });
    expect(resolveConnection({}, {}, config)).toMatchObject({ apiUrl: 'http://127.0.0.1:9000', apiKey: 'k-profile' });
    expect(resolveConnection({}, {}, { profiles: {} })).toMatchObject({ apiUrl: DEFAULT_API_URL, apiKey: undefined });
  });

  it('selects a profile by flag or environment', () => {
    expect(resolveConnection({ profile: 'prod' }, {}, config).apiUrl).toBe('http://prod:1');
    expect(resolveConnection({}, { FLAGSCOPE_PROFILE: 'prod' }, config).apiUrl).toBe('http://prod:1');
  });

  it('refuses an unknown explicit profile and a non-http URL', () => {
    expect(() => resolveConnection({ profile: 'nope' }, {}, config)).toThrow(/profile "nope"/);
    expect(() => resolveConnection({ apiUrl: 'ftp://x' }, {}, config)).toThrow(/not an http/);
  });
});

describe('config file', () => {
  it('is written with mode 0600 and keeps other profiles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-config-'));
    const path = configPath({ XDG_CONFIG_HOME: dir }, '/nonexistent');
    await updateProfile(path, 'other', { api_url: 'http://a:1' });
    await updateProfile(path, 'default', { api_url: 'http://b:2', api_key: 'secret' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const read = await readConfig(path);
    expect(read.profiles.other?.api_url).toBe('http://a:1');
    expect(read.profiles.default?.api_key).toBe('secret');
    expect(JSON.parse(await readFile(path, 'utf8')).current_profile).toBe('other');
  });

  it('treats a missing file as empty and a corrupt one as an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-config-'));
    expect(await readConfig(join(dir, 'none.json'))).toEqual({ profiles: {} });
  });
});
