/**
 * `flagscope serve`: runs the embedded server until SIGINT/SIGTERM, and keeps
 * the local config profile pointing at it (URL and, on first start, the admin key).
 */
import type { Context } from '../../context.js';
import { configPath, DEFAULT_PROFILE, defaultDataDir, readConfig, updateProfile } from '../../config/config.js';
import { duckdbStoreUrl, parseStoreUrl, startServer, type RunningServer } from '../../server/index.js';

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
  const stderr = (line: string): void => {
    ctx.stderr.write(`${line}\n`);
  };
  // Everything the server writes (DuckDB files, each new WAL, spill files) is private whatever
  // the umask it was started under; the stores also tighten what already exists.
  let umask: number | undefined;
  try {
    umask = process.umask(0o077);
  } catch {
    // A worker thread cannot set it; the stores' chmod at open still applies.
  }
  try {
    return await serveUntilSignal(opts, ctx, store, dataDir, stderr);
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
}

async function serveUntilSignal(
  opts: ServeOptions,
  ctx: Context,
  store: string,
  dataDir: string,
  stderr: (line: string) => void,
): Promise<number> {
  const server = await startServer({
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 7070,
    store,
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
  stderr(`data directory: ${dataDir}`);

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
