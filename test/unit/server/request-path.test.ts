import { describe, expect, it } from 'vitest';
import { FlagscopeError } from '../../../src/errors.js';
import { requestApiKey } from '../../../src/server/keys/key-ring.js';
import { Router, type RouteHandler, type RouteMatch } from '../../../src/server/router.js';

const noop: RouteHandler = () => undefined;

/** What the router answered, without handler identities. */
function describeMatch(match: RouteMatch): unknown {
  if (match.kind !== 'found') return match;
  return { kind: 'found', route: `${match.route.method} /${match.route.segments.join('/')}`, params: { ...match.params } };
}

describe('Router', () => {
  const router = new Router()
    .add('GET', '/healthz', null, noop)
    .add('HEAD', '/healthz', null, noop)
    .add('GET', '/api/v1/flags/:key', 'flags:read', noop)
    .add('GET', '/api/v1/flags/export', 'flags:read', noop)
    .add('POST', '/api/v1/flags', 'flags:write', noop)
    .add('GET', '/api/v1/flags', 'flags:read', noop)
    .add('POST', '/ofrep/v1/evaluate/flags/:key', 'flags:read', noop);

  it('finds static routes by exact path and by paths with extra slashes alike', () => {
    expect(describeMatch(router.match('GET', '/healthz'))).toEqual({ kind: 'found', route: 'GET /healthz', params: {} });
    expect(describeMatch(router.match('GET', '//healthz/'))).toEqual({ kind: 'found', route: 'GET /healthz', params: {} });
    expect(describeMatch(router.match('HEAD', '/healthz'))).toEqual({ kind: 'found', route: 'HEAD /healthz', params: {} });
  });

  it('answers 405 with every allowed method for a known path and 404 for an unknown one', () => {
    expect(router.match('DELETE', '/healthz')).toEqual({ kind: 'wrong-method', allow: ['GET', 'HEAD'] });
    expect(router.match('PATCH', '/api/v1/flags')).toEqual({ kind: 'wrong-method', allow: ['POST', 'GET'] });
    expect(router.match('GET', '/nowhere')).toEqual({ kind: 'not-found' });
    expect(router.match('GET', '/healthz/extra')).toEqual({ kind: 'not-found' });
  });

  it('keeps the order routes were added: an earlier parametrised route wins over a later static one', () => {
    expect(describeMatch(router.match('GET', '/api/v1/flags/export'))).toEqual({
      kind: 'found',
      route: 'GET /api/v1/flags/:key',
      params: { key: 'export' },
    });
  });

  it('decodes percent-encoded parameters and refuses broken encoding with a 400', () => {
    expect(describeMatch(router.match('POST', '/ofrep/v1/evaluate/flags/a%2Fb%20c'))).toEqual({
      kind: 'found',
      route: 'POST /ofrep/v1/evaluate/flags/:key',
      params: { key: 'a/b c' },
    });
    expect(describeMatch(router.match('POST', '/ofrep/v1/evaluate/flags/plain-key'))).toMatchObject({ params: { key: 'plain-key' } });
    expect(() => router.match('POST', '/ofrep/v1/evaluate/flags/%zz')).toThrow(FlagscopeError);
  });

  it('answers a path with parameters the same the second time, from memory, and frozen', () => {
    const paths = ['/ofrep/v1/evaluate/flags/k1', '/api/v1/flags/k1', '/api/v1/flags/export', '/ofrep/v1/evaluate/flags/a%2Fb'];
    for (const path of paths) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const first = router.match(method, path);
        const again = router.match(method, path);
        expect(describeMatch(again)).toEqual(describeMatch(first));
        if (first.kind === 'found') {
          expect(again).toBe(first);
          expect(Object.isFrozen(first.params)).toBe(true);
          expect(() => {
            first.params.key = 'changed';
          }).toThrow(TypeError);
        }
      }
    }
    expect(router.match('GET', '/ofrep/v1/evaluate/flags/k1')).toEqual({ kind: 'wrong-method', allow: ['POST'] });
    // Broken encoding is refused every time: nothing of it was remembered.
    expect(() => router.match('POST', '/ofrep/v1/evaluate/flags/%zz')).toThrow(FlagscopeError);
    expect(() => router.match('POST', '/ofrep/v1/evaluate/flags/%zz')).toThrow(FlagscopeError);
  });

  it('stays exact past the bound of remembered paths, and forgets them when a route is added', () => {
    const local = new Router().add('POST', '/ofrep/v1/evaluate/flags/:key', 'flags:read', noop);
    for (let i = 0; i < 2_500; i++) {
      const match = local.match('POST', `/ofrep/v1/evaluate/flags/flag-${i % 1_300}`);
      expect(match.kind === 'found' ? match.params.key : match.kind).toBe(`flag-${i % 1_300}`);
    }
    expect(local.match('POST', '/ofrep/v1/evaluate/flags/flag-7/extra')).toEqual({ kind: 'not-found' });
    expect(describeMatch(local.match('GET', '/ofrep/v1/evaluate/flags/flag-7'))).toEqual({ kind: 'wrong-method', allow: ['POST'] });
    local.add('GET', '/ofrep/v1/evaluate/flags/:key', 'flags:read', noop);
    expect(describeMatch(local.match('GET', '/ofrep/v1/evaluate/flags/flag-7'))).toEqual({
      kind: 'found',
      route: 'GET /ofrep/v1/evaluate/flags/:key',
      params: { key: 'flag-7' },
    });
  });
});

