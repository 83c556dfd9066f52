import { FlagscopeError } from '../../errors.js';
import type { ServeOptions } from './serve.js';
import type { Verb } from '../registration.js';
import { parseDurationMs } from '../../api/duration.js';

/** More ingest workers than this only take turns for the CPUs. */
const MAX_INGEST_WORKERS = 64;

/** `flagscope serve`: validates the options and hands over to `runServe` of the server. */
export const serve: Verb = async (env, _args, options) => {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FlagscopeError(
      'usage',
      `\`--port ${String(options.port)}\` is not a port number`,
      'pass a port between 0 and 65535 (0 picks a free one)',
    );
  }
  const serveOptions: ServeOptions = { host: String(options.host), port, verbose: env.verbose };
  if (options.ingestWorkers !== undefined) {
    const workers = Number(options.ingestWorkers);
    if (!Number.isInteger(workers) || workers < 0 || workers > MAX_INGEST_WORKERS) {
      throw new FlagscopeError(
        'usage',
        `\`--ingest-workers ${String(options.ingestWorkers)}\` is not a number of threads`,
        `pass a whole number from 0 (parse batches on the main thread) to ${MAX_INGEST_WORKERS}`,
      );
    }
    serveOptions.ingestWorkers = workers;
  }
  if (typeof options.retention === 'string') {
    const { parseRetention } = await import('../../api/retention.js');
    try {
      serveOptions.retentionMs = parseRetention(options.retention) ?? 0;
    } catch (error) {
      const e = error as FlagscopeError;
      throw new FlagscopeError('usage', `\`--retention\`: ${e.message}`, e.hint);
    }
  }
  if (typeof options.beaconWindow === 'string') serveOptions.beaconWindowMs = parseBeaconWindow(options.beaconWindow);
  if (typeof options.dataDir === 'string') serveOptions.dataDir = options.dataDir;
  if (typeof options.store === 'string') {
    if (serveOptions.dataDir !== undefined) {
      throw new FlagscopeError('usage', '`--store` and `--data-dir` both say where the data is', 'pass one of them');
    }
    serveOptions.store = options.store;
  }
  const profile = env.command.optsWithGlobals<{ profile?: string }>().profile;
  if (profile !== undefined) serveOptions.profile = profile;
  if (typeof options.controlStore === 'string') serveOptions.controlStore = options.controlStore;
  if (typeof options.eventStore === 'string') serveOptions.eventStore = options.eventStore;
  if (options.checkStores === true) serveOptions.checkStores = true;
  if (typeof options.migrateFrom === 'string') {
    if (serveOptions.checkStores === true) {
      throw new FlagscopeError('usage', '`--check-stores` and `--migrate-from` are two different runs', 'migrate first, then check');
    }
    serveOptions.migrateFrom = options.migrateFrom;
  }
  serveOptions.json = env.format !== 'table';
  const { runServe } = await import('./serve.js');
  return runServe(serveOptions, env.ctx);
};

/** The shortest and longest `--beacon-window`. */
const MIN_BEACON_WINDOW_MS = 500;
const MAX_BEACON_WINDOW_MS = 3_600_000;

/** `--beacon-window`: a duration from 500ms to 1h. */
function parseBeaconWindow(text: string): number {
  const hint = 'pass a duration from 500ms to 1h, e.g. 30s';
  let ms: number;
  try {
    ms = parseDurationMs(text, { milliseconds: true });
  } catch (error) {
    throw new FlagscopeError('usage', `\`--beacon-window\`: ${(error as FlagscopeError).message}`, hint);
  }
  if (ms < MIN_BEACON_WINDOW_MS || ms > MAX_BEACON_WINDOW_MS) {
    throw new FlagscopeError('usage', `\`--beacon-window ${text}\` is outside 500ms to 1h`, hint);
  }
  return ms;
}
