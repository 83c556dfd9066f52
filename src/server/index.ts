/**
 * The embedded flagscope server on bare `node:http`: Honeycomb-compatible
 * ingest, queries, datasets and API keys over the stores in a data directory.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FlagscopeError } from '../errors.js';
import type { ControlStore } from '../store/types.js';
import type { EventStore } from '../store/types.js';
import { buildRouter, createRequestListener } from './app.js';
import { KeyService } from './keys/key-service.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';
import { packageVersion } from '../version.js';

export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';

/** While closing, how often connections that have become idle are closed. */
const CLOSE_IDLE_SWEEP_MS = 10;

export interface ServerOptions {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 picks a free port. Default 7070. */
  port?: number;
  /** Holds `events.duckdb` (event store) and `control.duckdb` (control store); created if missing. Unused with `stores`. */
  dataDir?: string;
  /**
   * Stores opened by the caller, instead of the DuckDB stores of `dataDir`: several servers may
   * share them (replicas over one set of stores). The caller closes them, after the servers.
   */
  stores?: ServerStores;
  /** One log line per request to `log`. */
  verbose?: boolean;
  /** Where log lines go. Default: nowhere. */
  log?: (line: string) => void;
  /** Unix milliseconds. Default Date.now. */
  now?: () => number;
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
}

/** The stores a server runs over. */
export interface ServerStores {
  events: EventStore;
  control: ControlStore;
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
  /** Stops accepting connections, finishes in-flight requests and acknowledged writes, closes the stores. */
  close(): Promise<void>;
}

/** Opens the stores in `options.dataDir` and starts listening. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);

  const stores = options.stores ?? (await openDataDirStores(options, now, limits, log));
  const { events, control } = stores;
  const closeStores = async (): Promise<void> => {
    if (options.stores === undefined) await Promise.allSettled([events.close(), control.close()]);
  };

  try {
    const keyService = await KeyService.open(control, now);
    const adminKey = (options.bootstrapAdminKey ?? true) ? await keyService.bootstrapAdminKey() : undefined;
    const keys = keyService.ring;

    const { FlagService } = await import('./flags/flag-service.js');
    const flags = await FlagService.open(control.flagStore(), now);
    const deps = {
      events,
      control,
      keys,
      keyService,
      limits,
      now,
      version: packageVersion(),
      log,
      verbose: options.verbose ?? false,
      flags,
    };
    const server = createServer({ keepAliveTimeout: 5_000 });
    const listener = createRequestListener(deps, buildRouter(deps));
    let closing = false;
    server.on('request', (req, res) => {
      if (closing) res.setHeader('connection', 'close');
      listener(req, res);
    });
    server.on('clientError', (error, socket) => {
      if (socket.writable && !(error as NodeJS.ErrnoException).code?.startsWith('ECONN')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      } else socket.destroy();
    });

    const port = await listen(server, host, options.port ?? 7070);
    // After listening, errors such as EMFILE on accept are logged, never fatal.
    server.on('error', (e) => log(`server error: ${e.message}`));
    const urlHost = host.includes(':') ? `[${host}]` : host;
    let closed: Promise<void> | undefined;
    const running: RunningServer = {
      url: `http://${urlHost}:${port}`,
      host,
      port,
      isValidKey: (key) => keys.find(key) !== undefined,
      close: () => {
        closed ??= (async () => {
          closing = true;
          flags.close();
          keyService.close();
          const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          // Keep-alive connections whose response was in flight become idle when it finishes; close
          // them then (polled while closing, so the request path carries no per-response listener).
          const idleSweep = setInterval(() => server.closeIdleConnections(), CLOSE_IDLE_SWEEP_MS);
          const grace = setTimeout(() => server.closeAllConnections(), limits.shutdownGraceMs);
          await stopped;
          clearInterval(idleSweep);
          clearTimeout(grace);
          await closeStores();
        })();
        return closed;
      },
    };
    if (adminKey !== undefined) running.adminKey = adminKey;
    return running;
  } catch (e) {
    await closeStores();
    throw e;
  }
}

/** Opens (creating if missing) the DuckDB event and control stores in `options.dataDir`. */
async function openDataDirStores(
  options: ServerOptions,
  now: () => number,
  limits: ServerLimits,
  log: (line: string) => void,
): Promise<ServerStores> {
  if (options.dataDir === undefined)
    throw new FlagscopeError('usage', 'the server needs a data directory or stores', 'pass `--data-dir DIR`');
  await mkdir(options.dataDir, { recursive: true });
  const [{ openEventStore }, { openControlStore }] = await Promise.all([
    import('../store/duckdb/event-store.js'),
    import('../store/duckdb/control-store.js'),
  ]);
  const control = await openControlStore({ path: join(options.dataDir, 'control.duckdb') });
  try {
    const events = await openEventStore({
      path: join(options.dataDir, 'events.duckdb'),
      now,
      limits: { maxColumnsPerDataset: limits.maxColumnsPerDataset, maxQueuedEvents: limits.maxQueuedEvents },
      ingestWorkers: options.ingestWorkers ?? defaultIngestWorkers(availableParallelism()),
      ...(options.ingestWorkerMinBytes === undefined ? {} : { ingestWorkerMinBytes: options.ingestWorkerMinBytes }),
      log,
    });
    return { events, control };
  } catch (e) {
    await control.close();
    throw e;
  }
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
