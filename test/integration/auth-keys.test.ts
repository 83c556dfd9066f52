/**
 * Keys and logins against the real server (free loopback port, temporary data and config
 * directories), issue 11: `GET /api/v1/whoami` for any valid key, a duplicate valid key name
 * refused with 409 `name_taken`, revoking a revoked key saying when it was, `serve --profile P`
 * on an existing data directory saying what it does to the profile, `help NOSUCH`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { createMemoryContext } from '../support/memory-context.js';

let dir: string;
let server: RunningServer;
let admin: string;

async function api(method: string, path: string, key: string | null, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function cli(argv: string[], env: Record<string, string> = {}) {
  const ctx = createMemoryContext({
    env: { XDG_CONFIG_HOME: join(dir, 'xdg-none'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: admin, ...env },
  });
  const code = await runCli(argv, ctx);
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-auth-keys-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  admin = server.adminKey as string;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /api/v1/whoami', () => {
  it('answers any valid key about itself, whatever its scopes, and never with the secret', async () => {
    const created = await api('POST', '/api/v1/keys', admin, { name: 'oncall', scopes: ['killswitch'] });
    expect(created.status).toBe(201);
    const me = await api('GET', '/api/v1/whoami', created.json.key);
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      key: { id: created.json.id, name: 'oncall', scopes: ['killswitch'], created_at: created.json.created_at, created_by: 'admin' },
    });
    expect(JSON.stringify(me.json)).not.toContain(created.json.key);
    expect((await api('GET', '/api/v1/whoami', admin)).json.key.name).toBe('admin');
  });

  it('refuses no key and a revoked key with 401', async () => {
    expect((await api('GET', '/api/v1/whoami', null)).status).toBe(401);
    const created = await api('POST', '/api/v1/keys', admin, { name: 'short-lived', scopes: ['query'] });
    await api('DELETE', `/api/v1/keys/${created.json.id}`, admin);
    const r = await api('GET', '/api/v1/whoami', created.json.key);
    expect([r.status, r.json.error.code]).toEqual([401, 'unauthenticated']);
  });
});

describe('key names and revocation', () => {
  it('refuses a second valid key of the same name with 409 name_taken, and creates nothing', async () => {
    const first = await api('POST', '/api/v1/keys', admin, { name: 'ci', scopes: ['ingest'] });
    expect(first.status).toBe(201);
    const before = (await api('GET', '/api/v1/keys', admin)).json.keys.length;
    const second = await api('POST', '/api/v1/keys', admin, { name: ' ci ', scopes: ['query'] });
    expect(second.status).toBe(409);
    expect(second.json.error).toMatchObject({ code: 'name_taken', details: { name: 'ci', id: first.json.id } });
    expect(second.json.error.message).toContain('already named "ci"');
    expect(second.json.error.hint).toContain('revoke');
    expect((await api('GET', '/api/v1/keys', admin)).json.keys.length).toBe(before);

    const cliRun = await cli(['keys', 'create', '--name', 'ci', '--scope', 'query']);
    expect(cliRun.code).toBe(6);
    expect(cliRun.stderr).toContain('a valid API key is already named "ci"');
  });

  it('lets the name of a revoked key be used again', async () => {
    const old = await api('POST', '/api/v1/keys', admin, { name: 'deploy', scopes: ['ingest'] });
    await api('DELETE', `/api/v1/keys/${old.json.id}`, admin);
    expect((await api('POST', '/api/v1/keys', admin, { name: 'deploy', scopes: ['ingest'] })).status).toBe(201);
  });

  it('says a revoked key was already revoked, and when, changing nothing (exit 0)', async () => {
    const key = await api('POST', '/api/v1/keys', admin, { name: 'laptop', scopes: ['query'] });
    const first = await api('DELETE', `/api/v1/keys/${key.json.id}`, admin);
    expect(first.json).toMatchObject({ already_revoked: false, revoked_at: expect.any(Number) });
    const again = await api('DELETE', `/api/v1/keys/${key.json.id}`, admin);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ already_revoked: true, revoked_at: first.json.revoked_at });

    const byName = await cli(['keys', 'revoke', 'laptop']);
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe(
      `${key.json.id} "laptop" was already revoked at ${new Date(first.json.revoked_at).toISOString().replace(/\.000Z$/, 'Z')}; nothing changed\n`,
    );
  });
});

describe('serve --profile P on an existing data directory', () => {
  it('saves the URL to a new profile and says a login is needed', async () => {
    const dataDir = join(dir, 'existing');
    const xdg = join(dir, 'xdg-serve');
    const first = await startServer({ port: 0, dataDir });
    await first.close();
    const ctx = createMemoryContext({ env: { XDG_CONFIG_HOME: xdg } });
    const running = runCli(['serve', '--port', '0', '--data-dir', dataDir, '--profile', 'demo'], ctx);
    const out = await ctx.waitForStdout((t) => t.includes('listening on'));
    const url = /listening on (\S+)/.exec(out)?.[1];
    ctx.raiseSignal('SIGTERM');
    expect(await running).toBe(0);
    const config = JSON.parse(await readFile(join(xdg, 'flagscope', 'config.json'), 'utf8'));
    expect(config.profiles.demo).toEqual({ api_url: url });
    expect(ctx.stderrText()).toContain(`saved the server URL to profile "demo"`);
    expect(ctx.stderrText()).toContain('flagscope auth login --profile demo');
  });
});

describe('help', () => {
  it('says a help topic is an unknown command, with exit 2 and no general help', async () => {
    const r = await cli(['help', 'nosuch']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error: unknown command 'nosuch'\nhint: run `flagscope --help`\n" });
    const typo = await cli(['help', 'flags', 'histroy']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'histroy' for 'flagscope flags'");
    expect(typo.stderr).toContain('did you mean history?');
    const known = await cli(['help', 'auth', 'login']);
    expect(known.code).toBe(0);
    expect(known.stdout).toContain('Usage: flagscope auth login');
    const group = await cli(['help', 'flags']);
    expect([group.code, group.stdout]).toEqual([0, expect.stringContaining('Usage: flagscope flags')]);
  });
});
