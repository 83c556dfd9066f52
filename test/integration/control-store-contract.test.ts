/**
 * The control store's contract, run against both engines: DuckDB (embedded, a temporary
 * directory) and PostgreSQL (a throwaway cluster, a fresh database per test). Then what only
 * PostgreSQL does: several stores (replicas) over one database racing writes, hearing each
 * other's changes through LISTEN/NOTIFY, the poll fallback, and a reconnect after the LISTEN
 * backend is killed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import type { Flag } from '../../src/flags/model.js';
import { openControlStoreAt } from '../../src/store/factory.js';
import {
  checkPostgresControlStore,
  openPostgresControlStore,
  POSTGRES_SCHEMA_VERSION,
  type PostgresControlStore,
} from '../../src/store/postgres/control-store.js';
import { CONFIG_WRITE_LOCK, LOCK_CLASS, MIGRATIONS } from '../../src/store/postgres/schema.js';
import type { ControlChangeNotice, ControlStore, FlagChange, NewApiKey } from '../../src/store/types.js';
import { type PostgresCluster, postgresUnavailable, startPostgres } from '../support/postgres.js';

const unavailable = postgresUnavailable();
let cluster: PostgresCluster | undefined;
let databases = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  if (unavailable === undefined) cluster = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await cluster?.stop();
});

/** A fresh PostgreSQL database's URL. */
async function freshDatabase(): Promise<string> {
  if (cluster === undefined) throw new Error('no PostgreSQL cluster');
  databases += 1;
  return cluster.createDatabase(`contract_${databases}`);
}

/** Opens a PostgreSQL store that the file's cleanup closes. */
async function openPg(
  url: string,
  options: { pollMs?: number; reconnectMs?: number; log?: (line: string) => void } = {},
): Promise<PostgresControlStore> {
  const store = await openPostgresControlStore({ url, pollMs: 0, ...options });
  cleanups.push(() => store.close());
  return store;
}

interface Engine {
  name: string;
  skip: string | undefined;
  /** A store over a fresh, empty location. */
  open(): Promise<ControlStore>;
}

const engines: Engine[] = [
  {
    name: 'duckdb',
    skip: undefined,
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'flagscope-contract-'));
      const store = await openControlStoreAt(`duckdb:${dir}`);
      cleanups.push(async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      });
      return store;
    },
  },
  {
    name: 'postgres',
    skip: unavailable,
    async open() {
      const store = await openControlStoreAt(await freshDatabase(), { pollMs: 0 });
      cleanups.push(() => store.close());
      return store;
    },
  },
];

function newKey(name: string, n: number): NewApiKey {
  return {
    id: `k${n}`,
    name,
    hash: `hash-${n}`,
    scopes: ['flags:read', 'flags:write'],
    created_at: 1_700_000_000_000 + n,
    created_by: null,
  };
}

function flag(key: string, version: number, extra: Partial<Flag> = {}): Flag {
  return {
    key,
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    state: 'enabled',
    version,
    createdBy: 'alice',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedBy: 'alice',
    updatedAt: '2026-01-01T00:00:00.000Z',
    archived: false,
    ...extra,
  } as Flag;
}

function create(key: string, at = 1000): FlagChange {
  return { action: 'create', before: null, after: flag(key, 1), who: 'alice', why: '', at };
}

function edit(before: Flag, changes: Partial<Flag> = {}, action: FlagChange['action'] = 'update', why = 'because'): FlagChange {
  return { action, before, after: { ...before, ...changes, version: before.version + 1 }, who: 'bob', why, at: 2000 + before.version };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<FlagscopeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlagscopeError);
  expect((error as FlagscopeError).code).toBe(code);
  return error as FlagscopeError;
}

/** Resolves with the first notice `listen` delivers that satisfies `test`. */
function nextNotice(store: ControlStore, test: (notice: ControlChangeNotice) => boolean): Promise<ControlChangeNotice> {
  return new Promise((resolve) => {
    const stop = store.listen((notice) => {
      if (!test(notice)) return;
      stop();
      resolve(notice);
    });
  });
}

