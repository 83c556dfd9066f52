/**
 * Reading a secret: a hidden prompt on a terminal (nothing echoed), or all of
 * a piped stdin. Pasted text with its Enter in the same chunk ends the line,
 * as typing it does; Esc, Ctrl-C and Ctrl-D on an empty line cancel.
 */
import type { InStream, OutStream } from '../../context.js';
import { FlagscopeError } from '../../errors.js';

/** A terminal stdin: `setRawMode` exists on a `tty.ReadStream`. */
type RawCapable = InStream & { setRawMode?: (mode: boolean) => unknown };

/** What one chunk of typed input does to the line being read. */
export type SecretInput = { kind: 'more'; line: string } | { kind: 'done'; line: string } | { kind: 'cancel' };

const ESCAPE_SEQUENCE = /\u001b(?:\[[0-9;?]*[A-Za-z~]|O[A-Za-z]|\[200~|\[201~)/g;

/** Applies one chunk of raw terminal input to `line` (pure; exported for tests). */
export function applySecretInput(line: string, chunk: string): SecretInput {
  if (chunk === '\u001b') return { kind: 'cancel' };
  let current = line;
  for (const char of chunk.replace(ESCAPE_SEQUENCE, '')) {
    if (char === '\r' || char === '\n') return { kind: 'done', line: current };
    if (char === '\u0003') return { kind: 'cancel' };
    if (char === '\u0004') {
      if (current.length === 0) return { kind: 'cancel' };
      return { kind: 'done', line: current };
    }
    if (char === '\u007f' || char === '\b') {
      current = current.slice(0, -1);
      continue;
    }
    if (char === '\u0015') {
      current = '';
      continue;
    }
    if (char < ' ') continue;
    current += char;
  }
  return { kind: 'more', line: current };
}

/** Prompts on stderr and reads one line from a terminal stdin without echoing it. */
export function promptHidden(stdin: InStream, stderr: OutStream, prompt: string): Promise<string> {
  const input = stdin as RawCapable;
  // Raw mode (no echo) before the prompt shows, so a key typed at once is never echoed.
  input.setRawMode?.(true);
  stderr.write(prompt);
  return new Promise<string>((resolve, reject) => {
    let line = '';
    const finish = (outcome: () => void): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode?.(false);
      input.pause();
      stderr.write('\n');
      outcome();
    };
    const onData = (data: Buffer | string): void => {
      const step = applySecretInput(line, typeof data === 'string' ? data : data.toString('utf8'));
      if (step.kind === 'more') line = step.line;
      else if (step.kind === 'done') finish(() => resolve(step.line));
      else finish(() => reject(new FlagscopeError('usage', 'login cancelled; nothing was saved')));
    };
    const onEnd = (): void => finish(() => resolve(line));
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

/** Reads all of stdin (a piped key), up to `maxBytes`. */
export async function readAllStdin(stdin: InStream, maxBytes = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes)
      throw new FlagscopeError('usage', `stdin holds more than ${maxBytes} bytes, which is not an API key`, 'pipe only the key');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
