/** The throwaway PostgreSQL of test/support/postgres.ts: databases are fresh and separate, and stop removes everything. */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresCluster, postgresUnavailable, startPostgres } from '../support/postgres.js';

const unavailable = postgresUnavailable();

describe.skipIf(unavailable !== undefined)(`throwaway PostgreSQL${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('gives each createDatabase a fresh database of its own', async () => {
    const a = await cluster.createDatabase('harness_a');
    const b = await cluster.createDatabase('harness_b');
    const clientA = new pg.Client({ connectionString: a });
    const clientB = new pg.Client({ connectionString: b });
    await clientA.connect();
    await clientB.connect();
    try {
      await clientA.query('CREATE TABLE t (x int)');
      await clientA.query('INSERT INTO t VALUES (1)');
      expect((await clientA.query('SELECT current_database() AS db, count(*)::int AS n FROM t')).rows).toEqual([{ db: 'harness_a', n: 1 }]);
      const inB = await clientB.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 't'");
      expect(inB.rows).toEqual([{ n: 0 }]);
      expect((await clientB.query('SHOW server_version')).rows[0].server_version).toMatch(/^15\./);
    } finally {
      await clientA.end();
      await clientB.end();
    }
  });

  it('stop ends the server and removes its directory', async () => {
    const other = await startPostgres();
    const url = await other.createDatabase('gone');
    const dir = await (async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query('SHOW data_directory')).rows[0].data_directory as string;
      } finally {
        await c.end();
      }
    })();
    await other.stop();
    expect(existsSync(dir)).toBe(false);
    const client = new pg.Client({ connectionString: url });
    await expect(client.connect()).rejects.toThrow();
  }, 60_000);
});
