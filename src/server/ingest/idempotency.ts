/**
 * The answers of ingest requests sent with an `Idempotency-Key` (docs/api.md, "Idempotency"):
 * the first request with a key runs; the same key again, with the same request, within the
 * window gets the first answer back and stores nothing; while the first runs, the same key is
 * refused. Kept in memory by the server process (not across restarts, not across replicas),
 * bounded in keys and bytes, oldest answers evicted first. No I/O; the clock is injected.
 */

/** The bounds of the cache (from the server's limits). */
export interface IdempotencyLimits {
  /** How long an answer is given back, in milliseconds from when it was given. */
  windowMs: number;
  /** Answers kept at most; past it the oldest go. */
  maxKeys: number;
  /** Bytes of answers (and their keys) kept at most; past it the oldest go. */
  maxBytes: number;
}

/** A stored answer: its status, its body text ('' for none) and the headers of its own it carried (e.g. a warning). */
export interface StoredAnswer {
  status: number;
  body: string;
  headers?: Readonly<Record<string, string>>;
}

/** Bytes an answer is counted for. */
function answerBytes(answer: StoredAnswer): number {
  let bytes = answer.body.length;
  for (const name in answer.headers) bytes += name.length + (answer.headers[name] as string).length;
  return bytes;
}

/** What {@link IdempotencyCache.begin} decides for a request, before its body is read. */
export type IdempotencyStart =
  | {
      kind: 'first';
      /** Keeps the answer of the request `fingerprint` names for the window (a request that stored something). */
      complete(fingerprint: string, answer: StoredAnswer): void;
      /** Forgets the key (a request that stored nothing): the next request with it runs. */
      abandon(): void;
    }
  /** The key was answered: the same request (`fingerprint`) gets `answer` back. */
  | { kind: 'answered'; fingerprint: string; answer: StoredAnswer }
  | { kind: 'in_flight' };

interface Entry {
  /** Set once the first request is answered. */
  answer: StoredAnswer | undefined;
  fingerprint: string;
  /** Unix milliseconds the answer was stored at. */
  at: number;
  bytes: number;
}

export class IdempotencyCache {
  /** By scope; answered entries in the order their answers were stored (a Map keeps insertion order). */
  private readonly entries = new Map<string, Entry>();
  private answers = 0;
  private bytes = 0;

  constructor(
    private readonly limits: IdempotencyLimits,
    private readonly now: () => number,
  ) {}

  /** Answers kept now, and their bytes. */
  get size(): { keys: number; bytes: number } {
    return { keys: this.answers, bytes: this.bytes };
  }

  /**
   * Starts a request with `scope` (who sent it, where, and its key), before its body is read:
   * the first runs (and holds the key until it completes or abandons it), a repeat while it
   * runs is `in_flight`, a repeat after it gets the stored answer to compare its request with.
   */
  begin(scope: string): IdempotencyStart {
    this.expire();
    const entry = this.entries.get(scope);
    if (entry !== undefined) {
      if (entry.answer === undefined) return { kind: 'in_flight' };
      return { kind: 'answered', fingerprint: entry.fingerprint, answer: entry.answer };
    }
    const running: Entry = { answer: undefined, fingerprint: '', at: 0, bytes: 0 };
    this.entries.set(scope, running);
    let settled = false;
    return {
      kind: 'first',
      complete: (fingerprint, answer) => {
        if (settled) return;
        settled = true;
        this.entries.delete(scope);
        const bytes = scope.length + fingerprint.length + answerBytes(answer) + 64;
        if (bytes > this.limits.maxBytes) return;
        running.answer = answer;
        running.fingerprint = fingerprint;
        running.at = this.now();
        running.bytes = bytes;
        this.entries.set(scope, running);
        this.answers++;
        this.bytes += bytes;
        this.evict();
      },
      abandon: () => {
        if (settled) return;
        settled = true;
        if (this.entries.get(scope) === running) this.entries.delete(scope);
      },
    };
  }
  /** Drops the answers older than the window (the oldest come first). */
  private expire(): void {
    const oldest = this.now() - this.limits.windowMs;
    for (const [scope, entry] of this.entries) {
      if (entry.answer === undefined) continue;
      if (entry.at > oldest) return;
      this.drop(scope, entry);
    }
  }

  /** Drops the oldest answers while there are too many or they are too large. */
  private evict(): void {
    for (const [scope, entry] of this.entries) {
      if (this.answers <= this.limits.maxKeys && this.bytes <= this.limits.maxBytes) return;
      if (entry.answer !== undefined) this.drop(scope, entry);
    }
  }

  private drop(scope: string, entry: Entry): void {
    this.entries.delete(scope);
    this.answers--;
    this.bytes -= entry.bytes;
  }
}
