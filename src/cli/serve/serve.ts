/**
 * `flagscope serve`: runs the embedded server until SIGINT/SIGTERM, and keeps
 * the local config profile pointing at it (URL and, on first start, the admin key).
 */
import type { Context } from '../../context.js';
import { configPath, DEFAULT_PROFILE, defaultDataDir, type Profile, readConfig, updateProfile } from '../../config/config.js';
import { FlagscopeError } from '../../errors.js';
import {
  checkStores,
  duckdbStoreUrl,
  migrateControlStore,
  parseControlStoreUrl,
  parseEventStoreUrl,
  parseStoreUrl,
  type RunningServer,
  redactStoreUrl,
  startServer,
} from '../../server/index.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  dataDir?: string;
  /** Where the stores are, as a store URL (`duckdb:DIR`); default `duckdb:<dataDir>`. */
  store?: string;
  verbose?: boolean;
  /** Ingest worker threads (see `ServerOptions.ingestWorkers`); default by CPU count. */
  ingestWorkers?: number;
  /** Default retention of every dataset in milliseconds (`--retention`); 0 or absent: forever. */
  retentionMs?: number;
  /** Milliseconds after an execution's last beacon that it is stitched (`--beacon-window`); default 30 s. */
  beaconWindowMs?: number;
  /** Config profile to write the URL and key to. Default: `FLAGSCOPE_PROFILE`, else the file's current profile, else `default`. */
  profile?: string;
  /** `--control-store`: over `FLAGSCOPE_CONTROL_STORE`, over the profile's `control_store`, over the data directory. */
  controlStore?: string;
  /** `--event-store`: over `FLAGSCOPE_EVENT_STORE`, over the profile's `event_store`, over the data directory. */
  eventStore?: string;
  /** `--check-stores`: connect, migrate, report, exit. */
  checkStores?: boolean;
  /** `--migrate-from duckdb:DIR`: copy that installation's control data into the (empty, PostgreSQL) control store, exit. */
  migrateFrom?: string;
  /** Report `--check-stores` and `--migrate-from` as JSON. */
  json?: boolean;
}

/** Where each store is, and where that choice came from (for messages). */
interface ChosenStores {
  control: string;
  events: string;
  sources: { control: string; events: string };
}

/** The two stores by precedence: flag > environment > profile setting > the data directory (`--store`, `--data-dir`, default). */
async function chooseStores(opts: ServeOptions, ctx: Context, base: string): Promise<ChosenStores> {
  const env = ctx.env;
  const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  let profile: Profile | undefined;
  let profileName: string | undefined;
  const needProfile =
    (opts.controlStore === undefined && nonEmpty(env.FLAGSCOPE_CONTROL_STORE) === undefined) ||
    (opts.eventStore === undefined && nonEmpty(env.FLAGSCOPE_EVENT_STORE) === undefined);
  if (needProfile) {
    const config = await readConfig(configPath(env, ctx.homeDir));
    profileName = opts.profile ?? nonEmpty(env.FLAGSCOPE_PROFILE) ?? config.current_profile ?? DEFAULT_PROFILE;
    profile = config.profiles[profileName];
  }
  const pick = (flag: string | undefined, envName: string, setting: 'control_store' | 'event_store'): [string, string] => {
    if (flag !== undefined) return [flag, `--${setting.replace('_', '-')}`];
    const fromEnv = nonEmpty(env[envName]);
    if (fromEnv !== undefined) return [fromEnv, envName];
    const fromProfile = profile?.[setting];
    if (fromProfile !== undefined) return [fromProfile, `${setting} of profile "${profileName}"`];
    return [base, 'the data directory'];
  };
  const [control, controlSource] = pick(opts.controlStore, 'FLAGSCOPE_CONTROL_STORE', 'control_store');
  const [events, eventsSource] = pick(opts.eventStore, 'FLAGSCOPE_EVENT_STORE', 'event_store');
  return { control, events, sources: { control: controlSource, events: eventsSource } };
}

/** Checks both URLs before anything is opened; a bad one is a usage error naming where it came from. */
function checkUrls(chosen: ChosenStores): void {
  const attempt = (what: 'control' | 'events', parse: (url: string) => unknown): void => {
    try {
      parse(chosen[what]);
    } catch (e) {
      const error = e as FlagscopeError;
      throw new FlagscopeError(error.code, `${error.message} (from ${chosen.sources[what]})`, error.hint);
    }
  };
  attempt('control', parseControlStoreUrl);
  attempt('events', parseEventStoreUrl);
}

/**
 * Starts the server and resolves with exit code 0 once a signal has closed it
 * cleanly. The address goes to stdout (`flagscope listening on URL`) for scripts;
 * everything else to stderr.
 */
