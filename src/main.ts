import { processContext } from './context.js';
import { runCli } from './cli/program.js';

/** Entry point of `bin/flagscope`: runs the CLI on the real process and returns the exit code. */
export async function main(): Promise<number> {
  return runCli(process.argv.slice(2), processContext());
}
