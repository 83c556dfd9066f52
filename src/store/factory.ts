/**
 * Stores by URL: `openStores('duckdb:/var/lib/flagscope')` opens the event store and the
 * control store an engine keeps at that place. A later engine is a new scheme here and an
 * implementation beside `duckdb/`; nothing above the stores changes.
 *
 * URLs: `duckdb:DIR` (also `duckdb://DIR`): `DIR/events.duckdb` and `DIR/control.duckdb`,
 * the directory created when missing. The control store alone may also live in PostgreSQL:
 * `openControlStoreAt('postgres://…')`. The event store alone (`openEventStoreAt`) may also be
 * ClickHouse: `clickhouse://USER:PASSWORD@HOST:8123/DATABASE`, `clickhouses://…` (HTTPS), or
 * `chdb:DIR` (ClickHouse's engine in-process, for tests and benchmarks).
 */
import { FlagscopeError } from '../errors.js';
import type { ControlStore, EventStore } from './types.js';

/** The engines a store URL may name. */
export const STORE_ENGINES = ['duckdb'] as const;

/** Where the stores are, as a store URL names it. */
export interface StoreLocation {
  engine: (typeof STORE_ENGINES)[number];
  /** The data directory of a `duckdb:` URL. */
  dir: string;
}

/** The stores of one place, and how to close them both. */
export interface OpenedStores {
  events: EventStore;
  control: ControlStore;
  /** Finishes pending writes and closes both stores (never rejects; errors are settled). */
  close(): Promise<void>;
}

/** What the engines need besides the place. */
export interface OpenStoresOptions {
  /** Unix milliseconds (catalog timestamps). Default Date.now. */
  now?: () => number;
  /** Columns per dataset and the ingest queue's bound, enforced by the event store. */
  limits?: { maxColumnsPerDataset?: number; maxQueuedEvents?: number };
  /** Threads that scan large batch bodies (DuckDB's fast ingest path); 0: none. Default: the engine's. */
  ingestWorkers?: number;
  /** Batch bodies below this many bytes are parsed on the main thread. */
  ingestWorkerMinBytes?: number;
  /** Where the stores log what they recover from (a failed ingest worker). */
  log?: (line: string) => void;
  /** Read statements the event store runs at once (its reader connections). Default: the engine's. */
  readConnections?: number;
}

/** Reads a store URL; a usage error (exit 2) names what is wrong with it and the form to use. */
export function parseStoreUrl(url: string): StoreLocation {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(url);
  const hint = 'pass `--store duckdb:DIR`, e.g. `--store duckdb:./data`';
  if (match === null) throw new FlagscopeError('usage', `\`${url}\` is not a store URL`, hint);
  const engine = (match[1] as string).toLowerCase();
  if (!(STORE_ENGINES as readonly string[]).includes(engine)) {
    throw new FlagscopeError(
      'usage',
      `unknown store engine "${engine}" in \`${url}\``,
      `the engines are ${STORE_ENGINES.join(', ')}; ${hint}`,
    );
  }
  const rest = match[2] as string;
  const dir = rest.startsWith('//') ? rest.slice(2) : rest;
  if (dir.trim().length === 0) throw new FlagscopeError('usage', `store URL \`${url}\` names no directory`, hint);
  return { engine: 'duckdb', dir };
}

/** The store URL of a DuckDB data directory (the default of `flagscope serve`). */
export function duckdbStoreUrl(dir: string): string {
  return `duckdb:${dir}`;
}

/** Opens the event and control stores a store URL names; the caller owns them and closes them. */
export async function openStores(url: string, options: OpenStoresOptions = {}): Promise<OpenedStores> {
  const location = parseStoreUrl(url);
  return openStoresAt({ control: duckdbStoreUrl(location.dir), events: duckdbStoreUrl(location.dir) }, options);
}

/** Where the control store is: a DuckDB data directory, or a PostgreSQL database. */
export type ControlStoreLocation = { engine: 'duckdb'; dir: string } | { engine: 'postgres'; url: string };

/**
 * Where the event store is: a DuckDB data directory, a ClickHouse server (`clickhouse://`,
 * `clickhouses://`), or ClickHouse's engine in-process (`chdb:DIR`; no DIR: a new temporary one).
 */
export type EventStoreLocation =
  | { engine: 'duckdb'; dir: string }
  | { engine: 'clickhouse'; url: string }
  | { engine: 'chdb'; dir: string | undefined };

/** The URL forms `--control-store` and `--event-store` take. */
export const CONTROL_STORE_FORMS = 'duckdb:DIR or postgres://USER:PASSWORD@HOST:PORT/DATABASE';
export const EVENT_STORE_FORMS = 'duckdb:DIR, clickhouse://USER:PASSWORD@HOST:8123/DATABASE (clickhouses:// for HTTPS) or chdb:DIR';