export async function runServe(opts: ServeOptions, ctx: Context): Promise<number> {
  const store = opts.store ?? duckdbStoreUrl(opts.dataDir ?? defaultDataDir(ctx.env, ctx.homeDir));
  // A malformed URL or an unknown engine is a usage error before anything is opened.
  const dataDir = parseStoreUrl(store).dir;
  const chosen = await chooseStores(opts, ctx, store);
  checkUrls(chosen);
  const stderr = (line: string): void => {
    ctx.stderr.write(`${line}\n`);
  };
  if (opts.checkStores === true) return reportCheck(opts, ctx, chosen, stderr);
  if (opts.migrateFrom !== undefined) return reportMigration(opts, ctx, chosen, stderr);
  // Everything the server writes (DuckDB files, each new WAL, spill files) is private whatever
  // the umask it was started under; the stores also tighten what already exists.
  let umask: number | undefined;
  try {
    umask = process.umask(0o077);
  } catch {
    // A worker thread cannot set it; the stores' chmod at open still applies.
  }
  try {
    return await serveUntilSignal(opts, ctx, chosen, dataDir, stderr);
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
}

async function serveUntilSignal(
  opts: ServeOptions,
  ctx: Context,
  chosen: ChosenStores,
  dataDir: string,
  stderr: (line: string) => void,
): Promise<number> {
  const server = await startServer({
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 7070,
    controlStore: chosen.control,
    eventStore: chosen.events,
    verbose: opts.verbose ?? false,
    log: stderr,
    now: ctx.now,
    ...(opts.ingestWorkers === undefined ? {} : { ingestWorkers: opts.ingestWorkers }),
    ...(opts.retentionMs === undefined ? {} : { retentionMs: opts.retentionMs }),
    ...(opts.beaconWindowMs === undefined ? {} : { beaconWindowMs: opts.beaconWindowMs }),
  });

  let unregister: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    unregister = ctx.onSignal((signal) => {
      if (stopping) return;
      stopping = true;
      stderr(`received ${signal}, finishing in-flight requests and closing the stores`);
      server.close().then(resolve, (e: unknown) => {
        stderr(`error while closing: ${(e as Error).message}`);
        resolve();
      });
    });
  });

  try {
    await updateLocalProfile(opts, ctx, server, stderr);
  } catch (e) {
    stderr(`warning: could not update the config profile: ${(e as Error).message}`);
  }
  ctx.stdout.write(`flagscope listening on ${server.url}\n`);
  if (chosen.control === chosen.events) stderr(`data directory: ${dataDir}`);
  else stderr(`control store: ${redactStoreUrl(chosen.control)}; event store: ${redactStoreUrl(chosen.events)}`);

  await stopped;
  unregister();
  stderr('flagscope server stopped');
  return 0;
}

async function updateLocalProfile(opts: ServeOptions, ctx: Context, server: RunningServer, say: (line: string) => void): Promise<void> {
  const path = configPath(ctx.env, ctx.homeDir);
  const config = await readConfig(path);
  const envProfile = ctx.env.FLAGSCOPE_PROFILE;
  const profileName =
    opts.profile ?? (envProfile !== undefined && envProfile !== '' ? envProfile : undefined) ?? config.current_profile ?? DEFAULT_PROFILE;
  if (server.adminKey !== undefined) {
    await updateProfile(path, profileName, { api_url: server.url, api_key: server.adminKey });
    say(`created an admin API key and saved it with the server URL to profile "${profileName}" in ${path}`);
    return;
  }
  const profile = config.profiles[profileName];
  const login = `\`flagscope auth login --profile ${profileName}\` with a key of this server (\`flagscope keys create\` with an admin key makes one)`;
  if (profile?.api_key === undefined) {
    // No key to check against this server: point the profile at it, and say a login is needed.
    if (profile?.api_url === server.url) {
      say(`profile "${profileName}" in ${path} points at this server but holds no API key; run ${login}`);
      return;
    }
    await updateProfile(path, profileName, { api_url: server.url });
    say(
      `saved the server URL to profile "${profileName}" in ${path}; it holds no API key (this data directory's admin key was made on its first start), so run ${login}`,
    );
    return;
  }
  if (!server.isValidKey(profile.api_key)) {
    say(
      `profile "${profileName}" in ${path} holds a key this server does not know, so it was left as it is (it may belong to another server); to use this server with it, run ${login}`,
    );
    return;
  }
  if (profile.api_url !== server.url) {
    await updateProfile(path, profileName, { api_url: server.url });
    say(`updated the server URL of profile "${profileName}" in ${path}`);
    return;
  }
  say(`profile "${profileName}" in ${path} already points at this server with a valid key`);
}

/** `--check-stores`: what the stores hold after connecting and migrating, human text or JSON on stdout. */
async function reportCheck(opts: ServeOptions, ctx: Context, chosen: ChosenStores, stderr: (line: string) => void): Promise<number> {
  const found = await checkStores({ control: chosen.control, events: chosen.events }, stderr);
  if (opts.json === true) {
    ctx.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return 0;
  }
  const c = found.control;
  const lease = c.controllerLease;
  ctx.stdout.write(
    [
      `control store: ${c.engine} ${c.location} (from ${chosen.sources.control}): reachable, schema up to date`,
      `  config version ${c.configVersion}; ${c.flags} flags; ${c.apiKeys} API keys (${c.validApiKeys} valid); ${c.canaries} canaries`,
      `  canary controller lease: ${lease === null ? 'never held' : `${lease.holder}, epoch ${lease.epoch}, until ${new Date(lease.expiresAt).toISOString()}`}`,
      `event store: ${found.events.engine} ${found.events.location} (from ${chosen.sources.events}): reachable, ${found.events.datasets} datasets`,
      '',
    ].join('\n'),
  );
  return 0;
}

/** `--migrate-from duckdb:DIR`: copies that installation's control data into the control store, and says what it copied. */
async function reportMigration(opts: ServeOptions, ctx: Context, chosen: ChosenStores, stderr: (line: string) => void): Promise<number> {
  const summary = await migrateControlStore(opts.migrateFrom as string, chosen.control, stderr);
  if (opts.json === true) {
    ctx.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  }
  ctx.stdout.write(
    `copied ${summary.flags} flags (${summary.flagChanges} changes of history), ${summary.apiKeys} API keys (${summary.revokedApiKeys} revoked), ` +
      `${summary.canaries} canaries and ${summary.beaconSettings} beacon settings from ${summary.from} to ${summary.to} (config version ${summary.configVersion})\n`,
  );
  stderr(
    `start the replicas with \`flagscope serve --control-store ${summary.to}\` (the embedded store in the data directory is left as it was)`,
  );
  return 0;
}
