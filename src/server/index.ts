/**
 * The embedded flagscope server on bare `node:http`: it takes its stores from a store URL
 * (`duckdb:DIR`) or already open, assembles the routes (app.ts), listens, and starts and
 * stops its background jobs with itself.
 */
import { EventArrivals } from './events/arrivals.js';
import { createServer, type Server } from 'node:http';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { FlagscopeError } from '../errors.js';
import { systemTimers, type TimerScheduler } from '../scheduler.js';
import { join } from 'node:path';
import { duckdbStoreUrl, eventStoreDir, openStoresAt, parseStoreUrl } from '../store/factory.js';
import type { ControlStore, EventStore } from '../store/types.js';
import { type AppDependencies, buildRouter, createRequestListener } from './app.js';
import { AnalysisGate } from './admission.js';
import { awaitContinue, FlagscopeRequest, FlagscopeResponse } from './http-io.js';
import { JobRunner, type BackgroundJob } from './jobs.js';
import { KeyService } from './keys/key-service.js';
import type { CanaryService } from './canaries/canary-service.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';
import { packageVersion } from '../version.js';

export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';
export {
  parseStoreUrl,
  duckdbStoreUrl,
  parseControlStoreUrl,
  parseEventStoreUrl,
  redactStoreUrl,
  type StoreLocation,
} from '../store/factory.js';
export { checkStores, migrateControlStore, type StoresCheck, type MigrationSummary } from './stores-admin.js';
export { periodicJob, type BackgroundJob, type JobContext } from './jobs.js';
export { systemTimers, type TimerScheduler, type TimerHandle } from '../scheduler.js';

/** While closing, how often connections that have become idle are closed. */
const CLOSE_IDLE_SWEEP_MS = 10;

/** The two stores a server runs on. */
export interface ServerStores {
  events: EventStore;
  control: ControlStore;
}

