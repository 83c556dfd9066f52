// Adds lock entries for DuckDB platform bindings that this registry mirror does not serve, so `npm ci` accepts the lock file.
// Run after any `npm install` that rewrites package-lock.json.
const fs = require('node:fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const plat = {
  'darwin-arm64': [['darwin'], ['arm64']],
  'darwin-x64': [['darwin'], ['x64']],
  'linux-arm64': [['linux'], ['arm64']],
  'linux-arm64-musl': [['linux'], ['arm64']],
  'win32-arm64': [['win32'], ['arm64']],
  'win32-x64': [['win32'], ['x64']],
};
const ver = lock.packages['node_modules/@duckdb/node-bindings'].version;
for (const [k, [os, cpu]] of Object.entries(plat)) {
  const key = `node_modules/@duckdb/node-bindings-${k}`;
  if (!lock.packages[key]) lock.packages[key] = { version: ver, cpu, license: 'MIT', optional: true, os };
}
fs.writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
