/**
 * A client of the server's change stream (`GET /api/v1/stream`, server-sent events), as a flag
 * SDK in streaming mode holds one: the demo opens it before a kill-switch press to show that
 * the press reaches a subscribed client, and how soon.
 */
import { FlagscopeError } from '../../errors.js';

export interface FlagChange {
  /** The flag-config version of the change. */
  configVersion: number;
  flag: string;
  /** Wall milliseconds when the client read it. */
  receivedAt: number;
}

export interface StreamSubscriber {
  /** The next change of `flag` the client reads (each change is answered once). */
  nextChange(flag: string, timeoutMs: number): Promise<FlagChange>;
  close(): void;
}

/** Opens the stream; resolves once the server has said hello (the client is subscribed). */
export async function subscribeToChanges(serverUrl: string, apiKey: string): Promise<StreamSubscriber> {
  const abort = new AbortController();
  const response = await fetch(new URL('/api/v1/stream', serverUrl), {
    headers: { authorization: `Bearer ${apiKey}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (!response.ok || response.body === null) {
    abort.abort();
    throw new FlagscopeError('internal', `the change stream answered ${response.status}`, 'report this as a bug');
  }
  const changes: FlagChange[] = [];
  const waiters = new Set<() => void>();
  let hello: () => void = () => undefined;
  const said = new Promise<void>((resolve) => {
    hello = resolve;
  });
  const decoder = new TextDecoder();
  let buffer = '';
  const read = async (): Promise<void> => {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
        if (event === 'hello') hello();
        if (event === 'flag' && data !== undefined) {
          const parsed = JSON.parse(data) as { configVersion: number; flag: { key: string } };
          changes.push({ configVersion: parsed.configVersion, flag: parsed.flag.key, receivedAt: Date.now() });
          for (const wake of [...waiters]) wake();
        }
      }
    }
  };
  read().catch(() => undefined);
  await said;
  return {
    nextChange(flag, timeoutMs) {
      return new Promise((resolve, reject) => {
        const look = (): boolean => {
          const index = changes.findIndex((c) => c.flag === flag);
          if (index < 0) return false;
          const [found] = changes.splice(index, 1) as [FlagChange];
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
          return true;
        };
        const check = (): void => {
          look();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new FlagscopeError('internal', `the change stream carried no change of ${flag} within ${timeoutMs} ms`, 'report this as a bug'),
          );
        }, timeoutMs);
        waiters.add(check);
        look();
      });
    },
    close() {
      abort.abort();
    },
  };
}
