/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` in a temporary directory, a
 * server on a free loopback port, one fresh database per `createDatabase`, and `stop()` that
 * kills the server and removes the directory. Uses Debian's PostgreSQL binaries (installed by
 * `.ci/run`); as root it runs them as the `postgres` user, since PostgreSQL refuses to run as root.
 *
 * Plain JavaScript, so a bench script imports it as it is (`const cluster = await
 * startPostgres()`, then `cluster.stop()`); tests import it through test/support/postgres.ts.
 * Types: postgres.d.mts.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Where Debian puts the server binaries (the newest version installed); `FLAGSCOPE_TEST_PG_BIN` overrides it. */
const PG_BIN = process.env.FLAGSCOPE_TEST_PG_BIN ?? debianPgBin();

function debianPgBin() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0] ?? '15';
  return join(root, newest, 'bin');
}

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable() {
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(join(PG_BIN, 'pg_ctl'))) {
    return `PostgreSQL server binaries not found in ${PG_BIN} (install Debian's \`postgresql\`, or set FLAGSCOPE_TEST_PG_BIN)`;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (free when asked: the server binds it right after). */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
async function runPg(binary, args) {
  const path = join(PG_BIN, binary);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const [command, commandArgs] = asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  try {
    await run(command, commandArgs, { env: { ...process.env, LC_ALL: 'C' } });
  } catch (e) {
    const error = e;
    throw new Error(`${binary} ${args.join(' ')} failed: ${error.stderr ?? ''}${error.stdout ?? ''}${error.message}`, { cause: e });
  }
}

/** The uid and gid of the `postgres` user, read from `id`. */
async function postgresIds() {
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/** Starts a fresh PostgreSQL cluster in a temporary directory on a free port. */
export async function startPostgres() {
  const unavailable = postgresUnavailable();
  if (unavailable !== undefined) throw new Error(unavailable);
  const dir = await mkdtemp(join(tmpdir(), 'flagscope-pg-'));
  const dataDir = join(dir, 'data');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  let started = false;
  try {
    await runPg('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await runPg('pg_ctl', [
          '-D',
          dataDir,
          '-l',
          join(dir, 'server.log'),
          '-o',
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
          '-w',
          'start',
        ]);
        break;
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
    started = true;
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    let stopped = false;
    return {
      adminUrl,
      port,
      async createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name} must be lower-case letters, digits and _`);
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await runPg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    if (!started) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
