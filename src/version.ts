/**
 * flagscope's version, read from `package.json` once, for `flagscope
 * --version` and the server's `/healthz`. The file sits one level above this
 * module both in `src/` and in `dist/`.
 */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The `version` of flagscope's `package.json`; `0.0.0` when it cannot be read. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    cached = typeof manifest.version === 'string' ? manifest.version : '0.0.0';
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
