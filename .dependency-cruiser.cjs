/**
 * The layering rules of docs/architecture.md, checked by `npm run lint:deps` (part of `npm test`).
 * The pure core (query, stats, flags, compare, canary, demo's generator, ingest decoding) knows no I/O layer; the stores know
 * no HTTP; the API client and the CLI reach the server only through the wire types in src/api.
 */
const CORE = '^src/(query|stats|flags|compare|canary|demo|api|ingest)/';
const IO_MODULES = '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|worker_threads|dgram|cluster|tls|readline)$';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import circles make load order and layering unreadable', from: {}, to: { circular: true } },
    {
      name: 'core-imports-no-io-layer',
      severity: 'error',
      comment: 'the pure core is I/O free: it imports nothing from the stores, the server, the CLI, the client, output or config',
      from: { path: CORE },
      to: { path: '^src/(store|server|cli|client|output|config)/' },
    },
    {
      name: 'core-imports-no-io-module',
      severity: 'error',
      comment: 'the pure core does no I/O',
      from: { path: CORE },
      to: { path: [IO_MODULES, '^node_modules/(@duckdb|undici|ink|react|chalk|commander)/'], dependencyTypes: ['core', 'npm'] },
    },
    {
      name: 'store-imports-no-upper-layer',
      severity: 'error',
      comment: 'stores store, fetch and execute SQL: they know nothing of HTTP, the CLI or the client',
      from: { path: '^src/store/' },
      to: { path: '^src/(server|cli|client|output)/' },
    },
    {
      name: 'server-imports-no-cli',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(cli|client|output)/' },
    },
    {
      name: 'client-imports-no-server',
      severity: 'error',
      comment: 'the API client shares wire types with the server through src/api, never its code',
      from: { path: '^src/client/' },
      to: { path: '^src/(server|store|cli)/' },
    },
    {
      name: 'cli-reaches-server-only-to-start-it',
      severity: 'error',
      comment: 'commands talk to the server over HTTP; only `serve` and `demo` start one, through src/server/index.ts',
      from: { path: '^src/cli/', pathNot: '^src/cli/(serve|demo)/' },
      to: { path: '^src/(server|store)/' },
    },
    {
      name: 'cli-starts-server-through-its-entry',
      severity: 'error',
      from: { path: '^src/cli/(serve|demo)/' },
      to: { path: '^src/(server|store)/', pathNot: '^src/server/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.tsx', '.js'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
