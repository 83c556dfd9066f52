/**
 * How the demo runs flagscope commands: through the real command line, in this process, against
 * the demo server, with a terminal's stdout of the demo's width. The demo prints the command as
 * typed and then what it printed, so every command shown is the command that ran, and can be run
 * again by copy and paste against the data of `flagscope demo --keep`.
 */
import { Readable, Writable } from 'node:stream';
import type { Context, InStream, OutStream } from '../../context.js';
import { FlagscopeError } from '../../errors.js';
import type { CommandRun } from './step-types.js';

export interface DemoCommandOptions {
  /** The command line; without it the demo cannot run commands. */
  runCli: ((argv: string[], ctx: Context) => Promise<number>) | undefined;
  /** The demo's context: clock, sleep, environment. */
  ctx: Context;
  /** The demo's clock (the server's). */
  now: () => number;
  serverUrl: string;
  apiKey: string;
  /** Colour as the demo prints it. */
  color: boolean;
  /** Columns of the terminal the commands print to. */
  width: number;
  /** A directory without a flagscope config: commands read only the environment given here. */
  homeDir: string;
}

/** A command line as a person would type it in a POSIX shell. */
export function shellLine(args: readonly string[]): string {
  return ['flagscope', ...args].map(shellWord).join(' ');
}

/** One word for a POSIX shell: bare when safe, else in single quotes. */
export function shellWord(word: string): string {
  if (/^[A-Za-z0-9_./:=@,+%-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Runs `flagscope ARGS` against the demo server in this process and answers what it printed. */
export function createCommandRunner(options: DemoCommandOptions): (args: readonly string[]) => Promise<CommandRun> {
  const env: Record<string, string | undefined> = {
    FLAGSCOPE_API_URL: options.serverUrl,
    FLAGSCOPE_API_KEY: options.apiKey,
    ...(options.color ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' }),
  };
  return async (args) => {
    const runCli = options.runCli;
    if (runCli === undefined) {
      throw new FlagscopeError(
        'internal',
        `the demo cannot run \`${shellLine(args)}\` without the command line`,
        'pass `runCli` to runDemo',
      );
    }
    const stdout = capture(true, options.width);
    const stderr = capture(false, undefined);
    const stdin = Readable.from([]) as InStream;
    stdin.isTTY = false;
    const child: Context = {
      ...options.ctx,
      stdin,
      stdout: stdout.stream,
      stderr: stderr.stream,
      env: { ...env },
      now: options.now,
      homeDir: options.homeDir,
      onSignal: () => () => undefined,
    };
    const exitCode = await runCli([...args], child);
    return { stdout: stdout.text(), stderr: stderr.text(), exitCode };
  };
}

/** Parses the `--json` output of a command the demo ran; a failed command is an error of the demo. */
export function parseCommandJson<T>(args: readonly string[], run: CommandRun): T {
  if (run.exitCode !== 0) {
    throw new FlagscopeError(
      'internal',
      `the demo's command \`${shellLine(args)}\` failed (exit ${run.exitCode}): ${run.stderr.trim()}`,
      'report this as a bug',
    );
  }
  return JSON.parse(run.stdout) as T;
}

function capture(isTTY: boolean, columns: number | undefined): { stream: OutStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      callback();
    },
  }) as OutStream;
  stream.isTTY = isTTY;
  if (columns !== undefined) stream.columns = columns;
  return { stream, text: () => chunks.join('') };
}
