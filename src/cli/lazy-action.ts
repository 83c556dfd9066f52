/**
 * Binds a command to a verb module loaded only when the command runs, so
 * `flagscope --help` and the registration files stay free of heavy imports.
 */
import type { Command } from './commander.js';
import type { Context } from '../context.js';
import type { CommandEnv } from './command-env.js';
import type { GlobalFlags } from './global-options.js';

/** Mutable state of one `runCli` call, shared by the program and its actions. */
export interface RunState {
  ctx: Context;
  exitCode: number;
  /** Set once an action starts: the parsed global and command options. */
  flags?: GlobalFlags;
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
