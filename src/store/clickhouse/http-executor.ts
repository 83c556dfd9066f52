/**
 * The production executor: `@clickhouse/client` over HTTP(S). Parameters travel as ClickHouse
 * query parameters (`param_<name>` beside the statement), never in its text; an insert resolves
 * once the server has answered it, that is once the rows are written (no async insert).
 */
import { type ClickHouseClient, type ClickHouseSettings, createClient } from '@clickhouse/client';
import { FlagscopeError } from '../../errors.js';
import type { SqlRow } from '../types.js';
import { type ClickHouseExecutor, type ClickHouseParams, type CompactResult, SESSION_SETTINGS } from './executor.js';
import { decodeRows } from './decode.js';

/** Where a `clickhouse://` or `clickhouses://` URL points, and as whom. */
export interface HttpTarget {
  /** `http://host:port` or `https://host:port`. */
  url: string;
  username?: string;
  password?: string;
  database: string;
}

/**
 * Reads `clickhouse://user:password@host:8123/database` (`clickhouses://` for HTTPS; port 8123 and
 * 8443 by default; database `default`). Throws a usage error naming the form for anything else.
 */
export function parseClickHouseUrl(text: string): HttpTarget {
  const hint = 'pass `--event-store clickhouse://USER:PASSWORD@HOST:8123/DATABASE` (`clickhouses://` for HTTPS)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new FlagscopeError('usage', `\`${redact(text)}\` is not a ClickHouse URL`, hint);
  }
  const secure = url.protocol === 'clickhouses:';
  if (!secure && url.protocol !== 'clickhouse:') throw new FlagscopeError('usage', `\`${redact(text)}\` is not a ClickHouse URL`, hint);
  if (url.hostname === '') throw new FlagscopeError('usage', `\`${redact(text)}\` names no host`, hint);
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'default';
  if (!/^[A-Za-z0-9_]+$/.test(database)) {
    throw new FlagscopeError(
      'usage',
      `ClickHouse database name ${JSON.stringify(database)} has characters other than letters, digits and _`,
      hint,
    );
  }
  const target: HttpTarget = { url: `${secure ? 'https' : 'http'}://${url.hostname}:${url.port || (secure ? '8443' : '8123')}`, database };
  if (url.username !== '') target.username = decodeURIComponent(url.username);
  if (url.password !== '') target.password = decodeURIComponent(url.password);
  return target;
}

/** The URL without its password, for messages. */
export function redact(text: string): string {
  return text.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

export class HttpExecutor implements ClickHouseExecutor {
  readonly description: string;
  private readonly client: ClickHouseClient;

  constructor(target: HttpTarget) {
    this.description = `${target.url}/${target.database}`;
    this.client = createClient({
      url: target.url,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      database: target.database,
      clickhouse_settings: { ...SESSION_SETTINGS, async_insert: 0, wait_end_of_query: 1 } satisfies ClickHouseSettings,
    });
  }

  async query(sql: string, params: ClickHouseParams = {}, signal?: AbortSignal): Promise<SqlRow[]> {
    const result = await this.client.query({
      query: sql,
      query_params: { ...params },
      format: 'JSONCompact',
      ...(signal === undefined ? {} : { abort_signal: signal }),
    });
    return decodeRows((await result.json()) as unknown as CompactResult);
  }

  async command(sql: string, params: ClickHouseParams = {}): Promise<void> {
    await this.client.command({ query: sql, query_params: { ...params } });
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    // bigints are not JSON: their exact digits, which ClickHouse reads into Int64 columns.
    const values = rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(row)) out[key] = typeof value === 'bigint' ? value.toString() : value;
      return out;
    });
    await this.client.insert({ table, values, format: 'JSONEachRow' });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
