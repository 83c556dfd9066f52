/**
 * The in-process executor for tests and benchmarks: chDB, ClickHouse's own engine as a library
 * (the `chdb` npm package, a dev dependency loaded only when a `chdb:` store is opened). chDB binds
 * `{name:Type}` query parameters itself (`queryBindAsync`), so values stay out of the SQL text as
 * with the HTTP client. chDB allows one session per process: a second `chdb:` store in the same
 * process is refused.
 */
import { FlagscopeError } from '../../errors.js';
import type { SqlRow } from '../types.js';
import { type ClickHouseExecutor, type ClickHouseParams, jsonEachRow, rowsOfCompactText, SESSION_SETTINGS } from './executor.js';

interface ChdbSession {
  queryBindAsync(query: string, params: object, opts?: { format?: string; signal?: AbortSignal }): Promise<{ text(): string }>;
  insert(params: { table: string; values: Buffer; format: 'JSONEachRow' }): Promise<unknown>;
  close(): void;
}

let open: ChdbExecutor | undefined;

export class ChdbExecutor implements ClickHouseExecutor {
  readonly description: string;
  /** Statements run one at a time: a chDB session is one connection. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: ChdbSession,
    dir: string,
  ) {
    this.description = `chdb:${dir}`;
  }

  /** Opens a chDB session keeping its data in `dir`. */
  static async open(dir: string): Promise<ChdbExecutor> {
    if (open !== undefined) {
      throw new FlagscopeError(
        'usage',
        `a chdb: event store is already open in this process (${open.description})`,
        'close it first; chDB runs one session per process',
      );
    }
    let module: { Session: new (path: string) => ChdbSession };
    try {
      module = (await import('chdb')) as unknown as typeof module;
    } catch (error) {
      throw new FlagscopeError(
        'usage',
        'the chdb: event store needs the `chdb` package, which is not installed',
        'install it with `npm install --save-dev chdb` (it is for tests and benchmarks; use clickhouse:// in production)',
        { cause: error },
      );
    }
    const executor = new ChdbExecutor(new module.Session(dir), dir);
    open = executor;
    const settings = Object.entries(SESSION_SETTINGS)
      .map(([name, value]) => `${name} = ${typeof value === 'string' ? `'${value}'` : value}`)
      .join(', ');
    await executor.command(`SET ${settings}`);
    return executor;
  }

  query(sql: string, params: ClickHouseParams = {}, signal?: AbortSignal): Promise<SqlRow[]> {
    return this.serial(async () => {
      signal?.throwIfAborted();
      const result = await this.session.queryBindAsync(sql, params, { format: 'JSONCompact', ...(signal === undefined ? {} : { signal }) });
      return rowsOfCompactText(result.text());
    });
  }

  async command(sql: string, params: ClickHouseParams = {}): Promise<void> {
    await this.serial(() => this.session.queryBindAsync(sql, params, { format: 'JSONCompact' }));
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.serial(() => this.session.insert({ table, values: Buffer.from(jsonEachRow(rows)), format: 'JSONEachRow' }));
  }

  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    this.session.close();
    if (open === this) open = undefined;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
