/**
 * Two servers over one PostgreSQL control database, each with a store of its own (as two
 * processes would have), sharing one event store: a key, a flag change or a press made through
 * one reaches the other through LISTEN/NOTIFY and `changesSince`, never through shared memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { type DuckDbEventStore, openEventStore } from '../../src/store/duckdb/event-store.js';
import { openPostgresControlStore, type PostgresControlStore } from '../../src/store/postgres/control-store.js';
import { type PostgresCluster, postgresUnavailable, startPostgres } from '../support/postgres.js';
import { callApi } from '../support/api-call.js';

const unavailable = postgresUnavailable();

let cluster: PostgresCluster | undefined;
let dir: string;
let events: DuckDbEventStore;
const controls: PostgresControlStore[] = [];
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
  const { status, json } = await callApi(server.url, key, method, path, body);
  return { status, body: json };
}

async function evaluate(server: RunningServer, flag: string): Promise<string> {
  return (await call(server, 'POST', `/ofrep/v1/evaluate/flags/${flag}`, adminKey, { context: { targetingKey: 'user-1' } })).body.variant;
}

/** Calls `read` until it returns `expected` (the other replica hears of a change a few milliseconds after its commit). */
async function until<T>(read: () => Promise<T>, expected: T): Promise<T> {
  for (;;) {
    const value = await read();
    if (value === expected) return value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const killSwitch = {
  key: 'payments-off',
  service: 'checkout',
  kind: 'kill-switch',
  variants: { live: true, off: false },
  defaultVariant: 'live',
  safeVariant: 'off',
};

describe.skipIf(unavailable !== undefined)('two servers over one PostgreSQL control database', () => {
  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase('replicas');
    dir = await mkdtemp(join(tmpdir(), 'flagscope-replicas-pg-'));
    events = await openEventStore({ path: join(dir, 'events.duckdb'), now: Date.now });
    for (let i = 0; i < 2; i++) controls.push(await openPostgresControlStore({ url }));
    first = await startServer({ stores: { events, control: controls[0] as PostgresControlStore }, port: 0 });
    second = await startServer({ stores: { events, control: controls[1] as PostgresControlStore }, port: 0 });
    adminKey = first.adminKey as string;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await Promise.allSettled([events?.close(), ...controls.map((c) => c.close())]);
    await cluster?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('share the bootstrap admin key the first one created', () => {
    expect(adminKey).toMatch(/^fsk_/);
    expect(second.adminKey).toBeUndefined();
    expect(second.isValidKey(adminKey)).toBe(true);
  });

  it('a key created on one is accepted by the other, and refused there once revoked on the first', async () => {
    const created = await call(first, 'POST', '/api/v1/keys', adminKey, { name: 'reader', scopes: ['flags:read'] });
    expect(created.status).toBe(201);
    const secret = created.body.key as string;
    await until(async () => (await call(second, 'GET', '/api/v1/flags', secret)).status, 200);
    expect((await call(first, 'DELETE', `/api/v1/keys/${created.body.id}`, adminKey)).status).toBe(200);
    await until(async () => (await call(second, 'GET', '/api/v1/flags', secret)).status, 401);
    expect(second.isValidKey(secret)).toBe(false);
  });

  it('a flag created and pressed on one is served changed by the other, and reaches its stream subscriber', async () => {
    const created = await call(first, 'POST', '/api/v1/flags', adminKey, killSwitch);
    expect(created.status).toBe(201);
    await until(() => evaluate(second, killSwitch.key), 'live');

    const controller = new AbortController();
    const stream = await fetch(`${second.url}/api/v1/stream`, {
      headers: { authorization: `Bearer ${adminKey}` },
      signal: controller.signal,
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
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
    await readUntil('"action":"press"');
    expect(received).toContain(`id: ${press.body.configVersion}\nevent: flag`);
    expect(await evaluate(second, killSwitch.key)).toBe('off');
    controller.abort();

    // If-Match means what it means on one server: a version another replica has since moved past is a conflict.
    const flag = (await call(second, 'GET', `/api/v1/flags/${killSwitch.key}`, adminKey)).body.flag;
    const released = await call(first, 'POST', `/api/v1/flags/${killSwitch.key}/release`, adminKey, { reason: 'fixed' });
    expect(released.status).toBe(200);
    await until(() => evaluate(second, killSwitch.key), 'live');
    const late = await fetch(`${second.url}/api/v1/flags/${killSwitch.key}/rollout`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', 'if-match': `"${flag.version}"` },
      body: JSON.stringify({ rollout: { live: 0, off: 100 }, reason: 'b' }),
    });
    expect(late.status).toBe(409);
  });
});
