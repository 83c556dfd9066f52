/**
 * What a running command gets (GitHub CLI's options struct): the context,
 * resolved global options, terminal facts (TTY, colour, width), writers for
 * results and diagnostics, and a lazily created API client.
 */
import type { Command } from 'commander';
import type { ApiClient } from '../client/api-client.js';
import { configPath, readConfig, resolveConnection } from '../config/config.js';
import type { ConnectionSettings } from '../config/config.js';
import type { Context } from '../context.js';
import { FlagscopeError } from '../errors.js';
import { createStyler } from '../output/chalk-styler.js';
import type { Styler } from '../output/style.js';
import { DEFAULT_TIMEOUT, type GlobalFlags, type OutputFormat } from './global-options.js';
import { parseTimeoutFlag } from './timeout.js';

export interface CommandEnv {
  ctx: Context;
  /** The command being run (for its name in hints). */
  command: Command;
  format: OutputFormat;
  quiet: boolean;
  verbose: boolean;
  timeoutMs: number;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  /** Colour on stdout (TTY, table format, no NO_COLOR/`--no-color`/TERM=dumb, or FORCE_COLOR). */
  color: boolean;
  /** Colour on stderr, same rules with stderr's TTY flag. */
  stderrColor: boolean;
  /** Columns of the stdout terminal (80 when unknown). */
  width: number;
  styler: Styler;
  stderrStyler: Styler;
  /** Writes results to stdout. */
  out(text: string): void;
  /** A note on stderr, suppressed by `--quiet`. */
  info(message: string): void;
  /** A warning on stderr (`warning: …`), shown even with `--quiet`. */
  warn(message: string): void;
  /** A line on stderr only with `--verbose`. */
  debug(message: string): void;
  /** URL, key and profile by the precedence flag > env > profile > default. */
  connection(): Promise<ConnectionSettings>;
  /** The API client for `connection()`, created once. */
  client(): Promise<ApiClient>;
  /** Closes what the command opened (the client's connections). */
  dispose(): Promise<void>;
}

/** Colour rules of clig.dev: `--no-color` wins; then FORCE_COLOR; then NO_COLOR, TERM=dumb, non-TTY and machine formats turn it off. */
export function colorEnabled(
  env: Record<string, string | undefined>,
  options: { flag: boolean | undefined; tty: boolean; machineFormat: boolean },
): boolean {
  if (options.flag === false) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return !options.machineFormat;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return options.tty && !options.machineFormat;
}

/** Builds the environment of one command run from the context and the parsed options. */
export function createCommandEnv(ctx: Context, flags: GlobalFlags, command: Command): CommandEnv {
  if (flags.format === 'flagd' && !(command.name() === 'export' && command.parent?.name() === 'flags')) {
    throw new FlagscopeError('usage', '`--format flagd` is only for `flags export`', 'use one of table, json, csv, ndjson');
  }
  const gateFormat = flags.format === 'junit' || flags.format === 'github';
  if (gateFormat && !(command.name() === 'gate' && command.parent?.name() === 'canary')) {
    throw new FlagscopeError('usage', `\`--format ${flags.format}\` is only for \`canary gate\``, 'use one of table, json, csv, ndjson');
  }
  // The gate reads its own format from the options; everything else it prints follows the table rules.
  const format: OutputFormat =
    flags.json === true || flags.format === 'flagd'
      ? 'json'
      : gateFormat
        ? 'table'
        : ((flags.format as OutputFormat | undefined) ?? 'table');
  if (flags.json === true && flags.format !== undefined && flags.format !== 'json') {
    throw new FlagscopeError('usage', `\`--json\` and \`--format ${flags.format}\` disagree`, 'pass only one of them');
  }
  const timeoutMs = parseTimeoutFlag(flags.timeout ?? DEFAULT_TIMEOUT);
  const stdoutIsTTY = ctx.stdout.isTTY === true;
  const stderrIsTTY = ctx.stderr.isTTY === true;
  const color = colorEnabled(ctx.env, { flag: flags.color, tty: stdoutIsTTY, machineFormat: format !== 'table' || gateFormat });
  const stderrColor = colorEnabled(ctx.env, { flag: flags.color, tty: stderrIsTTY, machineFormat: false });
  const quiet = flags.quiet === true;
  const verbose = flags.verbose === true;
  let connectionPromise: Promise<ConnectionSettings> | undefined;
  let clientPromise: Promise<ApiClient> | undefined;
  const stderrLine = (line: string): void => {
    ctx.stderr.write(`${line}\n`);
  };
  const env: CommandEnv = {
    ctx,
    command,
    format,
    quiet,
    verbose,
    timeoutMs,
    stdoutIsTTY,
    stderrIsTTY,
    stdinIsTTY: ctx.stdin.isTTY === true,
    color,
    stderrColor,
    width: ctx.stdout.columns !== undefined && ctx.stdout.columns > 0 ? ctx.stdout.columns : 80,
    styler: createStyler(color),
    stderrStyler: createStyler(stderrColor),
    out: (text) => {
      ctx.stdout.write(text);
    },
    info: (message) => {
      if (!quiet) stderrLine(message);
    },
    warn: (message) => stderrLine(`warning: ${message}`),
    debug: (message) => {
      if (verbose) stderrLine(message);
    },
    connection: () => {
      connectionPromise ??= (async () => {
        const config = await readConfig(configPath(ctx.env, ctx.homeDir));
        const settings = resolveConnection({ apiUrl: flags.apiUrl, apiKey: flags.apiKey, profile: flags.profile }, ctx.env, config);
        env.debug(
          `api ${settings.apiUrl} (from ${settings.sources.apiUrl}), key from ${settings.sources.apiKey}, profile ${settings.profile}`,
        );
        return settings;
      })();
      return connectionPromise;
    },
    client: () => {
      clientPromise ??= (async () => {
        const [settings, { createApiClient }] = await Promise.all([env.connection(), import('../client/api-client.js')]);
        return createApiClient({
          baseUrl: settings.apiUrl,
          apiKey: settings.apiKey,
          timeoutMs,
          sleep: ctx.sleep,
          log: verbose ? (line) => stderrLine(line) : undefined,
          userAgent: 'flagscope-cli',
        });
      })();
      return clientPromise;
    },
    dispose: async () => {
      if (clientPromise !== undefined) await (await clientPromise.catch(() => undefined))?.close();
    },
  };
  return env;
}
