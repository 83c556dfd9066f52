/**
 * The classic-script form of the beacon snippet (browser/flagscope-beacons.iife.js): the file in
 * the repository is what scripts/browser-iife.mjs makes of the ES module, and it runs as a plain
 * script, exposing the module's functions on `flagscopeBeacons`. The real-browser test loads it
 * with `<script src>` in Chromium.
 */
import { readFile } from 'node:fs/promises';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as snippet from '../../../browser/flagscope-beacons.js';
import { IIFE_PATH, MODULE_PATH, iifeOf } from '../../../scripts/browser-iife.mjs';

describe('browser/flagscope-beacons.iife.js', () => {
  it('is the ES module made into a script (regenerate with `node scripts/browser-iife.mjs`)', async () => {
    const [source, committed] = await Promise.all([readFile(MODULE_PATH, 'utf8'), readFile(IIFE_PATH, 'utf8')]);
    expect(committed, 'regenerate with `node scripts/browser-iife.mjs`').toBe(iifeOf(source));
  });

  it('runs as a plain script and exposes every export of the module, working the same', async () => {
    const sandbox: Record<string, any> = {};
    sandbox.globalThis = sandbox;
    runInNewContext(await readFile(IIFE_PATH, 'utf8'), sandbox);
    const exposed = sandbox.flagscopeBeacons;
    expect(Object.keys(exposed).sort()).toEqual(Object.keys(snippet).sort());
    const lcp = { name: 'LCP', value: 800, rating: 'good', attribution: { target: '#hero', elementRenderDelay: 12 } };
    expect(exposed.vitalColumns(lcp)).toEqual(snippet.vitalColumns(lcp));
    expect(exposed.fitBeacon({ execution_id: 'e' }, { 'page.a': 'x'.repeat(2000) })).toEqual(
      snippet.fitBeacon({ execution_id: 'e' }, { 'page.a': 'x'.repeat(2000) }),
    );
    expect(Object.isFrozen(exposed)).toBe(true);
  });

  it('refuses a module whose exports it cannot carry over', () => {
    expect(() => iifeOf("import { x } from './x.js';\nexport function f() {}\n")).toThrow(/cannot turn "import/);
    expect(() => iifeOf('export default function f() {}\n')).toThrow(/cannot turn "export default/);
    expect(iifeOf('export const A = 1;\nexport function f() {\n  return A;\n}\n')).toContain(
      'globalThis.flagscopeBeacons = Object.freeze({ A, f });',
    );
  });
});