describe.each(engines)('the control store contract on $name', (engine) => {
  const run = engine.skip === undefined ? it : it.skip;

  run('creates, lists and revokes API keys, on the change feed', async () => {
    const store = await engine.open();
    expect(await store.currentVersion()).toBe(0);
    const a = await store.createApiKey(newKey('ci', 1));
    expect(a).toMatchObject({ id: 'k1', name: 'ci', revoked_at: null, configVersion: 1, scopes: ['flags:read', 'flags:write'] });
    await expectCode(store.createApiKey(newKey('other', 1)), 'conflict');
    await expectCode(store.createApiKey({ ...newKey('ci', 2) }), 'name_taken');
    const b = await store.createApiKey(newKey('deploy', 2));
    expect(b.configVersion).toBe(2);
    expect((await store.listApiKeys()).map((k) => k.id)).toEqual(['k1', 'k2']);

    const revoked = await store.revokeApiKey('k1', 5000.7);
    expect(revoked).toMatchObject({ id: 'k1', revoked_at: 5000, configVersion: 3 });
    expect(await store.revokeApiKey('k1', 9000)).toMatchObject({ revoked_at: 5000, configVersion: 3 });
    expect(await store.revokeApiKey('nope', 9000)).toBeUndefined();
    expect(await store.currentVersion()).toBe(3);
    // The name is free again once its key is revoked.
    expect((await store.createApiKey(newKey('ci', 3))).configVersion).toBe(4);

    const changes = await store.changesSince(0);
    expect(changes.map((c) => [c.kind, c.configVersion])).toEqual([
      ['key', 2],
      ['key', 3],
      ['key', 4],
    ]);
    expect(await store.changesSince(3)).toHaveLength(1);
    expect(await store.changesSince(4)).toEqual([]);
  });

  run('commits flags with compare-and-set on their version, with history and presses', async () => {
    const store = await engine.open();
    const flags = store.flagStore();
    expect(await flags.loadFlags()).toEqual({ flags: [], configVersion: 0 });
    expect(await flags.commitFlagChanges([create('checkout.new'), create('search.v2')])).toBe(2);
    await expectCode(flags.commitFlagChanges([create('checkout.new')]), 'conflict');

    const v1 = flag('checkout.new', 1);
    expect(await flags.commitFlagChanges([edit(v1, { state: 'disabled' })])).toBe(3);
    const stale = await expectCode(flags.commitFlagChanges([edit(v1, { description: 'late' })]), 'conflict');
    expect(stale.message).toContain('version 2');
    // A commit is all or nothing: the second change conflicts, so the first is not written either.
    await expectCode(flags.commitFlagChanges([edit(flag('search.v2', 1)), edit(v1)]), 'conflict');
    expect(await store.currentVersion()).toBe(3);

    const v2 = flag('checkout.new', 2, { state: 'disabled' });
    await flags.commitFlagChanges([
      edit(v2, { pressed: { by: 'carol', at: '2026-01-02T00:00:00.000Z', reason: 'fire' } } as Partial<Flag>, 'press', 'fire'),
    ]);
    const loaded = await flags.loadFlags();
    expect(loaded.configVersion).toBe(4);
    expect(loaded.flags.map((f) => [f.key, f.version])).toEqual([
      ['checkout.new', 3],
      ['search.v2', 1],
    ]);
    const history = await flags.flagHistory('checkout.new', 10);
    expect(history.map((h) => [h.configVersion, h.action, h.version])).toEqual([
      [4, 'press', 3],
      [3, 'update', 2],
      [1, 'create', 1],
    ]);
    expect(history[1]).toMatchObject({ by: 'bob', reason: 'because', before: v1, at: new Date(2001).toISOString() });
    expect(await flags.flagHistory('checkout.new', 1)).toHaveLength(1);
    const presses = await flags.lastPresses();
    expect([...presses.entries()]).toEqual([['checkout.new', { by: 'bob', reason: 'fire', at: new Date(2002).toISOString() }]]);

    const feed = await flags.changesSince(2);
    expect(feed.map((c) => (c.kind === 'flag' ? [c.configVersion, c.change.action, c.change.after.version] : c.kind))).toEqual([
      [3, 'update', 2],
      [4, 'press', 3],
    ]);
  });

  run('tells its listeners of every commit, with the changes, and the version only rises', async () => {
    const store = await engine.open();
    const notices: ControlChangeNotice[] = [];
    const stop = store.listen((notice) => notices.push(notice));
    const versions: number[] = [await store.currentVersion()];
    await store.createApiKey(newKey('a', 1));
    versions.push(await store.currentVersion());
    await store.flagStore().commitFlagChanges([create('x'), create('y')]);
    versions.push(await store.currentVersion());
    await store.revokeApiKey('k1', 1);
    versions.push(await store.currentVersion());
    stop();
    await store.createApiKey(newKey('b', 2));
    expect(versions).toEqual([0, 1, 3, 4]);
    const withChanges = notices.filter((n) => n.changes !== undefined);
    expect(withChanges.map((n) => [n.configVersion, n.changes?.map((c) => c.configVersion)])).toEqual([
      [1, [1]],
      [3, [2, 3]],
      [4, [4]],
    ]);
    expect(notices.every((n) => n.configVersion <= 4)).toBe(true);
  });

  run('saves canaries only over the revision the writer read', async () => {
    const store = await engine.open();
    const canaries = store.canaryStore();
    await canaries.saveCanary({ id: 'c1', flag: 'checkout.new', revision: 1, body: '{"step":0}' }, null);
    await canaries.saveCanary({ id: 'c2', flag: 'search.v2', revision: 1, body: '{"step":0}' }, null);
    await expectCode(canaries.saveCanary({ id: 'c1', flag: 'checkout.new', revision: 1, body: '{}' }, null), 'conflict');
    await canaries.saveCanary({ id: 'c1', flag: 'checkout.new', revision: 2, body: '{"step":1}' }, 1);
    await expectCode(canaries.saveCanary({ id: 'c1', flag: 'checkout.new', revision: 3, body: '{"step":9}' }, 1), 'conflict');
    await expectCode(canaries.saveCanary({ id: 'c9', flag: 'x', revision: 2, body: '{}' }, 1), 'conflict');
    expect(await canaries.listCanaries()).toEqual([
      { id: 'c1', flag: 'checkout.new', revision: 2, body: '{"step":1}' },
      { id: 'c2', flag: 'search.v2', revision: 1, body: '{"step":0}' },
    ]);
  });

  run('keeps one beacon settings row per dataset', async () => {
    const store = await engine.open();
    const settings = store.beaconSettingsStore();
    await settings.saveBeaconSettings('web', '{"origins":["https://a"]}');
    await settings.saveBeaconSettings('api', '{"origins":[]}');
    await settings.saveBeaconSettings('web', '{"origins":["https://b"]}');
    expect(await settings.listBeaconSettings()).toEqual([
      { dataset: 'api', body: '{"origins":[]}' },
      { dataset: 'web', body: '{"origins":["https://b"]}' },
    ]);
  });
});

