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
import { packageVersion } from '../version.js';
import type { RunState } from './registration.js';
import { addGlobalOptions, examples } from './registration.js';

// commander through `require`: importing its ESM wrapper makes Node lex the
// CommonJS source for named exports on every start.
const commander = createRequire(import.meta.url)('commander') as typeof Commander;

type Register = (program: Command, state: RunState) => void;

/**
 * The nouns in the order `--help` lists them. Each registration file loads
 * only when its noun runs (or the whole tree is needed), and `term` and
 * `description` let the root help list every noun without loading any
 * (`test/unit/cli-program.test.ts` checks they match the real commands).
 */
export const NOUNS: ReadonlyArray<{ name: string; term: string; description: string; load: () => Promise<Register> }> = [
  {
    name: 'serve',
    term: 'serve [options]',
    description: 'run the embedded server: ingest, query, flags, OFREP',
    load: async () => (await import('./serve/index.js')).registerServe,
  },
  {
    name: 'events',
    term: 'events',
    description: 'send, list and follow events',
    load: async () => (await import('./events/index.js')).registerEvents,
  },
  {
    name: 'datasets',
    term: 'datasets',
    description: 'list datasets: events, columns, time span, size on disk, retention',
    load: async () => (await import('./datasets/index.js')).registerDatasets,
  },
  {
    name: 'columns',
    term: 'columns [options] <dataset>',
    description: "list a dataset's columns, their types and mistyped values; or change a column's type",
    load: async () => (await import('./columns/index.js')).registerColumns,
  },
  {
    name: 'query',
    term: 'query [options] <dataset>',
    description: 'run a Honeycomb-style query: calculations by breakdown over a time range',
    load: async () => (await import('./query/index.js')).registerQuery,
  },
  {
    name: 'compare',
    term: 'compare [options] <flag>',
    description: 'compare the cohorts of a flag (or of combinations of flags) on metrics, peeking-safe and FDR-controlled',
    load: async () => (await import('./compare/index.js')).registerCompare,
  },
  {
    name: 'explain',
    term: 'explain [options] <dataset>',
    description: 'find what sets the selected events apart from the rest: columns, values and flag combinations, ranked, FDR-controlled',
    load: async () => (await import('./explain/index.js')).registerExplain,
  },
  {
    name: 'flags',
    term: 'flags',
    description: 'manage feature flags: list, get, create, set, toggle, target, archive, history, eval, export, import',
    load: async () => (await import('./flags/index.js')).registerFlags,
  },
  {
    name: 'buttons',
    term: 'buttons [options]',
    description: "the quick red buttons: every service's kill switches, state, last press and runbook",
    load: async () => (await import('./buttons/index.js')).registerButtons,
  },
  {
    name: 'canary',
    term: 'canary',
    description: 'start, follow and steer a server-side canary ramp; gate CI on it',
    load: async () => (await import('./canary/index.js')).registerCanary,
  },
  {
    name: 'canaries',
    term: 'canaries [options]',
    description: 'list the canaries in flight: step, traffic, guards and next decision',
    load: async () => (await import('./canary/index.js')).registerCanaries,
  },
  {
    name: 'keys',
    term: 'keys',
    description: 'API keys with scopes (needs an admin key)',
    load: async () => (await import('./keys/index.js')).registerKeys,
  },
  {
    name: 'auth',
    term: 'auth',
    description: 'log in with an API key (checked, saved to a 0600 profile), see who you are, log out',
    load: async () => (await import('./auth/index.js')).registerAuth,
  },
  {
    name: 'config',
    term: 'config',
    description: "read and change the config file: the default profile, and each profile's API URL",
    load: async () => (await import('./config/index.js')).registerConfig,
  },
  {
    name: 'demo',
    term: 'demo [options]',
    description: 'start a server with realistic seeded data and walk through what flagscope does',
    load: async () => (await import('./demo/index.js')).registerDemo,
  },
  {
    name: 'completion',
    term: 'completion <shell>',
    description: 'print a shell completion script',
    load: async () => (await import('./completion/index.js')).registerCompletion,
  },
];

/** Global options that take a value, for finding the noun in argv without parsing it. */
const VALUE_OPTIONS = new Set(['--api-url', '--api-key', '--profile', '--format', '--timeout']);

/**
 * Which nouns a run needs: the one it names; every noun for an unknown
 * command (for suggestions) or completion (which walks the whole tree); or
 * `'stubs'`, the nouns listed by name only, when it names none (root help,
 * `--version`).
 */
export function nounsFor(argv: readonly string[]): 'all' | 'stubs' | string {
  const names = new Set(NOUNS.map((n) => n.name));
  const positionals: string[] = [];
  for (let i = 0; i < argv.length && positionals.length < 2; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    positionals.push(arg);
  }
  let noun = positionals[0];
  if (noun === 'help') noun = positionals[1];
  if (noun === undefined) return 'stubs';
  if (noun === '__complete' || noun === 'completion') return 'all';
  return names.has(noun) ? noun : 'all';
}

