/**
 * Stores by URL: `openStores('duckdb:/var/lib/flagscope')` opens the event store and the
 * control store an engine keeps at that place. A later engine is a new scheme here and an
 * implementation beside `duckdb/`; nothing above the stores changes.
 *
 * URLs: `duckdb:DIR` (also `duckdb://DIR`): `DIR/events.duckdb` and `DIR/control.duckdb`,
 * the directory created when missing. The event store alone (`openEventStoreAt`) may also be
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
  return openDuckDbStores(location.dir, options);
}

/**
 * Opens the event store an event-store URL names (`--event-store`), independent of the control
 * store: `duckdb:DIR` (`DIR/events.duckdb`), `clickhouse://USER:PASSWORD@HOST:8123/DATABASE` or
 * `clickhouses://…` (HTTPS; `@clickhouse/client`), or `chdb:DIR` / `chdb:` (ClickHouse's engine
 * in-process, for tests and benchmarks: its data in DIR, or a new temporary directory). Throws a
 * usage error (exit 2) naming the forms for anything else.
 */
export async function openEventStoreAt(url: string, options: OpenStoresOptions = {}): Promise<EventStore> {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(url);
  const hint = 'pass `--event-store duckdb:DIR`, `clickhouse://USER:PASSWORD@HOST:8123/DATABASE` or `chdb:DIR`';
  const scheme = match?.[1]?.toLowerCase();
  const rest = match?.[2] ?? '';
  switch (scheme) {
    case 'duckdb': {
      const dir = parseStoreUrl(url).dir;
      const [{ mkdir }, { join }, { openEventStore }] = await Promise.all([
        import('node:fs/promises'),
        import('node:path'),
        import('./duckdb/event-store.js'),
      ]);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const events = await openEventStore({
        path: join(dir, 'events.duckdb'),
        ...(options.now === undefined ? {} : { now: options.now }),
        ...(options.limits === undefined ? {} : { limits: options.limits }),
        ...(options.ingestWorkers === undefined ? {} : { ingestWorkers: options.ingestWorkers }),
        ...(options.ingestWorkerMinBytes === undefined ? {} : { ingestWorkerMinBytes: options.ingestWorkerMinBytes }),
        ...(options.log === undefined ? {} : { log: options.log }),
        ...(options.readConnections === undefined ? {} : { queryConnections: options.readConnections }),
      });
      await keepPrivate(dir, options.log);
      return events;
    }
    case 'clickhouse':
    case 'clickhouses': {
      const [{ HttpExecutor, parseClickHouseUrl }, { openClickHouseEventStore }] = await Promise.all([
        import('./clickhouse/http-executor.js'),
        import('./clickhouse/event-store.js'),
      ]);
      return openClickHouseEventStore({ executor: new HttpExecutor(parseClickHouseUrl(url)), ...clickHouseOptions(options) });
    }
    case 'chdb': {
      const [{ mkdir, mkdtemp }, { tmpdir }, { join }, { ChdbExecutor }, { openClickHouseEventStore }] = await Promise.all([
        import('node:fs/promises'),
        import('node:os'),
        import('node:path'),
        import('./clickhouse/chdb-executor.js'),
        import('./clickhouse/event-store.js'),
      ]);
      const given = rest.startsWith('//') ? rest.slice(2) : rest;
      const dir = given.trim() === '' ? await mkdtemp(join(tmpdir(), 'flagscope-chdb-')) : given;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      return openClickHouseEventStore({ executor: await ChdbExecutor.open(dir), ...clickHouseOptions(options) });
    }
    default:
      throw new FlagscopeError(
        'usage',
        match === null ? `\`${url}\` is not an event-store URL` : `unknown event-store engine "${scheme}"`,
        hint,
      );
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

async function openDuckDbStores(dir: string, options: OpenStoresOptions): Promise<OpenedStores> {
  const [{ mkdir }, { join }, { openEventStore }, { openControlStore }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('./duckdb/event-store.js'),
    import('./duckdb/control-store.js'),
  ]);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await keepPrivate(dir, options.log);
  const control = await openControlStore({ path: join(dir, 'control.duckdb') });
  let events: EventStore;
  try {
    events = await openEventStore({
      path: join(dir, 'events.duckdb'),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.ingestWorkers === undefined ? {} : { ingestWorkers: options.ingestWorkers }),
      ...(options.ingestWorkerMinBytes === undefined ? {} : { ingestWorkerMinBytes: options.ingestWorkerMinBytes }),
      ...(options.log === undefined ? {} : { log: options.log }),
      ...(options.readConnections === undefined ? {} : { queryConnections: options.readConnections }),
    });
  } catch (e) {
    await control.close();
    throw e;
  }
  // DuckDB creates its files with the process umask; make those there now private too.
  await keepPrivate(dir, options.log);
  return {
    events,
    control,
    close: async () => {
      await Promise.allSettled([events.close(), control.close()]);
    },
  };
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
