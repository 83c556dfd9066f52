/** Types of postgres.mjs: a throwaway PostgreSQL cluster for tests and benchmarks. */
export interface PostgresCluster {
  /** The superuser URL of the `postgres` database (for administration, e.g. `pg_terminate_backend`). */
  readonly adminUrl: string;
  readonly port: number;
  /** Creates a fresh database (lower-case letters, digits and `_`) and resolves to its connection URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server at once (`pg_ctl stop -m immediate`) and removes its directory. */
  stop(): Promise<void>;
}

/** Why PostgreSQL cannot be started here (its binaries are missing), or undefined when it can. */
export function postgresUnavailable(): string | undefined;

/** Starts a fresh PostgreSQL cluster in a temporary directory on a free loopback port. */
export function startPostgres(): Promise<PostgresCluster>;
