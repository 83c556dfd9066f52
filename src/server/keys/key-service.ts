/**
 * The key service: creating, listing and revoking API keys, the bootstrap admin key, and the
 * key ring every request is checked against. The ring is derived from the control store's change
 * feed: a key created or revoked on any replica over the same store reaches this one's ring, and
 * this replica's own writes come back the same way before their answer is sent.
 */
import { FlagscopeError, invalidInput, notFound } from '../../errors.js';
import { API_KEY_SCOPES, isApiKeyScope, type ApiKeyInfo, type ApiKeyScope, type RevokedApiKey } from '../../api/keys.js';
import type { ApiKeyRecord, ControlStore } from '../../store/types.js';
import { FeedFollower } from '../replica/feed-follower.js';
import { generateApiKey, generateKeyId, hashApiKey, KeyRing } from './key-ring.js';

/** A key as its creation answers it: the public record and, this once, the secret. */
export type CreatedKey = ApiKeyInfo & { key: string };

/** API keys over a control store, with the key ring that follows its change feed. */
export class KeyService {
  private constructor(
    private readonly store: ControlStore,
    private readonly now: () => number,
    /** The valid keys, as of the last change applied from the feed. */
    readonly ring: KeyRing,
    private readonly follower: FeedFollower,
  ) {}

  /** Loads the keys into a ring and follows the store's feed from there. */
  static async open(store: ControlStore, now: () => number): Promise<KeyService> {
    // The version is read before the keys, so a change between the two reads is applied again (harmlessly).
    const configVersion = await store.currentVersion();
    const ring = new KeyRing(await store.listApiKeys());
    const follower = await FeedFollower.start(store, configVersion, (changes) => {
      for (const change of changes) if (change.kind === 'key') ring.put(change.key);
    });
    return new KeyService(store, now, ring, follower);
  }

  /**
   * Creates an `admin` key when the store holds no key at all (revoked ones count), and returns
   * its secret, which exists nowhere else; undefined when there were keys already.
   */
  async bootstrapAdminKey(): Promise<string | undefined> {
    if ((await this.store.listApiKeys()).length > 0) return undefined;
    const secret = generateApiKey();
    let created: ApiKeyRecord;
    try {
      created = await this.store.createApiKey({
        id: generateKeyId(),
        name: 'admin',
        hash: hashApiKey(secret),
        scopes: ['admin'],
        created_at: this.now(),
        created_by: null,
      });
    } catch (e) {
      // Replicas starting at once over one empty control store: another one made the admin key.
      if (e instanceof FlagscopeError && e.code === 'name_taken') return undefined;
      throw e;
    }
    await this.untilInRing(created);
    return secret;
  }

  /** Every key, revoked ones included, oldest first, without hashes. */
  async list(): Promise<ApiKeyInfo[]> {
    return (await this.store.listApiKeys()).map(publicKey);
  }

  /**
   * Creates a key from a request like `{"name": "ci", "scopes": ["ingest"]}`, made by `creator`
   * (null for none); the answer carries the secret, which is stored only as its hash.
   */
  async create(request: unknown, creator: string | null): Promise<CreatedKey> {
    const { name, scopes } = keyRequest(request);
    const secret = generateApiKey();
    const record = await this.store.createApiKey({
      id: generateKeyId(),
      name,
      hash: hashApiKey(secret),
      scopes,
      created_at: this.now(),
      created_by: creator,
    });
    await this.untilInRing(record);
    return { ...publicKey(record), key: secret };
  }

  /**
   * Revokes key `id` on behalf of key `revoker` (which may not revoke itself). A key revoked before
   * is answered as it is, with `already_revoked` (its `revoked_at` is the first revocation's).
   */
  async revoke(id: string, revoker: ApiKeyRecord | undefined): Promise<RevokedApiKey> {
    if (revoker?.id === id) throw invalidInput('a key cannot revoke itself', 'revoke it with another admin key');
    const before = (await this.store.listApiKeys()).find((k) => k.id === id);
    if (before === undefined) throw notFound(`no API key with id "${id}"`, '`flagscope keys list` shows the key ids');
    if (before.revoked_at !== null) return { ...publicKey(before), already_revoked: true };
    const record = await this.store.revokeApiKey(id, this.now());
    if (record === undefined) throw notFound(`no API key with id "${id}"`, '`flagscope keys list` shows the key ids');
    await this.untilInRing(record);
    return { ...publicKey(record), already_revoked: false };
  }

  /** Stops following the feed (at shutdown, before the store closes). */
  close(): void {
    this.follower.stop();
  }

  /** Waits until the ring holds a change this service wrote (it arrives through the feed). */
  private async untilInRing(record: ApiKeyRecord): Promise<void> {
    try {
      await this.follower.reach(record.configVersion);
    } catch (error) {
      throw new FlagscopeError('server_error', 'the key was stored but this server could not load it', 'retry shortly', { cause: error });
    }
  }
}

/** A key as the API shows it: everything but the hash and the store's bookkeeping. */
export function publicKey(record: ApiKeyRecord): ApiKeyInfo {
  const { hash: _hash, configVersion: _configVersion, ...info } = record;
  return info;
}

function keyRequest(value: unknown): { name: string; scopes: ApiKeyScope[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidInput('key request must be a JSON object like {"name": "ci", "scopes": ["ingest"]}');
  }
  const { name, scopes } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100) {
    throw invalidInput('"name" must be a non-empty string of at most 100 characters', 'name the key after who uses it, e.g. "ci-deploy"');
  }
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every(isApiKeyScope)) {
    throw invalidInput(`"scopes" must be a non-empty array of ${API_KEY_SCOPES.join(', ')}`, 'e.g. {"scopes": ["ingest", "query"]}');
  }
  return { name: name.trim(), scopes: [...new Set(scopes as ApiKeyScope[])] };
}
