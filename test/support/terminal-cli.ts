import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { createMemoryContext } from './memory-context.js';

/**
 * Runs a command in-process as on a terminal (stdin and stdout TTYs, no colour), typing `stdin`,
 * against the server at `apiUrl` with `apiKey`; its config lives under `dir`.
 */
export async function runOnTerminal(
  argv: string[],
  stdin: string,
  { dir, apiUrl, apiKey }: { dir: string; apiUrl: string; apiKey: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const ctx = createMemoryContext({
    cwd: dir,
    stdin,
    stdinTTY: true,
    stdoutTTY: true,
    env: { XDG_CONFIG_HOME: join(dir, 'config'), NO_COLOR: '1' },
  });
  const code = await runCli([...argv, '--api-url', apiUrl, '--api-key', apiKey], ctx);
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText() };
}
