import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let readKey: string;
let client: Client;

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-ofrep-client-'));
  server = await startServer({ dataDir: dir, port: 0 });
  readKey = (await admin('POST', '/api/v1/keys', { name: 'sdk', scopes: ['flags:read'] })).key;
  await admin('POST', '/api/v1/flags', {
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    rollout: { on: 50, off: 50 },
  });
  await admin('POST', '/api/v1/flags', {
    key: 'banner-text',
    service: 'web',
    kind: 'experiment',
    variants: { plain: 'Welcome', fancy: 'Welcome back!' },
    defaultVariant: 'plain',
    targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'fancy', null] },
  });
  await admin('POST', '/api/v1/flags', {
    key: 'page-size',
    service: 'web',
    kind: 'operational',
    variants: { small: 10, large: 50 },
    defaultVariant: 'large',
  });
  await admin('POST', '/api/v1/flags', {
    key: 'theme',
    service: 'web',
    kind: 'operational',
    variants: { dark: { bg: '#000' }, light: { bg: '#fff' } },
    defaultVariant: 'dark',
  });
  await admin('POST', '/api/v1/flags', {
    key: 'payments-off',
    service: 'checkout',
    kind: 'kill-switch',
    variants: { live: true, off: false },
    defaultVariant: 'live',
    safeVariant: 'off',
  });
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', `Bearer ${readKey}`]] }));
  client = OpenFeature.getClient();
});

afterAll(async () => {
  await OpenFeature.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('@openfeature/server-sdk with @openfeature/ofrep-provider against flagscope', () => {
  it('evaluates booleans through a rollout with the SPLIT reason, the same variant as the server reports', async () => {
    const variants = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const details = await client.getBooleanDetails('new-checkout', false, { targetingKey: `user-${i}` });
      expect(details.reason).toBe('SPLIT');
      expect(details.value).toBe(details.variant === 'on');
      expect(details.flagMetadata).toMatchObject({ service: 'checkout', kind: 'release' });
      variants.add(details.variant as string);
    }
    expect(variants).toEqual(new Set(['on', 'off']));
  });

  it('evaluates strings through targeting, numbers and objects statically', async () => {
    const match = await client.getStringDetails('banner-text', 'none', { targetingKey: 'u1', email: 'ann@example.com' });
    expect(match).toMatchObject({ value: 'Welcome back!', variant: 'fancy', reason: 'TARGETING_MATCH' });
    const fallThrough = await client.getStringDetails('banner-text', 'none', { targetingKey: 'u2', email: 'bo@other.org' });
    expect(fallThrough).toMatchObject({ value: 'Welcome', variant: 'plain', reason: 'DEFAULT' });
    expect(await client.getNumberValue('page-size', 1)).toBe(50);
    expect(await client.getObjectValue('theme', {})).toEqual({ bg: '#000' });
  });

  it('reports errors the OpenFeature way: not found, missing targeting key, type mismatch', async () => {
    const missing = await client.getBooleanDetails('no-such-flag', true);
    expect(missing).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    const noKey = await client.getBooleanDetails('new-checkout', true, {});
    expect(noKey).toMatchObject({ value: true, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
    const wrongType = await client.getNumberDetails('banner-text', 7, { targetingKey: 'x' });
    expect(wrongType).toMatchObject({ value: 7, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' });
  });

  it('sees a kill-switch press on the very next evaluation and the release after it', async () => {
    expect(await client.getBooleanValue('payments-off', false, { targetingKey: 'a' })).toBe(true);
    await admin('POST', '/api/v1/flags/payments-off/press', { reason: 'provider outage' });
    const pressed = await client.getBooleanDetails('payments-off', true, { targetingKey: 'a' });
    expect(pressed).toMatchObject({ value: false, variant: 'off', reason: 'STATIC' });
    expect(pressed.flagMetadata).toMatchObject({ pressed: true, safeVariant: 'off' });
    await admin('POST', '/api/v1/flags/payments-off/release', { reason: 'recovered' });
    expect(await client.getBooleanValue('payments-off', false, { targetingKey: 'a' })).toBe(true);
  });

  it('answers the provider with 401 for a wrong key, which the SDK turns into the default value', async () => {
    const wrong = new OFREPProvider({ baseUrl: server.url, headers: [['Authorization', 'Bearer fsk_wrong']] });
    await OpenFeature.setProviderAndWait('wrong-key', wrong);
    const details = await OpenFeature.getClient('wrong-key').getBooleanDetails('new-checkout', true, { targetingKey: 'a' });
    expect(details.value).toBe(true);
    expect(details.reason).toBe('ERROR');
  });
});

describe('bulk evaluation with ETag', () => {
  it('answers 304 to a repeated If-None-Match until a flag changes', async () => {
    const body = JSON.stringify({ context: { targetingKey: 'user-7' } });
    const headers = { authorization: `Bearer ${readKey}`, 'content-type': 'application/json' };
    const first = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag') as string;
    const doc = (await first.json()) as { flags: Array<{ key: string }> };
    expect(doc.flags.map((f) => f.key)).toEqual(['banner-text', 'new-checkout', 'page-size', 'payments-off', 'theme']);
    const second = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { ...headers, 'if-none-match': etag },
      body,
    });
    expect(second.status).toBe(304);
    await admin('POST', '/api/v1/flags/payments-off/press', { reason: 'etag test' });
    const third = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { ...headers, 'if-none-match': etag },
      body,
    });
    expect(third.status).toBe(200);
    expect(third.headers.get('etag')).not.toBe(etag);
    const bad = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers, body: '{"context": [1]}' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errorCode: 'INVALID_CONTEXT' });
  });
});