describe('openControlStoreAt', () => {
  it('refuses a URL it cannot open, saying which form to use', async () => {
    const bare = await expectCode(openControlStoreAt('postgres:flagscope'), 'usage');
    expect(bare.hint).toContain('postgres://');
    const unknown = await expectCode(openControlStoreAt('mysql://db/flagscope'), 'usage');
    expect(unknown.message).toContain('mysql');
  });
});

describe.skipIf(unavailable !== undefined)('PostgreSQL: several replicas over one database', () => {
  it('three stores opening a fresh database at once migrate it exactly once', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([openPg(url), openPg(url), openPg(url)]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const applied = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(applied.rows.map((r) => r.version)).toEqual(Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1));
    } finally {
      await client.end();
    }
    await stores[0]?.createApiKey(newKey('ci', 1));
    expect((await stores[2]?.listApiKeys())?.map((k) => k.id)).toEqual(['k1']);
    const check = await checkPostgresControlStore(url);
    expect(check).toMatchObject({
      schemaVersion: { from: POSTGRES_SCHEMA_VERSION, to: POSTGRES_SCHEMA_VERSION },
      configVersion: 1,
      apiKeys: 1,
      validApiKeys: 1,
      flags: 0,
      canaries: 0,
    });
  });

  it('a reader following changesSince while three stores write at once never skips a change', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([openPg(url), openPg(url), openPg(url)]);
    const reader = await openPg(url);
    const seen: number[] = [];
    let reached = 0;
    let writing = true;
    const follow = (async () => {
      while (writing || reached < (await reader.currentVersion())) {
        const changes = await reader.changesSince(reached);
        for (const change of changes) seen.push(change.configVersion);
        reached = changes.at(-1)?.configVersion ?? reached;
      }
    })();
    await Promise.all(
      Array.from({ length: 60 }, (_, n) => {
        const store = stores[n % 3] as PostgresControlStore;
        return n % 2 === 0 ? store.createApiKey(newKey(`key-${n}`, n)) : store.flagStore().commitFlagChanges([create(`flag-${n}`)]);
      }),
    );
    writing = false;
    await follow;
    // Keys appear at the version of their last change; none changed twice, so every version shows.
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('migrates a database left at an older schema version, keeping its data', async () => {
    const url = await freshDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // What an older flagscope left: the first two migrations and a key.
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const version of [1, 2]) {
        await client.query(MIGRATIONS[version - 1] as string);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      }
      await client.query(
        "INSERT INTO api_keys (id, name, hash, scopes, created_at, created_by, revoked_at) VALUES ('k1', 'old', 'h1', 'flags:read', 1, NULL, NULL)",
      );
    } finally {
      await client.end();
    }
    const check = await checkPostgresControlStore(url);
    expect(check).toMatchObject({ schemaVersion: { from: 2, to: POSTGRES_SCHEMA_VERSION }, apiKeys: 1, configVersion: 0 });
    const store = await openPg(url);
    expect((await store.listApiKeys()).map((k) => [k.id, k.configVersion])).toEqual([['k1', 0]]);
    expect((await store.createApiKey(newKey('new', 2))).configVersion).toBe(1);
  });

  it('of two stores writing the same flag version, exactly one wins', async () => {
    const url = await freshDatabase();
    const [x, y] = await Promise.all([openPg(url), openPg(url)]);
    if (x === undefined || y === undefined) throw new Error('stores not opened');
    await x.flagStore().commitFlagChanges([create('race')]);
    let current = flag('race', 1);
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled([
        x.flagStore().commitFlagChanges([edit(current, { description: `x${round}` })]),
        y.flagStore().commitFlagChanges([edit(current, { description: `y${round}` })]),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as FlagscopeError).code).toBe('conflict');
      current = (await y.flagStore().loadFlags()).flags[0] as Flag;
      expect(current.version).toBe(round + 2);
    }
    // No lost update and no gap: every commit is in the history, versions 1 to 11 in order.
    const history = await x.flagStore().flagHistory('race', 100);
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: 11 }, (_, i) => 11 - i));
    expect(history.map((h) => h.configVersion)).toEqual(Array.from({ length: 11 }, (_, i) => 11 - i));
  });

  it('concurrent read-modify-write edits from three stores lose no update', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([openPg(url), openPg(url), openPg(url)]);
    await stores[0]?.flagStore().commitFlagChanges([create('counter')]);
    let conflicts = 0;
    const editor = async (store: PostgresControlStore, n: number): Promise<void> => {
      for (;;) {
        const current = (await store.flagStore().loadFlags()).flags[0] as Flag;
        try {
          await store.flagStore().commitFlagChanges([edit(current, { description: `${current.description ?? ''}|${n}` })]);
          return;
        } catch (e) {
          if ((e as FlagscopeError).code !== 'conflict') throw e;
          conflicts += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: 30 }, (_, n) => editor(stores[n % 3] as PostgresControlStore, n)));
    const final = (await stores[1]?.flagStore().loadFlags())?.flags[0] as Flag;
    expect(final.version).toBe(31);
    expect(
      (final.description ?? '')
        .split('|')
        .filter((s) => s !== '')
        .sort((a, b) => Number(a) - Number(b)),
    ).toEqual(Array.from({ length: 30 }, (_, n) => String(n)));
    expect(conflicts).toBeGreaterThan(0);
  });

  it("a write through one store reaches another store's listeners, and its changesSince", async () => {
    const url = await freshDatabase();
    const [x, y] = await Promise.all([openPg(url), openPg(url)]);
    if (x === undefined || y === undefined) throw new Error('stores not opened');
    const heard = nextNotice(y, (n) => n.configVersion >= 1);
    await x.createApiKey(newKey('ci', 1));
    expect((await heard).configVersion).toBe(1);
    const pressHeard = nextNotice(y, (n) => n.configVersion >= 3);
    await x.flagStore().commitFlagChanges([create('f')]);
    await x.revokeApiKey('k1', 7);
    expect((await pressHeard).configVersion).toBe(3);
    const changes = await y.changesSince(1);
    expect(changes.map((c) => [c.kind, c.configVersion])).toEqual([
      ['flag', 2],
      ['key', 3],
    ]);
  });

  it('the poll finds a change whose notification was lost', async () => {
    const url = await freshDatabase();
    // A LISTEN connection that stays down (the reconnect waits a minute): only the poll can tell.
    const y = await openPg(url, { reconnectMs: 60_000 });
    const x = await openPg(url);
    await terminateListen(url, y);
    await x.createApiKey(newKey('ci', 1));
    const heard = nextNotice(y, (n) => n.configVersion >= 1);
    await y.pollNow();
    expect(await heard).toEqual({ configVersion: 1 });
  });

  it('after its LISTEN backend is killed, a store reconnects, reloads, and hears later changes', async () => {
    const url = await freshDatabase();
    const lines: string[] = [];
    const y = await openPg(url, { reconnectMs: 10, log: (line) => lines.push(line) });
    const x = await openPg(url);
    const before = y.listenPid;
    const reload = nextNotice(y, (n) => n.reload === true);
    await terminateListen(url, y);
    expect(await reload).toEqual({ configVersion: 0, reload: true });
    expect(y.listenPid).not.toBe(before);
    const heard = nextNotice(y, (n) => n.configVersion >= 1);
    await x.createApiKey(newKey('ci', 1));
    expect(await heard).toEqual({ configVersion: 1 });
    expect(lines.some((line) => line.includes('LISTEN connection') && line.includes('lost'))).toBe(true);
  });

  it('a database that cannot be reached gives an error naming it without its password, and what to do', async () => {
    const port = cluster?.port as number;
    const missing = await expectCode(
      openPostgresControlStore({ url: `postgres://postgres:s3cret@127.0.0.1:${port}/no_such_db` }),
      'unreachable',
    );
    expect(missing.message).toContain(`postgres://postgres:***@127.0.0.1:${port}/no_such_db`);
    expect(missing.message).not.toContain('s3cret');
    expect(missing.hint).toContain('create the database');
    // Port 1: nothing listens there, so the connection is refused.
    const refused = await expectCode(checkPostgresControlStore('postgresql://u:hunter2@127.0.0.1:1/db'), 'unreachable');
    expect(refused.message).not.toContain('hunter2');
    expect(refused.hint).toContain('running');
  });

  it('a write whose connection is killed fails naming the database without its password; the next one works', async () => {
    const url = (await freshDatabase()).replace('postgres@', 'postgres:pa55word@');
    const store = await openPg(url);
    await store.createApiKey(newKey('ci', 1));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Hold the config-write lock so the store's next write waits on it, then kill that backend.
      await admin.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, CONFIG_WRITE_LOCK]);
      const write = expectCode(store.createApiKey(newKey('deploy', 2)), 'server_error');
      let waiting: number | undefined;
      while (waiting === undefined) {
        const rows = await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = 'flagscope' AND wait_event_type = 'Lock' AND datname = current_database()",
        );
        waiting = rows.rows[0]?.pid;
      }
      await admin.query('SELECT pg_terminate_backend($1, 5000)', [waiting]);
      const failure = await write;
      expect(failure.message).toContain('postgres:***@');
      expect(failure.message).not.toContain('pa55word');
      await admin.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, CONFIG_WRITE_LOCK]);
    } finally {
      await admin.end();
    }
    expect((await store.createApiKey(newKey('deploy', 2))).configVersion).toBe(2);
    expect((await store.listApiKeys()).map((k) => k.id)).toEqual(['k1', 'k2']);
  });

  it('refuses a database migrated by a newer flagscope', async () => {
    const url = await freshDatabase();
    await checkPostgresControlStore(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [POSTGRES_SCHEMA_VERSION + 1]);
    await client.end();
    const error = await expectCode(openPostgresControlStore({ url }), 'usage');
    expect(error.message).toContain(`schema version ${POSTGRES_SCHEMA_VERSION + 1}`);
  });
});

/** Kills the LISTEN session of `store` from another connection and waits until the server has ended it. */
async function terminateListen(url: string, store: PostgresControlStore): Promise<void> {
  const pid = store.listenPid;
  if (pid === undefined) throw new Error('the store has no LISTEN session');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ ok: boolean }>('SELECT pg_terminate_backend($1, 5000) AS ok', [pid]);
    expect(result.rows[0]?.ok).toBe(true);
  } finally {
    await client.end();
  }
}