export interface ServerOptions {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free port. Default 7070. */
  port?: number;
  /**
   * Where the stores are, as a store URL (`duckdb:DIR`, see src/store/factory.ts). The server
   * opens them and closes them on `close()`. Give one of `store`, `dataDir` and `stores`.
   */
  store?: string;
  /** Shorthand for `store: 'duckdb:DIR'`: `DIR/events.duckdb` and `DIR/control.duckdb`, created if missing. */
  dataDir?: string;
  /**
   * Where the control store is (`duckdb:DIR`, `postgres://…`), when not where `store`/`dataDir`
   * says: keys, flags, history, canaries, leases. Several replicas share one PostgreSQL database.
   */
  controlStore?: string;
  /** Where the event store is (`duckdb:DIR`), when not where `store`/`dataDir` says. */
  eventStore?: string;
  /** Milliseconds between polls of a PostgreSQL control store's config version (LISTEN's fallback); default 1000. */
  controlPollMs?: number;
  /**
   * Stores already open (tests, another engine; several servers may share them, as replicas over
   * one set of stores). The server uses them and leaves them open: whoever opened them closes
   * them, after `close()`.
   */
  stores?: ServerStores;
  /** One log line per request to `log`. */
  verbose?: boolean;
  /** Where log lines go. Default: nowhere. */
  log?: (line: string) => void;
  /** Unix milliseconds. Default: the scheduler's clock, else Date.now. */
  now?: () => number;
  /** Timers of the server (stream heartbeats, the close sweep, background jobs). Default: Node's timers. */
  scheduler?: TimerScheduler;
  /** Work started after the server listens and stopped, awaited, on `close()` before the stores close. */
  jobs?: readonly BackgroundJob[];
  /** Milliseconds between two ticks of the canary controller (a job of every server); default 1000. */
  canaryTickMs?: number;
  /**
   * How long the canary controller's lease lasts without renewal (one replica leads the controller,
   * renewing at every tick; another takes over once it lapses); default 3000.
   */
  canaryLeaseMs?: number;
  limits?: Partial<ServerLimits>;
  /** Create an admin key when the control store has none. Default true. */
  bootstrapAdminKey?: boolean;
  /**
   * Worker threads that scan `POST /1/batch` bodies into column buffers beside the main thread.
   * Default {@link defaultIngestWorkers}: one per CPU beside the main thread, at most 4, none on
   * one CPU (batches are then parsed on the main thread).
   */
  ingestWorkers?: number;
  /** Batch bodies below this many bytes are parsed on the main thread. Default 16 KiB. */
  ingestWorkerMinBytes?: number;
  /** The default retention of every dataset in milliseconds (`serve --retention`); 0 or absent keeps events forever. */
  retentionMs?: number;
  /** Milliseconds between two sweeps of the retention job; default an hour. */
  retentionSweepMs?: number;
  /** Milliseconds after an execution's last beacon that its window closes (`serve --beacon-window`); default 30 s. */
  beaconWindowMs?: number;
  /**
   * The beacons' write-ahead file (docs/storage.md, "Beacons"). Default `<data-dir>/beacons.wal`
   * for a DuckDB data directory; none (beacons in the window in memory only) with `stores` given.
   */
  beaconLogPath?: string;
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:7070` */
  url: string;
  host: string;
  port: number;
  /** The admin key, only when this start created it (it is stored hashed and cannot be shown again). */
  adminKey?: string;
  /** True when `key` is a valid key of this server. */
  isValidKey(key: string): boolean;
  /**
   * Stops accepting connections, finishes in-flight requests and acknowledged writes, stops the
   * background jobs, and closes the stores it opened (never stores it was given).
   */
  close(): Promise<void>;
}

/** The stores of a start, and how to let go of them: closed when the server opened them, left open when given. */
interface HeldStores extends ServerStores {
  release(): Promise<void>;
}

async function holdStores(
  options: ServerOptions,
  limits: ServerLimits,
  now: () => number,
  log: (line: string) => void,
): Promise<HeldStores> {
  const where = storeLocations(options);
  if (where === undefined) return { ...(options.stores as ServerStores), release: async () => undefined };
  const opened = await openStoresAt(where, {
    now,
    limits: { maxColumnsPerDataset: limits.maxColumnsPerDataset, maxQueuedEvents: limits.maxQueuedEvents },
    ingestWorkers: options.ingestWorkers ?? defaultIngestWorkers(availableParallelism()),
    // One reader connection per analysis slot: reads never hold more of libuv's pool than that.
    readConnections: Math.max(1, limits.maxConcurrentAnalyses),
    ...(options.ingestWorkerMinBytes === undefined ? {} : { ingestWorkerMinBytes: options.ingestWorkerMinBytes }),
    ...(options.controlPollMs === undefined ? {} : { controlPollMs: options.controlPollMs }),
    log,
  });
  return { events: opened.events, control: opened.control, release: opened.close };
}

/**
 * The control and event store URLs of a start, or undefined when it was given open `stores`:
 * `store`/`dataDir` (one of them) say where both are, `controlStore`/`eventStore` move either.
 */
export function storeLocations(
  options: Pick<ServerOptions, 'store' | 'dataDir' | 'stores' | 'controlStore' | 'eventStore'>,
): { control: string; events: string } | undefined {
  const places = [options.store, options.dataDir].filter((x) => x !== undefined).length;
  const split = options.controlStore !== undefined || options.eventStore !== undefined;
  if (options.stores !== undefined) {
    if (places > 0 || split) {
      throw new FlagscopeError('usage', 'the server takes its stores from one place', 'give either open `stores` or store URLs');
    }
    return undefined;
  }
  if (places > 1) throw new FlagscopeError('usage', 'the server takes its stores from one place', 'give one of `store` and `dataDir`');
  const base = options.store ?? (options.dataDir === undefined ? undefined : duckdbStoreUrl(options.dataDir));
  const control = options.controlStore ?? base;
  const events = options.eventStore ?? base;
  if (control === undefined || events === undefined) {
    throw new FlagscopeError(
      'usage',
      'the server needs stores',
      'give `store` (a store URL), `dataDir` or both `controlStore` and `eventStore`',
    );
  }
  return { control, events };
}

/** Opens (or takes) the stores, starts listening, then starts the background jobs. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const scheduler = options.scheduler ?? systemTimers({ keepAlive: false, ...(options.now === undefined ? {} : { now: options.now }) });
  const now = options.now ?? scheduler.now;
  const log = options.log ?? (() => undefined);

  const stores = await holdStores(options, limits, now, log);
  const { events, control } = stores;
  try {
    const keyService = await KeyService.open(control, now);
    const adminKey = (options.bootstrapAdminKey ?? true) ? await keyService.bootstrapAdminKey() : undefined;
    const keys = keyService.ring;

    const { FlagService } = await import('./flags/flag-service.js');
    const flags = await FlagService.open(control.flagStore(), now);
    let canaries: CanaryService | undefined;
    // One admission gate for the routes' analyses and the canary controller's measurements.
    const analyses = new AnalysisGate(limits, scheduler);
    const arrivals = new EventArrivals(scheduler);
    const { DatasetService } = await import('./datasets/dataset-service.js');
    const datasets = new DatasetService({
      events,
      defaultRetentionMs: options.retentionMs === undefined || options.retentionMs === 0 ? null : options.retentionMs,
      now,
      log,
      canaries: () => canaries,
    });
    const { BeaconService } = await import('./beacons/beacon-service.js');
    const beaconLogPath = options.beaconLogPath ?? defaultBeaconLogPath(options);
    const beacons = await BeaconService.open({
      events,
      settings: control.beaconSettingsStore(),
      scheduler,
      ...(options.beaconWindowMs === undefined ? {} : { windowMs: options.beaconWindowMs }),
      maxOpenExecutions: limits.maxOpenExecutions,
      maxOpenBeaconBytes: limits.maxOpenBeaconBytes,
      ...(beaconLogPath === undefined ? {} : { logPath: beaconLogPath }),
      log,
      retryAfterSeconds: limits.retryAfterSeconds,
      maxEventBytes: limits.maxEventBytes,
      arrivals,
    });
    const deps: AppDependencies = {
      beacons,
      analyses,
      arrivals,
      events,
      control,
      keys,
      keyService,
      limits,
      now,
      scheduler,
      version: packageVersion(),
      log,
      verbose: options.verbose ?? false,
      flags,
      canaries: () => canaries,
      datasets,
      ...(options.canaryTickMs === undefined ? {} : { canaryTickMs: options.canaryTickMs }),
    };
    const server = createServer({ keepAliveTimeout: 5_000, IncomingMessage: FlagscopeRequest, ServerResponse: FlagscopeResponse });
    const listener = createRequestListener(deps, buildRouter(deps));
    let closing = false;
    server.on('request', (req, res) => {
      if (closing) res.setHeader('connection', 'close');
      listener(req, res);
    });
    // `Expect: 100-continue`: the 100 goes out only when a route starts reading the body (http-io.ts).
    server.on('checkContinue', (req, res) => {
      awaitContinue(req, res);
      server.emit('request', req, res);
    });
    server.on('clientError', (error, socket) => {
      if (socket.writable && !(error as NodeJS.ErrnoException).code?.startsWith('ECONN')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else socket.destroy();
    });

    const port = await listen(server, host, options.port ?? 7070);
    // After listening, errors such as EMFILE on accept are logged, never fatal.
    server.on('error', (e) => log(`server error: ${e.message}`));
    const { canaryControllerJob, StoreCanaryRepository } = await import('./canaries/index.js');
    const controller = canaryControllerJob({
      repository: new StoreCanaryRepository(control.canaryStore()),
      leases: control.leaseStore(),
      ...(options.canaryTickMs === undefined ? {} : { everyMs: options.canaryTickMs }),
      ...(options.canaryLeaseMs === undefined ? {} : { leaseMs: options.canaryLeaseMs }),
      onService: (service) => {
        canaries = service;
      },
    });
    const { retentionJob } = await import('./datasets/retention-job.js');
    const retention = retentionJob(datasets, options.retentionSweepMs);
    const { beaconFlushJob } = await import('./beacons/beacon-job.js');
    const jobs = new JobRunner([beaconFlushJob(beacons), controller, retention, ...(options.jobs ?? [])], {
      scheduler,
      log,
      events,
      control,
      flags,
      admit: (task, request) => analyses.run(task, request),
      canaryMeasureMs: limits.maxCanaryMeasureMs,
    });
    try {
      await jobs.start();
    } catch (e) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw e;
    }
    const closeAll = async (): Promise<void> => {
      closing = true;
      arrivals.close();
      flags.close();
      keyService.close();
      await stopListening(server, scheduler, limits.shutdownGraceMs);
      await jobs.stop();
      await stores.release();
    };
    let closed: Promise<void> | undefined;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const running: RunningServer = {
      url: `http://${urlHost}:${port}`,
      host,
      port,
      isValidKey: (key) => keys.find(key) !== undefined,
      close: () => {
        closed ??= closeAll();
        return closed;
      },
    };
    if (adminKey !== undefined) running.adminKey = adminKey;
    return running;
  } catch (e) {
    await stores.release();
    throw e;
  }
}

