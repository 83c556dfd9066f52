/**
 * End-to-end (issue 11, logging in like `gh`): the built `bin/flagscope` (run `npm run build`
 * first) logs in against a real server on a free port, with a temporary config directory:
 * `auth login --with-key` from stdin, the hidden prompt on a pseudo-terminal (`script`),
 * `auth status`, `auth logout`, `config get|set|list`, the file mode 0600, and refusals that
 * store nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/index.js';
import type { RunningServer } from '../../src/server/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'flagscope');

let server: RunningServer;
let dir: string;
let admin: string;
let opsKey: string;

async function flagscope(args: string[], xdg: string, input?: string, env: Record<string, string> = {}) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    input,
    env: { XDG_CONFIG_HOME: xdg, NO_COLOR: '1', ...env },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function configFile(
  xdg: string,
): Promise<{ current_profile?: string; profiles: Record<string, { api_url?: string; api_key?: string }> }> {
  return JSON.parse(await readFile(join(xdg, 'flagscope', 'config.json'), 'utf8'));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-e2e-auth-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  admin = server.adminKey ?? '';
  const res = await fetch(`${server.url}/api/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ops', scopes: ['query', 'flags:read'] }),
  });
  opsKey = ((await res.json()) as { key: string }).key;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('auth login, status, logout', () => {
  it('logs in with a key from stdin, shows who it is, and logs out', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    const login = await flagscope(['auth', 'login', '--with-key', '--api-url', server.url], xdg, `${opsKey}\n`);
    expect(login.exitCode, login.stderr).toBe(0);
    expect(login.stderr).toContain(`logged in to ${server.url} as key "ops"`);
    expect(login.stderr).not.toContain(opsKey);
    const file = join(xdg, 'flagscope', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await configFile(xdg)).toEqual({ current_profile: 'default', profiles: { default: { api_url: server.url, api_key: opsKey } } });

    const status = await flagscope(['auth', 'status'], xdg);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toContain('profile\tdefault\n');
    expect(status.stdout).toContain(`api_url\t${server.url}\n`);
    expect(status.stdout).toContain('key_name\tops\n');
    expect(status.stdout).toContain('scopes\tquery,flags:read\n');
    expect(status.stdout).not.toContain(opsKey);
    const json = JSON.parse((await flagscope(['auth', 'status', '--json'], xdg)).stdout);
    expect(json).toMatchObject({
      profile: 'default',
      api_url: server.url,
      key_source: 'profile',
      key: { name: 'ops', scopes: ['query', 'flags:read'] },
    });

    const logout = await flagscope(['auth', 'logout'], xdg);
    expect(logout.exitCode).toBe(0);
    expect(logout.stderr).toContain('removed the key');
    expect(await configFile(xdg)).toEqual({ current_profile: 'default', profiles: { default: { api_url: server.url } } });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const after = await flagscope(['auth', 'status'], xdg);
    expect(after.exitCode).toBe(4);
    expect(after.stderr).toContain('not logged in: profile "default" holds no API key');
  });

  it('refuses a wrong key with exit 4 and stores nothing', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    const wrong = `fsk_${'A'.repeat(43)}`;
    const r = await flagscope(['auth', 'login', '--with-key', '--api-url', server.url], xdg, wrong);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('refused the key');
    expect(r.stderr).toContain('nothing was saved');
    expect(await exists(join(xdg, 'flagscope', 'config.json'))).toBe(false);
    const garbage = await flagscope(['auth', 'login', '--with-key', '--api-url', server.url], xdg, 'hunter2');
    expect(garbage.exitCode).toBe(2);
    expect(garbage.stderr).toContain('not a flagscope API key');
    expect(await exists(join(xdg, 'flagscope', 'config.json'))).toBe(false);
  });

  it('fails at once with exit 2 without a terminal and without --with-key', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    const r = await flagscope(['auth', 'login', '--api-url', server.url], xdg, '');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no key to log in with: stdin is not a terminal');
    expect(r.stderr).toContain('--with-key');
    expect(await exists(join(xdg, 'flagscope', 'config.json'))).toBe(false);
  });

  it('reads the key at a hidden prompt on a terminal, with Enter pasted along', async () => {
    let hasScript = true;
    try {
      execFileSync('script', ['--version'], { stdio: 'ignore' });
    } catch {
      hasScript = false;
    }
    if (!hasScript) return;
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    const command = `${process.execPath} ${BIN} auth login --profile tty --api-url ${server.url}`;
    // `script` runs the command on a pseudo-terminal and forwards our stdin to it; the key is typed
    // (pasted with its Enter) once the prompt shows, as a person would.
    const child = execa('script', ['-q', '-e', '-c', command, '/dev/null'], {
      reject: false,
      stdin: 'pipe',
      env: { XDG_CONFIG_HOME: xdg, NO_COLOR: '1', PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm' },
      extendEnv: false,
    });
    let output = '';
    let typed = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (!typed && output.includes('(input hidden): ')) {
        typed = true;
        child.stdin?.write(`${opsKey}\r`);
      }
      if (output.includes('saved to profile') || output.includes('error:')) child.stdin?.end();
    });
    const r = await child;
    expect(r.exitCode, output).toBe(0);
    expect(output).toContain(`API key for ${server.url} (input hidden): `);
    expect(output).not.toContain(opsKey);
    expect(output).toContain('as key "ops"');
    expect((await configFile(xdg)).profiles.tty).toEqual({ api_url: server.url, api_key: opsKey });
  });
});

describe('config get, set, list', () => {
  it('switches the default profile and sets URLs without editing JSON', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    expect((await flagscope(['auth', 'login', '--with-key', '--api-url', server.url], xdg, admin)).exitCode).toBe(0);
    const second = await flagscope(['auth', 'login', '--with-key', '--api-url', server.url, '--profile', 'ops'], xdg, opsKey);
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toContain('flagscope config set current_profile ops');

    const list = await flagscope(['config', 'list'], xdg);
    expect(list.stdout).toBe(
      `default\ttrue\t${server.url}\t${admin.slice(0, 8)}…${admin.slice(-4)}\nops\tfalse\t${server.url}\t${opsKey.slice(0, 8)}…${opsKey.slice(-4)}\n`,
    );
    expect(list.stdout).not.toContain(opsKey);

    expect((await flagscope(['config', 'get', 'current_profile'], xdg)).stdout).toBe('default\n');
    const set = await flagscope(['config', 'set', 'current_profile', 'ops'], xdg);
    expect([set.exitCode, set.stderr]).toEqual([0, 'default profile is now "ops" (was "default")\n']);
    expect((await flagscope(['auth', 'status', '--json'], xdg)).stdout).toContain('"name": "ops"');
    expect((await flagscope(['config', 'get', 'api_key'], xdg)).stdout).toBe(`${opsKey.slice(0, 8)}…${opsKey.slice(-4)}\n`);

    const url = await flagscope(['config', 'set', 'api_url', 'http://127.0.0.1:1/', '--profile', 'staging'], xdg);
    expect(url.exitCode, url.stderr).toBe(0);
    expect((await flagscope(['config', 'get', 'api_url', '--profile', 'staging'], xdg)).stdout).toBe('http://127.0.0.1:1\n');
    expect((await configFile(xdg)).profiles.staging).toEqual({ api_url: 'http://127.0.0.1:1' });
    expect((await stat(join(xdg, 'flagscope', 'config.json'))).mode & 0o777).toBe(0o600);
  });

  it('refuses unknown settings and profiles, bad URLs and unchecked keys with exit 2, changing nothing', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    expect((await flagscope(['auth', 'login', '--with-key', '--api-url', server.url], xdg, admin)).exitCode).toBe(0);
    const before = await readFile(join(xdg, 'flagscope', 'config.json'), 'utf8');
    const cases: Array<[string[], string]> = [
      [['config', 'get', 'apiurl'], 'did you mean api_url?'],
      [['config', 'set', 'current_profile', 'nope'], 'profile "nope" is not in the config file'],
      [['config', 'set', 'api_url', 'ftp://x'], 'is not an http(s) URL'],
      [['config', 'set', 'api_key', 'fsk_x'], 'flagscope auth login'],
      [['config', 'get', 'api_url', '--profile', 'nope'], 'profile "nope" is not in the config file'],
    ];
    for (const [args, text] of cases) {
      const r = await flagscope(args, xdg);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(text);
    }
    expect(await readFile(join(xdg, 'flagscope', 'config.json'), 'utf8')).toBe(before);
  });
});

describe('flagscope keys create: a name a valid key already has', () => {
  it('exits 6 (conflict, HTTP 409 name_taken) as docs/cli.md says, with the code in --json errors, and creates nothing', async () => {
    const xdg = await mkdtemp(join(dir, 'xdg-'));
    const env = { FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: admin };
    const first = await flagscope(['keys', 'create', '--name', 'deployer', '--scope', 'ingest', '--json'], xdg, undefined, env);
    expect(first.exitCode).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ name: 'deployer', scopes: ['ingest'] });
    const deployers = async (): Promise<string[]> => {
      const listed = JSON.parse((await flagscope(['keys', 'list', '--json'], xdg, undefined, env)).stdout) as {
        keys: Array<{ id: string; name: string }>;
      };
      return listed.keys.filter((k) => k.name === 'deployer').map((k) => k.id);
    };
    const before = await deployers();
    expect(before).toHaveLength(1);

    const again = await flagscope(['keys', 'create', '--name', 'deployer', '--scope', 'query'], xdg, undefined, env);
    expect(again.exitCode).toBe(6);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/^error: a valid API key is already named "deployer"/);
    expect(again.stderr).toContain('hint: ');

    const json = await flagscope(['keys', 'create', '--name', 'deployer', '--scope', 'query', '--json'], xdg, undefined, env);
    expect(json.exitCode).toBe(6);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'name_taken', hint: expect.stringContaining('revoke') } });

    expect(await deployers()).toEqual(before);
  });
});
