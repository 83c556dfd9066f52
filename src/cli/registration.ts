/**
 * What the registration files need, in one small module (each module on the
 * `flagscope --help` path costs start-up time): the global options, binding a
 * command to a verb module loaded only when the command runs, and help
 * helpers.
 */
import type { Command } from 'commander';
import type { Context } from '../context.js';
import type { CommandEnv } from './command-env.js';
import { DEFAULT_TIMEOUT, FORMAT_CHOICES, type GlobalFlags } from './global-options.js';

/**
 * Adds the options every command accepts to the root command. commander
 * recognises them before and after the subcommand name, and
 * `showGlobalOptions` lists them in every subcommand's help.
 */
export function addGlobalOptions(program: Command): void {
  program
    .option('--api-url <url>', 'flagscope API URL (env FLAGSCOPE_API_URL; default http://127.0.0.1:7070)')
    .option('--api-key <key>', 'API key (env FLAGSCOPE_API_KEY)')
    .option('--profile <name>', 'config profile to use (env FLAGSCOPE_PROFILE)')
    .addOption(
      program
        .createOption('--format <format>', 'output format (`flagd` only for `flags export`; `junit`, `github` only for `canary gate`)')
        .choices(FORMAT_CHOICES),
    )
    .option('--json', 'same as `--format json`')
    .option('--no-color', 'no colour (also NO_COLOR, TERM=dumb; FORCE_COLOR turns it on)')
    .option('-q, --quiet', 'print results only, no progress or notes')
    .option('-v, --verbose', 'log requests and show stack traces of internal errors')
    .option('--timeout <duration>', `time to wait for the API, e.g. 10s, 2m (default ${DEFAULT_TIMEOUT})`);
}

/** Mutable state of one `runCli` call, shared by the program and its actions. */
export interface RunState {
  ctx: Context;
  exitCode: number;
  /** Set once an action starts: the parsed global and command options. */
  flags?: GlobalFlags;
  /** The command line itself, for commands that run other commands (the demo). */
  runCli?: (argv: string[], ctx: Context) => Promise<number>;
}

/**
 * A verb's implementation: receives the command environment, the processed
 * positional arguments and the command's own options; resolves to an exit
 * code (default 0) or throws a `FlagscopeError`.
 */
export type Verb = (env: CommandEnv, args: unknown[], options: Record<string, unknown>) => Promise<number | void>;

/** Sets the command's action to load `load()` and run the verb it returns. */
export function lazyAction(command: Command, state: RunState, load: () => Promise<Verb>): Command {
  return command.action(async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command;
    const flags = cmd.optsWithGlobals<GlobalFlags & Record<string, unknown>>();
    state.flags = flags;
    const [{ createCommandEnv }, verb] = await Promise.all([import('./command-env.js'), load()]);
    const env = createCommandEnv(state.ctx, flags, cmd);
    try {
      state.exitCode = (await verb(env, cmd.processedArgs, cmd.opts())) ?? 0;
    } finally {
      await env.dispose();
    }
  });
}

/** Formats an "Examples:" help section (added with `addHelpText('after', …)`). */
export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** Collects a repeatable option's values into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
