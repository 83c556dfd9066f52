/**
 * Builds browser/flagscope-beacons.iife.js, the classic-`<script>` form of the beacon snippet,
 * from the ES module: the same code in a function, its exports on `globalThis.flagscopeBeacons`.
 * `node scripts/browser-iife.mjs` writes it; test/unit/browser/beacons-iife.test.ts checks that
 * the committed file is what this makes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const MODULE_PATH = fileURLToPath(new URL('../browser/flagscope-beacons.js', import.meta.url));
export const IIFE_PATH = fileURLToPath(new URL('../browser/flagscope-beacons.iife.js', import.meta.url));

/** The IIFE text of the module's source: `export function|const NAME` lose `export`; any other export form is refused. */
export function iifeOf(source) {
  const names = [];
  const body = source.replace(/^export (function|const) ([A-Za-z_$][\w$]*)/gm, (_, kind, name) => {
    names.push(name);
    return `${kind} ${name}`;
  });
  const other = /^\s*(export|import)\b.*$/m.exec(body);
  if (other !== null)
    throw new Error(`browser-iife: cannot turn ${JSON.stringify(other[0])} into a script; export functions and constants only`);
  return [
    '/* Generated from flagscope-beacons.js by scripts/browser-iife.mjs; do not edit. Sets globalThis.flagscopeBeacons. */',
    '(() => {',
    "'use strict';",
    body.trimEnd(),
    `globalThis.flagscopeBeacons = Object.freeze({ ${names.join(', ')} });`,
    '})();',
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(IIFE_PATH, iifeOf(await readFile(MODULE_PATH, 'utf8')));
  console.log(`wrote ${IIFE_PATH}`);
}
