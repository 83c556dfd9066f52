/**
 * The commander program. This module and the per-noun `index.ts` files only
 * declare commands, options and examples; each verb's implementation is
 * imported when its command runs, so `flagscope --help` loads commander and
 * nothing heavy.
 */
import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import type { Command, CommanderError } from 'commander';
import type { Context } from '../context.js';
import { registerColumns } from './columns/index.js';
import { registerCompletion } from './completion/index.js';
import { registerDatasets } from './datasets/index.js';
import { registerDemo } from './demo/index.js';
import { registerEvents } from './events/index.js';
import { registerFlags } from './flags/index.js';
import { registerButtons } from './buttons/index.js';
import { registerKeys } from './keys/index.js';
import type { RunState } from './registration.js';
import { addGlobalOptions, examples } from './registration.js';
import { registerQuery } from './query/index.js';
import { registerCompare } from './compare/index.js';
import { registerExplain } from './explain/index.js';
import { registerServe } from './serve/index.js';

// commander through `require`: importing its ESM wrapper makes Node lex the
// CommonJS source for named exports on every start.
const commander = createRequire(import.meta.url)('commander') as typeof Commander;

/** Version printed by `flagscope --version`. */
export const CLI_VERSION = '0.1.0';

/** Builds the full command tree; used by `runCli` and by the completion generator. */
export function buildProgram(state: RunState): Command {
  const { ctx } = state;
  const program = new commander.Command('flagscope');
  program
    .description('query wide events, compare feature-flag cohorts, ramp canaries and press kill switches')
    .version(CLI_VERSION, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: () => undefined,
      getOutHelpWidth: () => ctx.stdout.columns ?? 80,
      getErrHelpWidth: () => ctx.stderr.columns ?? 80,
    })
    .showSuggestionAfterError(true);
  addGlobalOptions(program);
  program.addHelpText(
    'after',
    examples([
      'flagscope serve',
      'flagscope events send checkout events.ndjson',
      "flagscope query checkout --calc 'P99(duration_ms)' --by service.name --since 2h",
      'flagscope datasets --json',
    ]) +
      '\nExit codes: 0 ok, 1 bug, 2 usage or invalid input, 3 not found, 4 auth refused, 5 server unreachable,\n' +
      '6 conflict, 10 gate regression, 11 gate inconclusive. Docs: docs/cli.md\n',
  );
  registerServe(program, state);
  registerEvents(program, state);
  registerDatasets(program, state);
  registerColumns(program, state);
  registerQuery(program, state);
  registerCompare(program, state);
  registerExplain(program, state);
  registerFlags(program, state);
  registerButtons(program, state);
  registerKeys(program, state);
  registerDemo(program, state);
  registerCompletion(program, state);
  forEachCommand(program, (cmd) => {
    cmd.exitOverride((err) => {
      failedCommands.set(err, cmd);
      throw err;
    });
  });
  return program;
}

/** Visits `root` and every subcommand, depth first. */
export function forEachCommand(root: Command, visit: (cmd: Command) => void): void {
  visit(root);
  for (const child of root.commands) forEachCommand(child, visit);
}

/** The full name of a command, e.g. `flagscope events send`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The command whose parsing failed, for the hint of a usage error. */
const failedCommands = new WeakMap<CommanderError, Command>();

/** Parses `argv` (without node and script) and runs the command; resolves to the exit code. */
export async function runCli(argv: string[], ctx: Context): Promise<number> {
  const state: RunState = { ctx, exitCode: 0 };
  const program = buildProgram(state);
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return state.exitCode;
  } catch (e) {
    if (e instanceof commander.CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // A command group run without a subcommand: commander has printed its help on stderr.
      if (e.code === 'commander.help') return 2;
    }
    // Error formatting loads only on failure, keeping `--help` light.
    const { commanderToFlagscope, reportError, scanOutputFlags } = await import('./report-error.js');
    const error = e instanceof commander.CommanderError ? commanderToFlagscope(e, commandPath(failedCommands.get(e) ?? program)) : e;
    const scanned = scanOutputFlags(argv);
    const mode = {
      json: state.flags !== undefined ? state.flags.json === true || state.flags.format === 'json' : scanned.json,
      verbose: state.flags?.verbose ?? scanned.verbose,
    };
    return reportError(error, ctx.stderr, mode);
  }
}
