/**
 * How the parts of the PostgreSQL control store (flags, canaries, beacon settings) run their
 * statements on the control store's pool, declared apart so the parts do not import the store.
 */
import type pg from 'pg';
import type { ControlChangeNotice } from '../types.js';

/** Runs an operation on a pooled connection; with `snapshot`, in one read-only repeatable-read transaction. */
export type PgRunner = <T>(operation: (client: pg.PoolClient) => Promise<T>, snapshot?: boolean) => Promise<T>;

/**
 * Runs a transaction under the config-write lock. `advance(n)` gives the transaction's n changes
 * the next n config versions and resolves to the last; the notice returned is announced to this
 * process's listeners after the commit (other processes hear of it through NOTIFY).
 */
export type FeedWriter = <T>(
  operation: (
    client: pg.PoolClient,
    advance: (count: number) => Promise<number>,
  ) => Promise<{ result: T; notice?: ControlChangeNotice | undefined }>,
) => Promise<T>;
