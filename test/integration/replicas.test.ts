/**
 * Two servers (replicas) over one set of stores: what a write on one changes is seen by the other
 * through the control store's change feed, never through shared memory of the servers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { FlagService } from '../../src/server/flags/flag-service.js';
import { openControlStore, type DuckDbControlStore } from '../../src/store/duckdb/control-store.js';
import { type DuckDbEventStore, openEventStore } from '../../src/store/duckdb/event-store.js';

let dir: string;
let events: DuckDbEventStore;
let control: DuckDbControlStore;
let first: RunningServer;
let second: RunningServer;
let adminKey: string;

async function call(
  server: RunningServer,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function evaluate(server: RunningServer, flag: string, targetingKey: string): Promise<string> {
  return (await call(server, 'POST', `/ofrep/v1/evaluate/flags/${flag}`, adminKey, { context: { targetingKey } })).body.variant;
}

const killSwitch = {
  key: 'payments-off',
  service: 'checkout',
  kind: 'kill-switch',
  variants: { live: true, off: false },
  defaultVariant: 'live',
  safeVariant: 'off',
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-replicas-'));
  control = await openControlStore({ path: join(dir, 'control.duckdb') });
  events = await openEventStore({ path: join(dir, 'events.duckdb'), now: Date.now });
  first = await startServer({ stores: { events, control }, port: 0 });
  second = await startServer({ stores: { events, control }, port: 0 });
  adminKey = first.adminKey as string;
});

afterAll(async () => {
  await Promise.all([first?.close(), second?.close()]);
  await Promise.allSettled([events?.close(), control?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('two servers on one set of stores', () => {
  it('share one bootstrap admin key: the second server finds the first one’s', async () => {
    expect(adminKey).toMatch(/^fsk_/);
    expect(second.adminKey).toBeUndefined();
    expect(second.isValidKey(adminKey)).toBe(true);
  });

  it('a key created on one is accepted by the other, and refused there once revoked on the first', async () => {
    const created = await call(first, 'POST', '/api/v1/keys', adminKey, { name: 'reader', scopes: ['flags:read'] });
    expect(created.status).toBe(201);
    const secret = created.body.key as string;
    expect((await call(second, 'GET', '/api/v1/flags', secret)).status).toBe(200);

    const revoked = await call(first, 'DELETE', `/api/v1/keys/${created.body.id}`, adminKey);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    expect(revoked.body).not.toHaveProperty('configVersion');
    const refused = await call(second, 'GET', '/api/v1/flags', secret);
    expect(refused.status).toBe(401);
    expect(second.isValidKey(secret)).toBe(false);
  });

  it('a flag changed on one is read and evaluated changed on the other, at the same config version', async () => {
    const created = await call(first, 'POST', '/api/v1/flags', adminKey, { ...killSwitch, rollout: { live: 100, off: 0 } });
    expect(created.status).toBe(201);
    const seen = await call(second, 'GET', `/api/v1/flags/${killSwitch.key}`, adminKey);
    expect(seen.status).toBe(200);
    expect(seen.body.flag).toEqual(created.body.flag);
    expect(await evaluate(second, killSwitch.key, 'user-1')).toBe('live');

    const ramped = await call(first, 'PUT', `/api/v1/flags/${killSwitch.key}/rollout`, adminKey, {
      rollout: { live: 0, off: 100 },
      reason: 'all off',
    });
    expect(ramped.status).toBe(200);
    expect(await evaluate(second, killSwitch.key, 'user-1')).toBe('off');
    const listed = await call(second, 'GET', '/api/v1/flags', adminKey);
    expect(listed.body.configVersion).toBe(ramped.body.configVersion);
    expect((await call(first, 'GET', '/api/v1/flags', adminKey)).body.configVersion).toBe(ramped.body.configVersion);

    // And back the other way: a write on the second server is served by the first.
    const back = await call(second, 'PUT', `/api/v1/flags/${killSwitch.key}/rollout`, adminKey, {
      rollout: { live: 100, off: 0 },
      reason: 'back',
    });
    expect(back.status).toBe(200);
    expect(back.body.configVersion).toBeGreaterThan(ramped.body.configVersion);
    expect(await evaluate(first, killSwitch.key, 'user-1')).toBe('live');
  });

  it('a switch pressed on one reaches a stream subscriber of the other, and its press history', async () => {
    const controller = new AbortController();
    const stream = await fetch(`${second.url}/api/v1/stream`, {
      headers: { authorization: `Bearer ${adminKey}` },
      signal: controller.signal,
    });
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (needle: string): Promise<void> => {
      while (!received.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        received += decoder.decode(value, { stream: true });
      }
    };
    await readUntil('event: hello');

    const press = await call(first, 'POST', `/api/v1/flags/${killSwitch.key}/press`, adminKey, { reason: 'card errors' });
    expect(press.status).toBe(200);
    expect(press.body.changed).toBe(true);
    // The first server has no subscriber of its own; the second's is not counted by the first.
    expect(press.body.subscribers).toBe(0);
    await readUntil('"action":"press"');
    expect(received).toContain(`id: ${press.body.configVersion}\nevent: flag`);
    expect(await evaluate(second, killSwitch.key, 'user-1')).toBe('off');

    const services = await call(second, 'GET', '/api/v1/services', adminKey);
    const button = services.body.services[0].buttons[0];
    expect(button).toMatchObject({ key: killSwitch.key, state: 'pressed', lastPress: { by: 'admin', reason: 'card errors' } });

    const again = await call(second, 'POST', `/api/v1/flags/${killSwitch.key}/press`, adminKey, { reason: 'twice' });
    expect(again.body).toMatchObject({ changed: false, press: { reason: 'card errors' } });
    controller.abort();
  });
});

describe('the control store’s change feed', () => {
  it('lists every change after a version, keys and flags, in the order of the versions the store gave them', async () => {
    const current = await control.currentVersion();
    const all = await control.changesSince(0);
    const versions = all.map((c) => c.configVersion);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(versions.at(-1)).toBe(current);
    expect(all.filter((c) => c.kind === 'flag').map((c) => (c.kind === 'flag' ? c.change.action : ''))).toEqual([
      'create',
      'rollout',
      'rollout',
      'press',
    ]);
    // The revoked key appears once, as it is now.
    expect(
      all.filter((c) => c.kind === 'key' && c.key.name === 'reader').map((c) => c.kind === 'key' && c.key.revoked_at !== null),
    ).toEqual([true]);
    expect(await control.changesSince(current)).toEqual([]);
  });

  it('refuses a flag change made against a stale version, writes nothing and takes no version', async () => {
    const flags = control.flagStore();
    const { flags: stored } = await flags.loadFlags();
    const flag = stored.find((f) => f.key === killSwitch.key)!;
    const before = await control.currentVersion();
    const stale = { ...flag, version: flag.version - 1 };
    await expect(
      flags.commitFlagChanges([
        { action: 'update', before: stale, after: { ...flag, version: flag.version }, who: 'x', why: "it's \\ stale", at: 0 },
      ]),
    ).rejects.toMatchObject({
      code: 'conflict',
      message: `flag ${killSwitch.key} is at version ${flag.version} in the store, not ${flag.version - 1}`,
    });
    await expect(
      flags.commitFlagChanges([{ action: 'create', before: null, after: flag, who: 'x', why: '', at: 0 }]),
    ).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(await control.currentVersion()).toBe(before);
    expect((await flags.loadFlags()).flags.find((f) => f.key === killSwitch.key)).toEqual(flag);
  });

  it('brings a replica that is told only the new version up to date by reading the changes since its own', async () => {
    const store = control.flagStore();
    // What a replica in another process gets from a NOTIFY: the version, not the changes.
    const versionOnly = {
      ...store,
      listen: (listener: Parameters<typeof store.listen>[0]) => store.listen((n) => listener({ configVersion: n.configVersion })),
    };
    const writer = await FlagService.open(store, Date.now);
    const reader = await FlagService.open(versionOnly, Date.now);
    const streamed: string[] = [];
    reader.subscribe((event) => {
      streamed.push(`${event.action} ${event.key} ${event.configVersion}`);
      return true;
    });
    const created = await writer.create({ ...killSwitch, key: 'search-off', service: 'search' }, 'admin', '');
    const pressed = await writer.killSwitch('press', 'search-off', 'admin', 'slow');
    // No call here: the version-only notice alone makes the reader read what it missed.
    await vi.waitFor(() => expect(reader.snapshot().configVersion).toBe(pressed.configVersion));
    expect(reader.get('search-off')).toEqual(pressed.flag);
    expect(reader.lastPress('search-off')).toMatchObject({ by: 'admin', reason: 'slow' });
    expect(reader.snapshot().configVersion).toBe(pressed.configVersion);
    expect(streamed).toEqual([`create search-off ${created.configVersion}`, `press search-off ${pressed.configVersion}`]);
    writer.close();
    reader.close();
  });

  it('keeps what a writer says byte for byte: quotes, backslashes and NUL in a reason', async () => {
    const reason = "it's a \\'quoted' \u0000 reason; DROP TABLE flags; --";
    const released = await call(first, 'POST', `/api/v1/flags/${killSwitch.key}/release`, adminKey, { reason });
    expect(released.status).toBe(200);
    const history = await call(second, 'GET', `/api/v1/flags/${killSwitch.key}/history?limit=1`, adminKey);
    expect(history.body.history[0]).toMatchObject({ action: 'release', reason });
  });
});
