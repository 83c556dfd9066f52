/**
 * `flagscope serve`'s store options through bin/flagscope: `--check-stores` on the default and on
 * PostgreSQL, bad store URLs refused with where they came from, and `--migrate-from duckdb:DIR`
 * moving an embedded installation's flags (every version, history, presses), keys (by hash,
 * revoked ones revoked), canaries and beacon settings into PostgreSQL, refusing a second time.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { KeyService } from '../../src/server/keys/key-service.js';
import { openStores } from '../../src/store/factory.js';
import { type PostgresCluster, postgresUnavailable, startPostgres } from '../support/postgres.js';

const bin = fileURLToPath(new URL('../../bin/flagscope', import.meta.url));
const unavailable = postgresUnavailable();
let home: string;
let cluster: PostgresCluster | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'flagscope-serve-stores-'));
  if (unavailable === undefined) cluster = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cluster?.stop();
  await rm(home, { recursive: true, force: true });
});

function flagscope(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), FLAGSCOPE_PROFILE: '', CI: '1', ...env },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('serve --check-stores and store URLs', () => {
  it('reports the default stores in the data directory, as text and JSON, and exits 0', () => {
    const text = flagscope(['serve', '--data-dir', join(home, 'check'), '--check-stores']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^control store: duckdb duckdb:.*check \(from the data directory\): reachable, schema up to date$/m);
    expect(text.stdout).toMatch(/config version 0; 0 flags; 0 API keys \(0 valid\); 0 canaries/);
    const json = flagscope(['serve', '--data-dir', join(home, 'check'), '--check-stores', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      control: { engine: 'duckdb', flags: 0, controllerLease: null },
      events: { engine: 'duckdb', datasets: 0 },
    });
  });

  it('refuses a bad URL before opening anything, naming where it came from', () => {
    const fromEnv = flagscope(['serve', '--data-dir', join(home, 'bad'), '--check-stores'], { FLAGSCOPE_CONTROL_STORE: 'mysql://db/x' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/unknown control store engine "mysql" in `mysql:\/\/db\/x` \(from FLAGSCOPE_CONTROL_STORE\)/);
    const events = flagscope(['serve', '--event-store', 'postgres://u:secret@db/x', '--check-stores']);
    expect(events.code).toBe(2);
    expect(events.stderr).toMatch(/unknown event store engine "postgres" in `postgres:\/\/u:\*\*\*@db\/x` \(from --event-store\)/);
    expect(events.stderr).not.toMatch(/secret/);
  });

  it("puts the events in ClickHouse's engine (chdb:DIR) beside a DuckDB control store", () => {
    const check = flagscope([
      'serve',
      '--data-dir',
      join(home, 'check-ch'),
      '--event-store',
      `chdb:${join(home, 'chdb')}`,
      '--check-stores',
      '--json',
    ]);
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ control: { engine: 'duckdb' }, events: { engine: 'chdb', datasets: 0 } });
    const bad = flagscope(['serve', '--event-store', 'clickhouse://u:secret@/db', '--check-stores']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a ClickHouse URL/);
    expect(bad.stderr).not.toMatch(/secret/);
  });

  it('takes the stores from the profile setting', () => {
    const set = flagscope(['config', 'set', 'event_store', `duckdb:${join(home, 'from-profile')}`]);
    expect(set.code, set.stderr).toBe(0);
    expect(flagscope(['config', 'get', 'event_store']).stdout.trim()).toBe(`duckdb:${join(home, 'from-profile')}`);
    const check = flagscope(['serve', '--data-dir', join(home, 'check'), '--check-stores']);
    expect(check.stdout).toMatch(/event store: duckdb duckdb:.*from-profile \(from event_store of profile "default"\)/);
    expect(flagscope(['config', 'set', 'control_store', 'mysql://x']).code).toBe(2);
  });
});

describe.skipIf(unavailable !== undefined)('serve --migrate-from duckdb:DIR', () => {
  it('copies flags with every version and their history, keys by hash, canaries and beacon settings; refuses a second time', {
    timeout: 90_000,
  }, async () => {
    // The embedded installation: a release flag edited twice, a kill switch pressed, a key revoked, beacon settings.
    const source = join(home, 'embedded');
    const stores = await openStores(`duckdb:${source}`);
    const keys = await KeyService.open(stores.control, Date.now);
    const admin = (await keys.bootstrapAdminKey()) as string;
    const reader = await keys.create({ name: 'reader', scopes: ['flags:read'] }, 'admin');
    const gone = await keys.create({ name: 'gone', scopes: ['flags:read'] }, 'admin');
    await keys.revoke(gone.id, undefined);
    keys.close();
    const flags = await FlagService.open(stores.control.flagStore(), Date.now);
    await flags.create(
      { key: 'checkout_v2', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'off' },
      'ana',
      'new',
    );
    await flags.update('checkout_v2', 1, { description: 'the new checkout' }, 'merge', 'bob', 'say what it is');
    await flags.setRollout('checkout_v2', { on: 25, off: 75 }, 2, 'ana', 'ramp');
    await flags.create(
      {
        key: 'payments_off',
        service: 'checkout',
        kind: 'kill-switch',
        variants: { live: true, off: false },
        defaultVariant: 'live',
        safeVariant: 'off',
      },
      'ana',
      'switch',
    );
    await flags.killSwitch('press', 'payments_off', 'carol', 'provider down');
    const history = await flags.history('checkout_v2');
    flags.close();
    await stores.control.beaconSettingsStore().saveBeaconSettings('web', '{"allowedOrigins":["https://shop.example"]}');
    await stores.control.canaryStore().saveCanary({ id: 'checkout_v2@1', flag: 'checkout_v2', revision: 3, body: '{"x":1}' }, null);
    await stores.close();

    const url = await cluster!.createDatabase('migrated');
    const noPg = flagscope(['serve', '--migrate-from', `duckdb:${source}`, '--data-dir', join(home, 'elsewhere')]);
    expect(noPg.code).toBe(2);
    expect(noPg.stderr).toMatch(/pass `--control-store postgres:\/\/…`/);

    const moved = flagscope(['serve', '--control-store', url, '--migrate-from', `duckdb:${source}`, '--json']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      flags: 2,
      flagChanges: 5,
      apiKeys: 3,
      revokedApiKeys: 1,
      canaries: 1,
      beaconSettings: 1,
    });
    const again = flagscope(['serve', '--control-store', url, '--migrate-from', `duckdb:${source}`]);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/already holds data .*nothing was copied/);

    // A server over the PostgreSQL store: the same flags, history, presses and keys.
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--port', '0', '--control-store', url, '--event-store', `duckdb:${join(home, 'events')}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config-pg'), FLAGSCOPE_PROFILE: '', CI: '1' },
      },
    );
    children.push(child);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const base = await new Promise<string>((resolve) =>
      lines.on('line', (line) => /^flagscope listening on (\S+)$/.exec(line)?.[1] && resolve(line.split(' ').at(-1)!)),
    );
    const get = async (path: string, key = admin) => {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect((await get('/api/v1/flags/checkout_v2')).body.flag).toMatchObject({ version: 3, description: 'the new checkout' });
    // The same entries, newest first; only the config versions are the new store's own (keys and flags share one sequence).
    const strip = (entries: unknown) => (entries as Array<Record<string, unknown>>).map(({ configVersion: _, ...rest }) => rest);
    expect(strip((await get('/api/v1/flags/checkout_v2/history')).body.history)).toEqual(strip(history));
    expect((await get('/api/v1/flags/payments_off')).body.flag).toMatchObject({ pressed: { by: 'carol', reason: 'provider down' } });
    expect((await get('/api/v1/whoami', reader.key)).status).toBe(200);
    expect((await get('/api/v1/whoami', gone.key)).status).toBe(401);
    child.kill('SIGTERM');
  });
});
