/**
 * An in-memory `Context` for command tests (GitHub CLI's `iostreams.Test()`):
 * captured stdout and stderr with chosen TTY flags, stdin from a string, a
 * clock that moves only when the test advances it (a manual scheduler:
 * `sleep` waits on it, so no test sleeps for real), a fake environment, and
 * signals raised by the test.
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
  /** Unix milliseconds returned by `now()` until the test calls `advance`. Default 2026-01-15T12:00:00Z. */
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
  /** Moves the clock forward by `ms` and wakes the sleeps that are due, in time order. */
  advance(ms: number): Promise<void>;
  /** Sleeps waiting on the clock now. */
  pendingSleeps(): number;
  /** Resolves once at least `count` sleeps wait on the clock (default 1). */
  waitForSleep(count?: number): Promise<void>;
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
  const scheduler = manualScheduler(options.now ?? MEMORY_CONTEXT_NOW);
  return {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { ...options.env },
    now: scheduler.now,
    sleep: scheduler.sleep,
    advance: scheduler.advance,
    pendingSleeps: scheduler.pendingSleeps,
    waitForSleep: scheduler.waitForSleep,
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

interface ManualScheduler {
  now: () => number;
  sleep: Context['sleep'];
  advance: (ms: number) => Promise<void>;
  pendingSleeps: () => number;
  waitForSleep: (count?: number) => Promise<void>;
}

/** A clock that stands still until `advance`, and sleeps that wake only when it passes their time. */
function manualScheduler(start: number): ManualScheduler {
  let current = start;
  const sleepers = new Set<{ at: number; wake: () => void }>();
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };
  const sleep: Context['sleep'] = (ms, signal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal?.aborted === true) return resolve();
      const sleeper = {
        at: current + ms,
        wake: () => {
          sleepers.delete(sleeper);
          signal?.removeEventListener('abort', sleeper.wake);
          resolve();
        },
      };
      sleepers.add(sleeper);
      signal?.addEventListener('abort', sleeper.wake, { once: true });
      notify();
    });
  return {
    now: () => current,
    sleep,
    pendingSleeps: () => sleepers.size,
    waitForSleep: (count = 1) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (sleepers.size < count) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      }),
    advance: async (ms) => {
      const target = current + ms;
      for (;;) {
        const due = [...sleepers].filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        current = due.at;
        due.wake();
        // Let the woken code run up to its next sleep before the clock moves on.
        await new Promise((resolve) => setImmediate(resolve));
      }
      current = target;
    },
  };
}
