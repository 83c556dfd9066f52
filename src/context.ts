/**
 * Everything a command touches outside pure code, injected once from `main.ts`
 * so tests can swap streams, environment, clock and timers and filesystem locations.
 */
import type { Readable, Writable } from 'node:stream';
import { type Sleep, timerSleep } from './scheduler.js';

export interface OutStream extends Writable {
  isTTY?: boolean;
  columns?: number;
}

export interface InStream extends Readable {
  isTTY?: boolean;
}

export interface Context {
  stdin: InStream;
  stdout: OutStream;
  stderr: OutStream;
  /** Environment variables (a copy; never `process.env` itself in tests). */
  env: Record<string, string | undefined>;
  /** Unix milliseconds. */
  now: () => number;
  /** Waits on the same clock as `now` (polling, `--watch`, retry backoff); see `src/scheduler.ts`. */
  sleep: Sleep;
  /** Working directory for relative paths. */
  cwd: string;
  /** Home directory, for XDG defaults. */
  homeDir: string;
  /** Registers cleanup for SIGINT/SIGTERM; returns an unregister function. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

/** Builds the real context from the running process. Only `main.ts` calls this. */
export function processContext(): Context {
  // A reader that goes away (`flagscope query … | head`) is the end of the output, not a crash.
  const quitOnBrokenPipe = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  };
  process.stdout.on('error', quitOnBrokenPipe);
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: { ...process.env },
    now: () => Date.now(),
    sleep: timerSleep,
    cwd: process.cwd(),
    homeDir: process.env.HOME ?? process.cwd(),
    onSignal: (handler) => {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
  };
}