/**
 * Stops accepting connections and resolves once the open ones have finished (streams already ended):
 * idle keep-alive connections closed as they become idle, and any left after `graceMs` cut.
 */
async function stopListening(server: Server, scheduler: TimerScheduler, graceMs: number): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // Keep-alive connections whose response was in flight become idle when it finishes; close
  // them then (polled while closing, so the request path carries no per-response listener).
  const idleSweep = scheduler.setInterval(() => server.closeIdleConnections(), CLOSE_IDLE_SWEEP_MS);
  const grace = scheduler.setTimeout(() => server.closeAllConnections(), graceMs);
  await stopped;
  idleSweep.clear();
  grace.clear();
}

/** The write-ahead file of beacons in the data directory the server opens, if it opens one. */
function defaultBeaconLogPath(options: ServerOptions): string | undefined {
  const eventDir = options.eventStore === undefined ? undefined : eventStoreDir(options.eventStore);
  if (eventDir !== undefined) return join(eventDir, 'beacons.wal');
  if (options.dataDir !== undefined) return join(options.dataDir, 'beacons.wal');
  if (options.store !== undefined) return join(parseStoreUrl(options.store).dir, 'beacons.wal');
  return undefined;
}

/**
 * Ingest workers for a machine with `cpus` CPUs: none on one CPU (a worker would only take turns
 * with the main thread), else one per CPU beside the main thread, at most 4. On two CPUs one
 * worker beats two: the main thread and DuckDB need the other CPU (node bench/ingest.mjs,
 * BENCH_WORKERS=1 vs 2: about 42-46k vs 38-40k events/s).
 */
export function defaultIngestWorkers(cpus: number): number {
  return cpus <= 1 ? 0 : Math.min(4, cpus - 1);
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EADDRINUSE') {
        reject(
          new FlagscopeError(
            'usage',
            `port ${port} on ${host} is already in use`,
            'stop the other server or pass `--port 0` for a free port',
            { cause: e },
          ),
        );
      } else if (e.code === 'EACCES') {
        reject(new FlagscopeError('usage', `not allowed to listen on ${host}:${port}`, 'pick a port above 1023', { cause: e }));
      } else reject(e);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
