/**
 * The in-flight body memory of ingest: how many bytes of request bodies are being read, parsed
 * or waiting for their commit, across every request at once (`maxInflightBodyBytes`,
 * docs/api.md "Limits"). A request reserves its bytes before it reads them (its Content-Length,
 * or a running count of what it has read so far for a chunked or compressed body) and gives
 * them back when it is answered. No I/O: the routes decide what to do with a refusal.
 */

/** Bytes one request holds of the budget; grown as its body turns out larger, released once. */
export interface BodyReservation {
  /** Bytes held now. */
  readonly bytes: number;
  /**
   * Holds at least `total` bytes (a running count: the body read or decompressed so far). True
   * when they are held; false, holding what it held before, when they do not fit.
   */
  ensure(total: number): boolean;
  /** Gives the bytes back. Idempotent. */
  release(): void;
}

export class BodyBudget {
  private used = 0;
  private holders = 0;

  /** @param limit bytes of request bodies held at once */
  constructor(readonly limit: number) {}

  /** Bytes held by requests now. */
  get inflight(): number {
    return this.used;
  }

  /** Requests holding a reservation now. */
  get requests(): number {
    return this.holders;
  }

  /**
   * Reserves `bytes` for one request, or returns undefined when they do not fit. A request
   * alone always fits, whatever its size, so a body under the body-size limit is never refused
   * on a server that reads nothing else.
   */
  reserve(bytes: number): BodyReservation | undefined {
    if (!this.fits(bytes)) return undefined;
    this.used += bytes;
    this.holders++;
    let held = bytes;
    let released = false;
    return {
      get bytes() {
        return held;
      },
      ensure: (total: number): boolean => {
        if (released) return false;
        if (total <= held) return true;
        const more = total - held;
        // Alone, a request may grow past the limit (as it may reserve past it).
        if (this.holders > 1 && this.used + more > this.limit) return false;
        this.used += more;
        held = total;
        return true;
      },
      release: (): void => {
        if (released) return;
        released = true;
        this.used -= held;
        this.holders--;
      },
    };
  }

  private fits(bytes: number): boolean {
    return this.holders === 0 || this.used + bytes <= this.limit;
  }
}