/** Reads a control store URL (`duckdb:DIR`, `postgres://…`, `postgresql://…`); a usage error names what is wrong and the forms. */
export function parseControlStoreUrl(url: string): ControlStoreLocation {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      const parsed = new URL(url);
      if (parsed.hostname === '' && !parsed.searchParams.has('host')) throw new Error('no host');
    } catch {
      throw new FlagscopeError(
        'usage',
        `control store URL \`${redactStoreUrl(url)}\` is not a PostgreSQL URL`,
        `pass ${CONTROL_STORE_FORMS}`,
      );
    }
    return { engine: 'postgres', url };
  }
  return { engine: 'duckdb', dir: parseTypedUrl(url, 'control', CONTROL_STORE_FORMS) };
}

/** Reads an event store URL (`duckdb:DIR`, `clickhouse://…`, `clickhouses://…`, `chdb:DIR`); a usage error names what is wrong and the forms. */
export function parseEventStoreUrl(url: string): EventStoreLocation {
  if (/^clickhouses?:\/\//i.test(url)) {
    try {
      if (new URL(url).hostname === '') throw new Error('no host');
    } catch {
      throw new FlagscopeError('usage', `event store URL \`${redactStoreUrl(url)}\` is not a ClickHouse URL`, `pass ${EVENT_STORE_FORMS}`);
    }
    return { engine: 'clickhouse', url };
  }
  const chdb = /^chdb:(.*)$/is.exec(url);
  if (chdb !== null) {
    const rest = chdb[1] as string;
    const dir = rest.startsWith('//') ? rest.slice(2) : rest;
    return { engine: 'chdb', dir: dir.trim() === '' ? undefined : dir };
  }
  return { engine: 'duckdb', dir: parseTypedUrl(url, 'event', EVENT_STORE_FORMS) };
}

/** The data directory an event store URL names, if it names one (DuckDB's, chDB's). */
export function eventStoreDir(url: string): string | undefined {
  const location = parseEventStoreUrl(url);
  return location.engine === 'clickhouse' ? undefined : location.dir;
}

/** The directory of a `duckdb:DIR` URL given for the `kind` store. */
function parseTypedUrl(url: string, kind: string, forms: string): string {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(url);
  const hint = `pass ${forms}`;
  if (match === null) throw new FlagscopeError('usage', `\`${redactStoreUrl(url)}\` is not a ${kind} store URL`, hint);
  const engine = (match[1] as string).toLowerCase();
  if (engine !== 'duckdb')
    throw new FlagscopeError('usage', `unknown ${kind} store engine "${engine}" in \`${redactStoreUrl(url)}\``, hint);
  const rest = match[2] as string;
  const dir = rest.startsWith('//') ? rest.slice(2) : rest;
  if (dir.trim().length === 0) throw new FlagscopeError('usage', `${kind} store URL \`${url}\` names no directory`, hint);
  return dir;
}

/** A store URL with any password replaced by `***`, for messages and logs. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/** What {@link openStoresAt} needs besides {@link OpenStoresOptions}, for a PostgreSQL control store. */
export interface OpenStoresAtOptions extends OpenStoresOptions {
  /** Milliseconds between polls of PostgreSQL's config version (the fallback of LISTEN); default 1000. */
  controlPollMs?: number;
}

/**
 * Opens a control store and an event store, each where its URL says (`duckdb:DIR` for both is
 * what `openStores` opens). Schemas are created and migrated at open.
 */
export async function openStoresAt(where: { control: string; events: string }, options: OpenStoresAtOptions = {}): Promise<OpenedStores> {
  const controlAt = parseControlStoreUrl(where.control);
  const eventsAt = parseEventStoreUrl(where.events);
  const control = await openControlAt(controlAt, options);
  let events: EventStore;
  try {
    events = await openEventsAt(eventsAt, options);
  } catch (e) {
    await control.close();
    throw e;
  }
  return {
    events,
    control,
    close: async () => {
      await Promise.allSettled([events.close(), control.close()]);
    },
  };
}

/** What {@link openControlStoreAt} needs besides the URL. */
export interface OpenControlStoreOptions {
  /** Where the store logs what it recovers from (a lost PostgreSQL LISTEN connection). */
  log?: (line: string) => void;
  /** PostgreSQL: milliseconds between polls of the committed config version (LISTEN's fallback). Default 1000. */
  pollMs?: number;
}

/**
 * Opens the control store a URL names, on its own (the event store may be elsewhere):
 * `postgres://…` or `postgresql://…` (a PostgreSQL database, migrated at open under a lock), or
 * `duckdb:DIR` (`DIR/control.duckdb`, the embedded default). The caller owns it and closes it.
 */
export async function openControlStoreAt(url: string, options: OpenControlStoreOptions = {}): Promise<ControlStore> {
  return openControlAt(parseControlStoreUrl(url), {
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.pollMs === undefined ? {} : { controlPollMs: options.pollMs }),
  });
}

