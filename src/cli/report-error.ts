/**
 * Prints a failure on stderr and returns its exit code: `error: …` and
 * `hint: …` lines, or with `--json` a single `{"error": {code, message, hint}}`
 * object. Anything that is not a `FlagscopeError` is a bug: exit 1, with the
 * stack only at `--verbose`.
 */
import { ExitCode, FlagscopeError } from '../errors.js';
import type { ExitCodeValue } from '../errors.js';
import type { OutStream } from '../context.js';
import { closestName, shortName } from '../query/suggest.js';

export interface ReportMode {
  json: boolean;
  verbose: boolean;
}

/** Writes the error to `stderr` and returns the exit code for it. */
export function reportError(e: unknown, stderr: OutStream, mode: ReportMode): ExitCodeValue {
  const error = e instanceof FlagscopeError ? e : internalError(e);
  if (mode.json) {
    const body: { code: string; message: string; hint?: string } = { code: error.code, message: error.message };
    if (error.hint !== undefined) body.hint = error.hint;
    stderr.write(`${JSON.stringify({ error: body })}\n`);
  } else {
    stderr.write(`error: ${error.message}\n`);
    if (error.hint !== undefined) stderr.write(`hint: ${error.hint}\n`);
  }
  if (mode.verbose && error.code === 'internal') {
    const original = error.cause instanceof Error ? error.cause : error;
    stderr.write(`${original.stack ?? String(original)}\n`);
  }
  return error.code === 'internal' ? ExitCode.internal : error.exitCode;
}

/**
 * Turns commander's own parse errors (unknown option, missing argument,
 * unknown command) into usage errors (exit 2) whose hint points at the
 * command's help; commander's "did you mean" suggestion joins the hint.
 */
export function commanderToFlagscope(err: { message: string }, commandName: string): FlagscopeError {
  const lines = err.message
    .replace(/^error: /, '')
    .split('\n')
    .filter((l) => l.trim().length > 0);
  const message = (lines[0] ?? 'invalid arguments').replace(/\.$/, '').replace(/\. ([A-Z])/g, (_, c: string) => `; ${c.toLowerCase()}`);
  const suggestion = lines
    .slice(1)
    .join(' ')
    .replace(/^\((.*)\)$/, '$1')
    .replace(/\?$/, '')
    .toLowerCase();
  const help = `run \`${commandName} --help\``;
  return new FlagscopeError('usage', message, suggestion.length > 0 ? `${suggestion}? ${help}` : help);
}

/**
 * The usage error for `word` given where `commandName` expects one of its verbs
 * `subcommands`, with the nearest verb; undefined when `word` is not such a
 * misspelling (an option, or a command without verbs).
 */
export function misspeltSubcommand(
  word: string | undefined,
  subcommands: readonly string[],
  commandName: string,
): FlagscopeError | undefined {
  if (word === undefined || word.startsWith('-') || subcommands.length === 0 || subcommands.includes(word)) return undefined;
  const nearest = closestName(word, subcommands);
  const help = `run \`${commandName} --help\``;
  return new FlagscopeError(
    'usage',
    `unknown command '${shortName(word)}' for \`${commandName}\``,
    nearest !== undefined ? `did you mean ${nearest}? ${help}` : `\`${commandName}\` takes ${subcommands.join(', ')}; ${help}`,
  );
}

function internalError(e: unknown): FlagscopeError {
  const message = e instanceof Error ? e.message : String(e);
  return new FlagscopeError(
    'internal',
    `unexpected failure: ${message.split('\n')[0]?.replace(/\.$/, '') ?? 'unknown'} (this is a bug)`,
    'run again with `--verbose` for the stack trace and report it',
    { cause: e },
  );
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
