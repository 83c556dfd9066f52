/**
 * The slice of Semantic Versioning 2.0.0 that flagd's `sem_ver` operator needs:
 * lenient parsing (a leading `v`/`V` is dropped, `1` and `1.2` mean `1.0.0` and
 * `1.2.0`) and precedence comparison. Pure; no dependency.
 */

export interface SemanticVersion {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers; numeric ones as numbers. Empty for a release. */
  prerelease: Array<string | number>;
}

const numeric = '0|[1-9]\\d*';
const prereleaseIdentifier = `(?:${numeric}|\\d*[a-zA-Z-][a-zA-Z0-9-]*)`;
const strictVersion = new RegExp(
  `^v?(${numeric})\\.(${numeric})\\.(${numeric})` +
    `(?:-(${prereleaseIdentifier}(?:\\.${prereleaseIdentifier})*))?` +
    `(?:\\+[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*)?$`,
);
const partialVersion = /^(\d+)(?:\.(\d+))?$/;
const maxVersionLength = 256;

function safeInteger(text: string): number | null {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Parses a version the way flagd's `sem_ver` does; `null` when it is not one.
 * Numbers are read through their decimal text (`1.2` → `1.2.0`).
 */
export function parseSemanticVersion(raw: unknown): SemanticVersion | null {
  if (raw === undefined) return null;
  const text = String(raw).replace(/^[vV]/, '');
  if (text.length > maxVersionLength) return null;
  const trimmed = text.trim();
  const strict = strictVersion.exec(trimmed);
  if (strict) {
    const major = safeInteger(strict[1]!);
    const minor = safeInteger(strict[2]!);
    const patch = safeInteger(strict[3]!);
    if (major === null || minor === null || patch === null) return null;
    const prerelease = strict[4] === undefined ? [] : strict[4].split('.').map((id) => (/^\d+$/.test(id) ? (safeInteger(id) ?? id) : id));
    return { major, minor, patch, prerelease };
  }
  const partial = partialVersion.exec(text);
  if (partial) {
    const major = safeInteger(partial[1]!);
    const minor = partial[2] === undefined ? 0 : safeInteger(partial[2]);
    if (major === null || minor === null) return null;
    return { major, minor, patch: 0, prerelease: [] };
  }
  return null;
}

function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Semantic-version precedence: negative, zero or positive. Build metadata is ignored. */
export function compareSemanticVersions(a: SemanticVersion, b: SemanticVersion): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const pa = a.prerelease;
  const pb = b.prerelease;
  if (pa.length === 0 && pb.length === 0) return 0;
  if (pa.length === 0) return 1;
  if (pb.length === 0) return -1;
  for (let i = 0; ; i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined && y === undefined) return 0;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = compareIdentifiers(x, y);
    if (c !== 0) return c;
  }
}
