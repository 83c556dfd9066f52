/**
 * A throwaway PostgreSQL cluster per test file (the code is bench/lib/postgres.mjs, plain
 * JavaScript so bench scripts use it too):
 *
 *     const unavailable = postgresUnavailable();   // describe.skipIf(unavailable !== undefined)
 *     beforeAll(async () => { cluster = await startPostgres(); });
 *     afterAll(() => cluster?.stop());
 *     const url = await cluster.createDatabase('my_test');
 */
export { type PostgresCluster, postgresUnavailable, startPostgres } from '../../bench/lib/postgres.mjs';
