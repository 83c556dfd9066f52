/**
 * API keys: generation, hashing and the in-memory lookup the server checks on
 * every request (one sha256 and one Map lookup; the store is never queried per request).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { FlagscopeError } from '../../errors.js';
import { scopesAllow, type ApiKeyScope } from '../../api/keys.js';
import type { ApiKeyRecord } from '../../store/types.js';

export const API_KEY_PREFIX = 'fsk_';

/** A new secret key: `fsk_` + base64url of 32 random bytes (256 bits). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** A new public key id: `key_` + 12 hex characters. */
export function generateKeyId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

/**
 * Hex sha256 of a key. A fast unsalted hash is enough: keys are 256-bit random
 * values, so there is nothing to brute-force from a leaked hash.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The key text a request carries: `X-Honeycomb-Team`, else `Authorization: Bearer`. */
export function requestApiKey(headers: IncomingHttpHeaders): string | undefined {
  const team = headers['x-honeycomb-team'];
  if (typeof team === 'string' && team.length > 0) return team.trim();
  const auth = headers.authorization;
  return typeof auth === 'string' ? bearerToken(auth) : undefined;
}

const BEARER = 'bearer';

/** The token of `Bearer <token>` (scheme in any case, one token, spaces around), else undefined. */
function bearerToken(header: string): string | undefined {
  // The same as /^Bearer\s+(\S+)\s*$/i, by hand and without a string made: this runs on every request.
  if (header.length < 8) return undefined;
  for (let i = 0; i < 6; i++) if ((header.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return undefined;
  let start = 6;
  while (start < header.length && isSpace(header.charCodeAt(start))) start++;
  if (start === 6 || start === header.length) return undefined;
  let end = start;
  while (end < header.length && !isSpace(header.charCodeAt(end))) end++;
  for (let i = end; i < header.length; i++) if (!isSpace(header.charCodeAt(i))) return undefined;
  return header.slice(start, end);
}

/** The characters JavaScript's `\s` matches. */
function isSpace(code: number): boolean {
  if (code === 32 || (code >= 9 && code <= 13) || code === 0xa0) return true;
  if (code < 0x1680) return false;
  return (
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** Distinct key texts whose lookup is remembered (bounded, so random wrong keys cannot grow memory). */
const LOOKUP_CACHE_SIZE = 1024;

/** The valid (unrevoked) keys, by hash. */
export class KeyRing {
  private readonly byHash = new Map<string, ApiKeyRecord>();
  /** Key text → valid key, so the hot path skips the sha256; emptied on every change. */
  private readonly lookups = new Map<string, ApiKeyRecord>();

  constructor(keys: Iterable<ApiKeyRecord> = []) {
    for (const key of keys) this.put(key);
  }

  /** Adds or replaces a key; a revoked key is removed. */
  put(key: ApiKeyRecord): void {
    this.lookups.clear();
    if (key.revoked_at === null) this.byHash.set(key.hash, key);
    else this.byHash.delete(key.hash);
  }

  get size(): number {
    return this.byHash.size;
  }

  /** The valid key whose secret is `key`, if any. */
  find(key: string): ApiKeyRecord | undefined {
    const remembered = this.lookups.get(key);
    if (remembered !== undefined) return remembered;
    const found = this.byHash.get(hashApiKey(key));
    if (found !== undefined) {
      if (this.lookups.size >= LOOKUP_CACHE_SIZE) this.lookups.clear();
      this.lookups.set(key, found);
    }
    return found;
  }

  /**
   * The key of a request if it grants `scope` (one of them, for a list); throws 401 without a
   * known key, 403 when the key lacks the scope.
   */
  authorize(headers: IncomingHttpHeaders, scope: ApiKeyScope | readonly ApiKeyScope[]): ApiKeyRecord {
    const text = requestApiKey(headers);
    if (text === undefined) {
      throw new FlagscopeError(
        'unauthenticated',
        'no API key in the request',
        'send the key as `Authorization: Bearer <key>` or `X-Honeycomb-Team: <key>`',
      );
    }
    const key = this.find(text);
    if (key === undefined) {
      throw new FlagscopeError(
        'unauthenticated',
        'API key is not valid or was revoked',
        'check the key; `flagscope keys list` shows the valid ones',
      );
    }
    // One scope (every hot route) is checked without building a list.
    if (typeof scope === 'string' ? scopesAllow(key.scopes, scope) : scope.some((s) => scopesAllow(key.scopes, s))) return key;
    const scopes: readonly ApiKeyScope[] = typeof scope === 'string' ? [scope] : scope;
    const names = scopes.map((s) => `"${s}"`).join(' or ');
    throw new FlagscopeError(
      'forbidden',
      `API key "${key.name}" lacks the ${names} scope`,
      `use a key with the ${names} scope (\`flagscope keys create --scope ${scopes[0]}\`)`,
    );
  }
}
