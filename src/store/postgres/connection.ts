/**
 * Connecting to PostgreSQL: the URL as it may be shown (without its password), and the error a
 * user meets when the server cannot be reached or refuses us (what, why, what to do).
 */
import { FlagscopeError } from '../../errors.js';
import { SchemaTooNewError } from './schema.js';

/** `url` with any password replaced by `***`, fit for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const name of ['password', 'sslkey', 'sslpassword']) {
      if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    // Not a URL we can parse: hide the user and password, up to the last "@" before the path.
    return url.replace(/\/\/[^/]*@/, '//***@');
  }
}

/** Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** SQLSTATE classes and codes that mean "fix the set-up", with what to do about each. */
const HINTS: ReadonlyArray<[RegExp, string]> = [
  [/^28/, 'check the user name and password in the URL, and that pg_hba.conf lets this host in'],
  [/^3D000$/, 'create the database first (`createdb NAME`), or fix its name in the URL'],
  [/^42501$/, 'grant the user CREATE on the database (the store creates its tables at start), or run the first start as the owner'],
  [/^53300$/, 'the server has no connection slots left: raise max_connections or lower the replicas\u2019 pool sizes'],
  [/^57P03$/, 'the server is starting up or shutting down; retry in a moment'],
];

/**
 * The error for a failure to connect to (or prepare) the control database at `url`: names the
 * database without its password, says why, and what to do.
 */
export function connectionError(url: string, error: unknown): FlagscopeError {
  const where = redactUrl(url);
  if (error instanceof SchemaTooNewError) {
    return new FlagscopeError(
      'usage',
      `cannot use the control store ${where}: ${error.message}`,
      'run the newer flagscope, or a fresh database',
      {
        cause: error,
      },
    );
  }
  const e = error as Error & { code?: string };
  const reason = e?.message ?? String(error);
  const sqlState = typeof e?.code === 'string' ? e.code : '';
  const hint =
    HINTS.find(([pattern]) => pattern.test(sqlState))?.[1] ??
    (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|timeout/i.test(`${sqlState} ${reason}`)
      ? 'check that PostgreSQL is running and reachable at that host and port (try `psql URL`), and that the URL is right'
      : 'check the URL and that the PostgreSQL server is up (try `psql URL`)');
  return new FlagscopeError('unreachable', `cannot connect to the control store ${where}: ${reason}`, hint, { cause: error });
}
