/**
 * An in-memory `Context` for command tests (GitHub CLI's `iostreams.Test()`):
 * captured stdout and stderr with chosen TTY flags, stdin from a string, a
 * fixed clock, a fake environment, and signals raised by the test.
 */
import { Readable, Writable } from 'node:stream';
import type { Context, InStream, OutStream } from '../../src/context.js';

export interface MemoryContextOptions {
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  stdinTTY?: boolean;
  /** Text read from stdin. Default empty. */
  stdin?: string;
  env?: Record<string, string | undefined>;
  /** Unix milliseconds returned by `now()`. Default 2026-01-15T12:00:00Z. */
  now?: number;
  cwd?: string;
  homeDir?: string;
  columns?: number;
}

export interface MemoryContext extends Context {
  /** Everything written to stdout so far. */
  stdoutText(): string;
  /** Everything written to stderr so far. */
  stderrText(): string;
  /** Resolves once everything written to stdout satisfies `predicate` (checked after every write). */
  waitForStdout(predicate: (text: string) => boolean): Promise<string>;
  /** Calls the registered signal handlers, as if the process got `signal`. */
  raiseSignal(signal: NodeJS.Signals): void;
}

export const MEMORY_CONTEXT_NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

interface Captured {
  stream: OutStream;
  text: () => string;
  waitFor: (predicate: (text: string) => boolean) => Promise<string>;
}

function capture(tty: boolean, columns: number | undefined): Captured {
  const chunks: string[] = [];
  const waiters = new Set<{ predicate: (text: string) => boolean; resolve: (text: string) => void }>();
  const check = (): void => {
    const text = chunks.join('');
    for (const w of [...waiters]) {
      if (w.predicate(text)) {
        waiters.delete(w);
        w.resolve(text);
      }
    }
  };
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      callback();
      check();
    },
  }) as OutStream;
  stream.isTTY = tty;
  if (columns !== undefined) stream.columns = columns;
  const waitFor = (predicate: (text: string) => boolean): Promise<string> =>
    new Promise((resolve) => {
      waiters.add({ predicate, resolve });
      check();
    });
  return { stream, text: () => chunks.join(''), waitFor };
}

/** Builds a context whose output is kept in memory. */
export function createMemoryContext(options: MemoryContextOptions = {}): MemoryContext {
  const stdout = capture(options.stdoutTTY ?? false, options.stdoutTTY ? (options.columns ?? 100) : undefined);
  const stderr = capture(options.stderrTTY ?? false, undefined);
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]) as InStream;
  stdin.isTTY = options.stdinTTY ?? false;
  const handlers = new Set<(signal: NodeJS.Signals) => void>();
  const now = options.now ?? MEMORY_CONTEXT_NOW;
  return {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { ...options.env },
    now: () => now,
    cwd: options.cwd ?? process.cwd(),
    homeDir: options.homeDir ?? '/nonexistent-home',
    onSignal: (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    stdoutText: stdout.text,
    stderrText: stderr.text,
    waitForStdout: stdout.waitFor,
    raiseSignal: (signal) => {
      for (const h of [...handlers]) h(signal);
    },
  };
}
