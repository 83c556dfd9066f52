/**
 * The global options every command accepts, as values and types: a leaf
 * module, so the registration helpers and the command environment both import
 * it without importing each other.
 */

export const OUTPUT_FORMATS = ['table', 'json', 'csv', 'ndjson'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** Formats only `canary gate` accepts: JUnit XML and GitHub Actions workflow commands. */
export const GATE_FORMATS = ['junit', 'github'] as const;
export type GateFormat = (typeof GATE_FORMATS)[number];
/** `--format` choices: the output formats, plus `flagd`, which only `flags export` accepts, and the gate's formats. */
export const FORMAT_CHOICES = [...OUTPUT_FORMATS, 'flagd', ...GATE_FORMATS] as const;

/** What `canary gate` prints: a table, JSON, JUnit XML or GitHub Actions workflow commands. */
export const CANARY_GATE_FORMATS = ['table', 'json', ...GATE_FORMATS] as const;

/**
 * The `--format` values a command takes, by its path (`flags export`): what completion offers
 * after that command's `--format`. Every other command prints the output formats.
 */
export const FORMATS_BY_COMMAND: Readonly<Record<string, readonly string[]>> = {
  '': FORMAT_CHOICES,
  'flags export': ['flagd'],
  'canary gate': CANARY_GATE_FORMATS,
};

/** Global option values as commander parses them (`optsWithGlobals()`). */
export interface GlobalFlags {
  apiUrl?: string;
  apiKey?: string;
  profile?: string;
  format?: OutputFormat | 'flagd' | GateFormat;
  json?: boolean;
  /** `false` with `--no-color`. */
  color?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  timeout?: string;
}

export const DEFAULT_TIMEOUT = '30s';