async function openControlAt(location: ControlStoreLocation, options: OpenStoresAtOptions): Promise<ControlStore> {
  if (location.engine === 'postgres') {
    const { openPostgresControlStore } = await import('./postgres/control-store.js');
    return openPostgresControlStore({
      url: location.url,
      ...(options.log === undefined ? {} : { log: options.log }),
      ...(options.controlPollMs === undefined ? {} : { pollMs: options.controlPollMs }),
    });
  }
  const [{ join }, { openControlStore }] = await Promise.all([import('node:path'), import('./duckdb/control-store.js')]);
  await prepareDir(location.dir, options.log);
  const control = await openControlStore({ path: join(location.dir, 'control.duckdb') });
  await keepPrivate(location.dir, options.log);
  return control;
}

/**
 * Opens the event store an event-store URL names (`--event-store`), independent of the control
 * store: `duckdb:DIR` (`DIR/events.duckdb`), `clickhouse://USER:PASSWORD@HOST:8123/DATABASE` or
 * `clickhouses://…` (HTTPS; `@clickhouse/client`), or `chdb:DIR` / `chdb:` (ClickHouse's engine
 * in-process, for tests and benchmarks: its data in DIR, or a new temporary directory). Rejects
 * with a usage error (exit 2) naming the forms for anything else.
 */
export async function openEventStoreAt(url: string, options: OpenStoresOptions = {}): Promise<EventStore> {
  return openEventsAt(parseEventStoreUrl(url), options);
}

async function openEventsAt(location: EventStoreLocation, options: OpenStoresOptions): Promise<EventStore> {
  switch (location.engine) {
    case 'duckdb':
      return openDuckDbEvents(location.dir, options);
    case 'clickhouse': {
      const [{ HttpExecutor, parseClickHouseUrl }, { openClickHouseEventStore }] = await Promise.all([
        import('./clickhouse/http-executor.js'),
        import('./clickhouse/event-store.js'),
      ]);
      return openClickHouseEventStore({ executor: new HttpExecutor(parseClickHouseUrl(location.url)), ...clickHouseOptions(options) });
    }
    case 'chdb': {
      const [{ mkdir, mkdtemp }, { tmpdir }, { join }, { ChdbExecutor }, { openClickHouseEventStore }] = await Promise.all([
        import('node:fs/promises'),
        import('node:os'),
        import('node:path'),
        import('./clickhouse/chdb-executor.js'),
        import('./clickhouse/event-store.js'),
      ]);
      const dir = location.dir ?? (await mkdtemp(join(tmpdir(), 'flagscope-chdb-')));
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return openClickHouseEventStore({ executor: await ChdbExecutor.open(dir), ...clickHouseOptions(options) });
    }
  }
}

function clickHouseOptions(options: OpenStoresOptions): {
  now?: () => number;
  limits?: { maxColumnsPerDataset?: number; maxQueuedEvents?: number };
} {
  return {
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  };
}

async function prepareDir(dir: string, log: ((line: string) => void) | undefined): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await keepPrivate(dir, log);
}

async function openDuckDbEvents(dir: string, options: OpenStoresOptions): Promise<EventStore> {
  const [{ join }, { openEventStore }] = await Promise.all([import('node:path'), import('./duckdb/event-store.js')]);
  await prepareDir(dir, options.log);
  const events = await openEventStore({
    path: join(dir, 'events.duckdb'),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.ingestWorkers === undefined ? {} : { ingestWorkers: options.ingestWorkers }),
    ...(options.ingestWorkerMinBytes === undefined ? {} : { ingestWorkerMinBytes: options.ingestWorkerMinBytes }),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.readConnections === undefined ? {} : { queryConnections: options.readConnections }),
  });
  // DuckDB creates its files with the process umask; make those there now private too.
  await keepPrivate(dir, options.log);
  return events;
}

/** The files of a DuckDB data directory: the two databases, their WALs and DuckDB's spill directories. */
const STORE_FILE = /^(events|control)\.duckdb(\.wal|\.tmp)?$/;

/**
 * Makes a data directory 0700 and the store files in it 0600 (directories 0700), whatever the
 * umask they were created under: events, keys and flags are nobody else's to read. Files the
 * stores create later (a new WAL) follow the process umask, which `flagscope serve` sets to 077;
 * inside a 0700 directory they are out of other users' reach either way. A chmod refused (a
 * directory owned by someone else) is logged, not fatal.
 */
async function keepPrivate(dir: string, log: ((line: string) => void) | undefined): Promise<void> {
  const [{ chmod, readdir }, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  const attempt = async (path: string, mode: number): Promise<void> => {
    try {
      await chmod(path, mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log?.(`warning: could not make ${path} private: ${(e as Error).message}`);
    }
  };
  await attempt(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!STORE_FILE.test(entry.name)) continue;
    await attempt(join(dir, entry.name), entry.isDirectory() ? 0o700 : 0o600);
  }
}
