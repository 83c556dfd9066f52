/**
 * The remembered parts of the OFREP single-flag path (issue 13's throughput work) against the
 * real server: the key lookup, the route of a path and a flag's prepared answers are kept
 * between requests, and each change shows on the very next request: a revoked key is refused,
 * a rollout change, an archived flag and a new key are seen, and every prepared answer is
 * written with the exact length and type of its text. The lean body read takes a body sent in
 * pieces, and a client that leaves mid-body costs the server nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let admin: string;

const CONTEXT = JSON.stringify({ context: { targetingKey: 'user-12345', country: 'de' } });

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** One OFREP single-flag request on its own connection: status, the head's length and type, and the body as sent. */
function evaluate(
  flag: string,
  key: string,
  encoded = false,
): Promise<{ status: number; length: string | undefined; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${server.url}/ofrep/v1/evaluate/flags/${encoded ? flag : encodeURIComponent(flag)}`,
      { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            length: res.headers['content-length'],
            type: res.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(CONTEXT);
  });
}

async function createKey(name: string, scopes: string[]): Promise<{ id: string; key: string }> {
  const created = await api('POST', '/api/v1/keys', { name, scopes });
  expect(created.status).toBe(201);
  return created.json;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-ofrep-hot-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
  admin = server.adminKey as string;
  const flag = {
    key: 'new-checkout',
    service: 'checkout',
    kind: 'release',
    variants: { on: true, off: false },
    defaultVariant: 'off',
    rollout: { on: 0, off: 100 },
  };
  expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('OFREP single-flag path, remembered between requests', () => {
  it('refuses a key on the request right after its revocation, though its lookup was remembered', async () => {
    const reader = await createKey('hot-reader', ['flags:read']);
    for (let i = 0; i < 3; i++) expect((await evaluate('new-checkout', reader.key)).status).toBe(200);
    expect((await api('DELETE', `/api/v1/keys/${reader.id}`)).status).toBe(200);
    const refused = await evaluate('new-checkout', reader.key);
    expect([refused.status, JSON.parse(refused.text).error.code]).toEqual([401, 'unauthenticated']);
    // A key created since is accepted at once, and a key without the scope still refused.
    const next = await createKey('hot-reader-2', ['flags:read']);
    expect((await evaluate('new-checkout', next.key)).status).toBe(200);
    const ingestOnly = await createKey('hot-ingest', ['ingest']);
    const forbidden = await evaluate('new-checkout', ingestOnly.key);
    expect([forbidden.status, JSON.parse(forbidden.text).error.code]).toEqual([403, 'forbidden']);
  });

  it('answers a flag edit and an archive on the next request, with the exact length and type of each answer', async () => {
    const reader = await createKey('hot-edits', ['flags:read']);
    const before = await evaluate('new-checkout', reader.key);
    const again = await evaluate('new-checkout', reader.key);
    expect(again).toEqual(before);
    expect(JSON.parse(before.text)).toMatchObject({ key: 'new-checkout', value: false, variant: 'off', reason: 'SPLIT' });
    expect([before.type, before.length]).toEqual(['application/json; charset=utf-8', String(Buffer.byteLength(before.text))]);

    expect((await api('PUT', '/api/v1/flags/new-checkout/rollout', { rollout: { on: 100, off: 0 } })).status).toBe(200);
    const after = await evaluate('new-checkout', reader.key);
    expect(JSON.parse(after.text)).toMatchObject({ key: 'new-checkout', value: true, variant: 'on', reason: 'SPLIT' });
    expect(after.length).toBe(String(Buffer.byteLength(after.text)));

    expect((await api('POST', '/api/v1/flags/new-checkout/archive', {})).status).toBe(200);
    const gone = await evaluate('new-checkout', reader.key);
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.text)).toMatchObject({ key: 'new-checkout', errorCode: 'FLAG_NOT_FOUND' });
    expect(gone.length).toBe(String(Buffer.byteLength(gone.text)));
  });

  it('answers each flag key under its own path, percent-encoded ones included, past the routes it remembers', async () => {
    const reader = await createKey('hot-paths', ['flags:read']);
    const flag = {
      key: 'flag.with_odd-chars',
      service: 'checkout',
      kind: 'release',
      variants: { on: 'yes', off: 'no' },
      defaultVariant: 'on',
    };
    expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
    const found = await evaluate('flag.with_odd-chars', reader.key);
    expect(JSON.parse(found.text)).toMatchObject({ key: 'flag.with_odd-chars', value: 'yes', reason: 'STATIC' });
    // The same key percent-encoded is the same flag; a segment that is not valid encoding is a 400.
    expect(await evaluate('flag%2Ewith_odd-chars', reader.key, true)).toEqual(found);
    expect((await evaluate('flag%zz', reader.key, true)).status).toBe(400);
    // More distinct paths than the router remembers: every one still answered for its own key.
    const keys = Array.from({ length: 1_100 }, (_, i) => `absent-${i}`);
    for (let i = 0; i < keys.length; i += 100) {
      const answers = await Promise.all(keys.slice(i, i + 100).map((key) => evaluate(key, reader.key)));
      answers.forEach((answer, j) => {
        expect(answer.status).toBe(404);
        expect(JSON.parse(answer.text).key).toBe(keys[i + j]);
      });
    }
    expect(JSON.parse((await evaluate('flag.with_odd-chars', reader.key)).text).value).toBe('yes');
  });

  it('reads a body sent in pieces, and lives on when a client leaves in the middle of one', async () => {
    const reader = await createKey('hot-pieces', ['flags:read']);
    const flag = { key: 'pieces', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'on' };
    expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
    const { port } = new URL(server.url);
    const head = (length: number): string =>
      `POST /ofrep/v1/evaluate/flags/pieces HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${reader.key}\r\n` +
      `content-type: application/json\r\ncontent-length: ${length}\r\nconnection: close\r\n\r\n`;
    const body = Buffer.from(CONTEXT);
    // Three writes, a pause between each: one body from several chunks.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
      socket.write(head(body.length));
      setTimeout(() => socket.write(body.subarray(0, 10)), 20);
      setTimeout(() => socket.write(body.subarray(10)), 40);
    });
    expect(answer).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ key: 'pieces', value: true, reason: 'STATIC' });
    // Half a body, then the client is gone: nothing to answer, and the server serves the next request.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(head(body.length) + CONTEXT.slice(0, 12), () => setTimeout(() => socket.destroy(), 20));
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const next = await evaluate('pieces', reader.key);
    expect(next.status).toBe(200);
    expect(JSON.parse(next.text)).toMatchObject({ key: 'pieces', value: true });
  });

  it('takes a body that holds U+FFFD itself, and refuses one with bytes that are not UTF-8', async () => {
    const reader = await createKey('hot-utf8', ['flags:read']);
    const flag = { key: 'utf8', service: 'checkout', kind: 'release', variants: { on: true, off: false }, defaultVariant: 'on' };
    expect((await api('POST', '/api/v1/flags', flag)).status).toBe(201);
    const send = (body: Buffer) =>
      fetch(`${server.url}/ofrep/v1/evaluate/flags/utf8`, {
        method: 'POST',
        headers: { authorization: `Bearer ${reader.key}`, 'content-type': 'application/json' },
        body,
      });
    const replacement = await send(Buffer.from(JSON.stringify({ context: { targetingKey: 'user-\uFFFD', country: 'é' } }), 'utf8'));
    expect(replacement.status).toBe(200);
    expect(await replacement.json()).toMatchObject({ key: 'utf8', value: true });
    const invalid = Buffer.concat([Buffer.from('{"context":{"targetingKey":"user-'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]);
    const refused = await send(invalid);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ key: 'utf8', errorCode: 'PARSE_ERROR', errorDetails: expect.stringMatching(/UTF-8/) });
  });
});
