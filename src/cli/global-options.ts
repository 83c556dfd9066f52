/**
 * The options every command accepts. Registered on the root program; commander
 * recognises them before and after the subcommand name, and
 * `showGlobalOptions` lists them in every subcommand's help.
 */
import { Option } from './commander.js';
import type { Command } from './commander.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'ndjson'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Global option values as commander parses them (`optsWithGlobals()`). */
export interface GlobalFlags {
  apiUrl?: string;
  apiKey?: string;
  profile?: string;
  format?: OutputFormat;
  json?: boolean;
  /** `false` with `--no-color`. */
  color?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  timeout?: string;
}

export const DEFAULT_TIMEOUT = '30s';

/** Adds the global options to the root command. */
export function addGlobalOptions(program: Command): void {
  program
    .option('--api-url <url>', 'flagscope API URL (env FLAGSCOPE_API_URL; default http://127.0.0.1:7070)')
    .option('--api-key <key>', 'API key (env FLAGSCOPE_API_KEY)')
    .option('--profile <name>', 'config profile to use (env FLAGSCOPE_PROFILE)')
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS))
    .option('--json', 'same as `--format json`')
    .option('--no-color', 'no colour (also NO_COLOR, TERM=dumb; FORCE_COLOR turns it on)')
    .option('-q, --quiet', 'print results only, no progress or notes')
    .option('-v, --verbose', 'log requests and show stack traces of internal errors')
    .option('--timeout <duration>', `time to wait for the API, e.g. 10s, 2m (default ${DEFAULT_TIMEOUT})`);
}

/**
 * The output mode and verbosity, read from raw arguments. Used to format
 * errors that happen before or during parsing, when commander has not
 * produced option values.
 */
export function scanOutputFlags(argv: string[]): { json: boolean; verbose: boolean } {
  let json = false;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (arg === '--json' || arg === '--format=json' || (arg === '--format' && argv[i + 1] === 'json')) json = true;
    if (arg === '--verbose' || arg === '-v') verbose = true;
  }
  return { json, verbose };
}
