import { Command } from 'commander';
import type { Context } from '../context.js';

/** Parses `argv` (without node and script) and runs the command; resolves to the exit code. */
export async function runCli(argv: string[], ctx: Context): Promise<number> {
  const program = new Command('flagscope');
  program.description('query wide events, compare flag cohorts, ramp canaries, press kill switches');
  program.configureOutput({
    writeOut: (s) => ctx.stdout.write(s),
    writeErr: (s) => ctx.stderr.write(s),
  });
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    return 2;
  }
}
