/** How the PostgreSQL control store names a database in messages (never its password) and what it says to do on failure. */
import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../src/errors.js';
import { connectionError, isPostgresUrl, redactUrl } from '../../src/store/postgres/connection.js';
import { SchemaTooNewError } from '../../src/store/postgres/schema.js';

describe('redactUrl', () => {
  it('hides the password, in the authority and in the query', () => {
    expect(redactUrl('postgres://app:s3cret@db.internal:5432/flags')).toBe('postgres://app:***@db.internal:5432/flags');
    expect(redactUrl('postgresql://app@db/flags?sslmode=require&password=s3cret')).toBe(
      'postgresql://app@db/flags?sslmode=require&password=***',
    );
    expect(redactUrl('postgres://db/flags')).toBe('postgres://db/flags');
  });

  it('hides what sits where a password would in a URL it cannot parse', () => {
    const shown = redactUrl('postgres://app:p@ss w0rd@[bad/flags');
    expect(shown).not.toContain('w0rd');
    expect(shown).toContain('***@');
  });
});

describe('isPostgresUrl', () => {
  it('takes postgres:// and postgresql:// only', () => {
    expect(isPostgresUrl('postgres://db/x')).toBe(true);
    expect(isPostgresUrl('POSTGRESQL://db/x')).toBe(true);
    expect(isPostgresUrl('duckdb:./data')).toBe(false);
    expect(isPostgresUrl('postgres:db')).toBe(false);
  });
});

describe('connectionError', () => {
  const url = 'postgres://app:s3cret@db:5432/flags';

  it('says what failed, why, and what to do for each kind of refusal', () => {
    const cases: Array<[unknown, RegExp]> = [
      [Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01' }), /user name and password/],
      [Object.assign(new Error('database "flags" does not exist'), { code: '3D000' }), /createdb/],
      [Object.assign(new Error('permission denied for schema public'), { code: '42501' }), /CREATE/],
      [Object.assign(new Error('sorry, too many clients already'), { code: '53300' }), /max_connections/],
      [Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }), /running and reachable/],
    ];
    for (const [cause, hint] of cases) {
      const error = connectionError(url, cause);
      expect(error).toBeInstanceOf(FlagscopeError);
      expect(error.code).toBe('unreachable');
      expect(error.exitCode).toBe(5);
      expect(error.message).toContain('postgres://app:***@db:5432/flags');
      expect(error.message).toContain((cause as Error).message);
      expect(error.message).not.toContain('s3cret');
      expect(error.hint).toMatch(hint);
    }
  });

  it('a schema newer than this build is a usage error, not an outage', () => {
    const error = connectionError(url, new SchemaTooNewError(9, 5));
    expect(error.code).toBe('usage');
    expect(error.message).toContain('schema version 9');
    expect(error.message).not.toContain('s3cret');
  });
});