describe('requestApiKey', () => {
  /** The rule the hand-written parser must follow exactly. */
  const byRegex = (auth: string): string | undefined => /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];

  it('reads X-Honeycomb-Team first, then a Bearer token', () => {
    expect(requestApiKey({ 'x-honeycomb-team': ' fsk_a ', authorization: 'Bearer fsk_b' })).toBe('fsk_a');
    expect(requestApiKey({ authorization: 'Bearer fsk_b' })).toBe('fsk_b');
    expect(requestApiKey({ authorization: 'Basic Zm9v' })).toBeUndefined();
    expect(requestApiKey({})).toBeUndefined();
  });

  it('parses Authorization exactly like /^Bearer\\s+(\\S+)\\s*$/i on fixed and generated headers', () => {
    const fixed = [
      'Bearer abc',
      'bearer abc',
      'BEARER  abc  ',
      'Bearer',
      'Bearer ',
      'Bearerabc',
      'Bearer a b',
      'Bearer\tx\t',
      'Bearer\u00a0x',
      'Bearer x\u3000',
      'Bearer\u200bz',
      '',
    ];
    for (const header of fixed) expect(requestApiKey({ authorization: header }), JSON.stringify(header)).toBe(byRegex(header));
    // A fixed-seed generator of headers made of the characters that matter to the rule.
    const alphabet = [' ', '\t', '\n', 'a', 'B', 'e', 'r', '\u00a0', '\u2000', '\u180e', '\ufeff', 'x', '_'];
    let state = 12345;
    const next = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    for (let i = 0; i < 20000; i++) {
      let header = next(5) === 0 ? 'bEaReR' : 'Bearer';
      const length = next(7);
      for (let j = 0; j < length; j++) header += alphabet[next(alphabet.length)];
      expect(requestApiKey({ authorization: header })).toBe(byRegex(header));
    }
  });
});

describe('request path of a running server', () => {
  it('checks the key on every OFREP request and logs each at verbose with the body bytes sent', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { startServer } = await import('../../../src/server/index.js');
    const dir = await mkdtemp(join(tmpdir(), 'flagscope-request-path-'));
    const lines: string[] = [];
    const server = await startServer({ port: 0, dataDir: dir, verbose: true, log: (line) => lines.push(line) });
    try {
      const url = `${server.url}/ofrep/v1/evaluate/flags/missing-flag`;
      const body = JSON.stringify({ context: { targetingKey: 'u1' } });
      const headers = { 'content-type': 'application/json' };
      const unauthenticated = await fetch(url, { method: 'POST', headers, body });
      const unauthenticatedText = await unauthenticated.text();
      expect(unauthenticated.status).toBe(401);
      expect(JSON.parse(unauthenticatedText).error.code).toBe('unauthenticated');
      const wrongKey = await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer fsk_not-a-key' }, body });
      expect(wrongKey.status).toBe(401);
      await wrongKey.text();
      const authorization = `Bearer ${server.adminKey as string}`;
      const missing = await fetch(url, { method: 'POST', headers: { ...headers, authorization }, body });
      const missingText = await missing.text();
      expect(missing.status).toBe(404);
      expect(JSON.parse(missingText)).toMatchObject({ key: 'missing-flag', errorCode: 'FLAG_NOT_FOUND' });
      const broken = await fetch(url, { method: 'POST', headers: { ...headers, authorization }, body: '{"context": ' });
      expect(broken.status).toBe(400);
      expect(await broken.json()).toMatchObject({ key: 'missing-flag', errorCode: 'PARSE_ERROR' });
      const path = '/ofrep/v1/evaluate/flags/missing-flag';
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^POST ${path} 401 ${Buffer.byteLength(unauthenticatedText)}B \\d+\\.\\dms$`)),
      );
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^POST ${path} 404 ${Buffer.byteLength(missingText)}B \\d+\\.\\dms$`)));
      expect(lines.filter((line) => line.startsWith(`POST ${path} `))).toHaveLength(4);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
