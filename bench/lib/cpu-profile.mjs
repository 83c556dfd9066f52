/**
 * Summarises a V8 `.cpuprofile` (as written by `node --cpu-prof`): self time per function,
 * largest first, so a benchmark can print where a process's main thread spent its time.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The newest `.cpuprofile` in `dir`, or undefined. */
export async function newestProfile(dir) {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile')).sort();
  return names.length === 0 ? undefined : join(dir, names[names.length - 1]);
}

/**
 * Self time in milliseconds per function (`name file:line`, `(idle)`, `(garbage collector)`, …)
 * of the profile at `path`, largest first, with the profile's total.
 */
export async function selfTimes(path) {
  const profile = JSON.parse(await readFile(path, 'utf8'));
  const microsByNode = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = profile.samples[i];
    microsByNode.set(node, (microsByNode.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map();
  let totalMs = 0;
  for (const node of profile.nodes) {
    const ms = (microsByNode.get(node.id) ?? 0) / 1000;
    if (ms === 0) continue;
    totalMs += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split('/').slice(-2).join('/');
    const key = file === '' ? functionName || '(anonymous)' : `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
  }
  const entries = [...byFunction].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
  return { totalMs, entries };
}