/**
 * Builds the command tree: every noun (`'all'`, the default: the completion
 * generator and tests), one noun by name, or `'stubs'`: every noun listed
 * by name only, enough for the root help.
 */
export async function buildProgram(state: RunState, nouns: 'all' | 'stubs' | string = 'all'): Promise<Command> {
  const { ctx } = state;
  const program = new commander.Command('flagscope');
  program
    .description('query wide events, compare feature-flag cohorts, manage flags and press kill switches')
    .version(packageVersion(), '--version', 'print the version')
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
  if (nouns === 'stubs') {
    const terms = new Map(NOUNS.map((n) => [n.name, n.term]));
    program.configureHelp({
      showGlobalOptions: true,
      sortSubcommands: false,
      subcommandTerm: (cmd) => terms.get(cmd.name()) ?? new commander.Help().subcommandTerm(cmd),
    });
    for (const noun of NOUNS) program.command(noun.name).description(noun.description);
  } else {
    const selected = nouns === 'all' ? NOUNS : NOUNS.filter((n) => n.name === nouns);
    const registers = await Promise.all(selected.map((n) => n.load()));
    for (const register of registers) register(program, state);
  }
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

/** The names of the subcommands `--help` lists under `cmd`. */
function visibleSubcommands(cmd: Command): string[] {
  return cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name());
}

/** The command whose parsing failed, for the hint of a usage error. */
const failedCommands = new WeakMap<CommanderError, Command>();

/** Parses `argv` (without node and script) and runs the command; resolves to the exit code. */
export async function runCli(argv: string[], ctx: Context): Promise<number> {
  const state: RunState = { ctx, exitCode: 0, runCli };
  const program = await buildProgram(state, nounsFor(argv));
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    const topic = helpTopic(program, argv);
    if (topic?.kind === 'unknown') throw await unknownCommandError(topic.name, topic.parent);
    // `help A B` is `A B --help`: commander's own help command shows a group's help for `help A B`, with exit 2.
    await program.parseAsync(topic === undefined ? argv : topic.argv, { from: 'user' });
    return state.exitCode;
  } catch (e) {
    if (e instanceof commander.CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // A command group run without a subcommand: commander has printed its help on stderr.
      if (e.code === 'commander.help') return 2;
    }
    // Error formatting loads only on failure, keeping `--help` light.
    const { commanderToFlagscope, misspeltSubcommand, reportError, scanOutputFlags } = await import('./report-error.js');
    let error: unknown = e;
    if (e instanceof commander.CommanderError) {
      const failed = failedCommands.get(e) ?? program;
      // A command that runs on its own and has verbs (`buttons`, `buttons press`) reads a
      // misspelt verb as its own argument: say it is the verb that is unknown, not the options after it.
      error =
        (e.code === 'commander.unknownOption' || e.code === 'commander.excessArguments'
          ? misspeltSubcommand(failed.args[0], visibleSubcommands(failed), commandPath(failed))
          : undefined) ?? commanderToFlagscope(e, commandPath(failed));
    }
    const scanned = scanOutputFlags(argv);
    const mode = {
      json: state.flags !== undefined ? state.flags.json === true || state.flags.format === 'json' : scanned.json,
      verbose: state.flags?.verbose ?? scanned.verbose,
    };
    return reportError(error, ctx.stderr, mode);
  }
}

/**
 * For `flagscope help A B`: the first of A, B that is not a command of the one before it (commander
 * would print the general help for it), or the arguments that show the help of `A B`; undefined
 * when the run is not `help …`.
 */
export function helpTopic(
  program: Command,
  argv: readonly string[],
): { kind: 'unknown'; name: string; parent: Command } | { kind: 'known'; argv: string[] } | undefined {
  const helpAt = argv.findIndex((arg, i) => !arg.startsWith('-') && !VALUE_OPTIONS.has(argv[i - 1] ?? ''));
  if (helpAt < 0 || argv[helpAt] !== 'help' || argv.slice(0, helpAt).includes('--')) return undefined;
  const rest = argv.slice(helpAt + 1);
  let parent = program;
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i] as string;
    if (name === '--') break;
    if (name.startsWith('-')) {
      if (VALUE_OPTIONS.has(name)) i++;
      continue;
    }
    if (name === 'help') return undefined;
    const child = parent.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (child === undefined) return { kind: 'unknown', name, parent };
    parent = child;
  }
  return { kind: 'known', argv: [...argv.slice(0, helpAt), ...rest, '--help'] };
}

async function unknownCommandError(name: string, parent: Command): Promise<Error> {
  const [{ FlagscopeError }, { closestName }] = await Promise.all([import('../errors.js'), import('../query/suggest.js')]);
  const names = parent.commands.map((c) => c.name()).filter((n) => n !== 'help');
  const near = closestName(name, names);
  const path = commandPath(parent);
  return new FlagscopeError(
    'usage',
    `unknown command '${name}'${parent.parent === null ? '' : ` for '${path}'`}`,
    `${near === undefined ? '' : `did you mean ${near}? `}run \`${path} --help\``,
  );
}
