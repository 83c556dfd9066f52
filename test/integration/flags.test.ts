import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let adminKey: string;
let writerKey: string;
let oncallKey: string;

async function call(
  method: string,
  path: string,
  body?: unknown,
  key: string = adminKey,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined, headers: res.headers };
}

async function createKey(name: string, scopes: string[]): Promise<string> {
  const res = await call('POST', '/api/v1/keys', { name, scopes });
  expect(res.status).toBe(201);
  return res.body.key as string;
}

async function ofrep(key: string, context: Record<string, unknown>): Promise<any> {
  return (await call('POST', `/ofrep/v1/evaluate/flags/${key}`, { context })).body;
}

const checkoutSwitch = {
  key: 'checkout.new-payment-flow',
  service: 'checkout',
  kind: 'kill-switch',
  description: 'the new payment provider',
  runbookUrl: 'https://runbooks.example.com/checkout/payments',
  variants: { on: true, off: false },
  defaultVariant: 'off',
  safeVariant: 'off',
  rollout: { on: 30, off: 70 },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-flags-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
  adminKey = server.adminKey as string;
  writerKey = await createKey('alice', ['flags:read', 'flags:write']);
  oncallKey = await createKey('oncall-bob', ['killswitch', 'flags:read']);
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flag management API', () => {
  it('creates a flag, serves it with an ETag and answers 304 to a matching If-None-Match', async () => {
    const created = await call('POST', '/api/v1/flags', { ...checkoutSwitch, reason: 'launch' }, writerKey);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.flag).toMatchObject({
      key: checkoutSwitch.key,
      version: 1,
      createdBy: 'alice',
      updatedBy: 'alice',
      archived: false,
    });
    expect(created.body.flag.rollout).toEqual({
      weights: [
        { variant: 'on', weight: 30 },
        { variant: 'off', weight: 70 },
      ],
      precision: 0,
    });

    const got = await call('GET', `/api/v1/flags/${checkoutSwitch.key}`, undefined, writerKey);
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    const again = await call('GET', `/api/v1/flags/${checkoutSwitch.key}`, undefined, writerKey, { 'if-none-match': '"1"' });
    expect(again.status).toBe(304);
  });

  it('refuses a second create of the same key with 409', async () => {
    const res = await call('POST', '/api/v1/flags', checkoutSwitch, writerKey);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('already exists');
  });

  it('updates with If-Match and refuses a stale version with who changed it and when', async () => {
    await call('POST', '/api/v1/flags', {
      key: 'search.ranking',
      service: 'search',
      kind: 'experiment',
      variants: { a: 'bm25', b: 'vector' },
      defaultVariant: 'a',
    });
    const ok = await call('PATCH', '/api/v1/flags/search.ranking', { defaultVariant: 'b', reason: 'b wins' }, writerKey, {
      'if-match': '"1"',
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.flag).toMatchObject({ version: 2, defaultVariant: 'b', updatedBy: 'alice' });
    const stale = await call('PATCH', '/api/v1/flags/search.ranking', { defaultVariant: 'a' }, adminKey, { 'if-match': '"1"' });
    expect(stale.status).toBe(409);
    expect(stale.body.error.message).toMatch(/changed by alice at \d{4}-\d\d-\d\dT/);
    expect(stale.body.error.details).toMatchObject({ currentVersion: 2, expectedVersion: 1, changedBy: 'alice' });
    const current = (await call('GET', '/api/v1/flags/search.ranking')).body.flag;
    const sentBack = await call('PUT', '/api/v1/flags/search.ranking', { ...current, description: 'ranking backend' }, writerKey, {
      'if-match': '"2"',
    });
    expect(sentBack.status, JSON.stringify(sentBack.body)).toBe(200);
    expect(sentBack.body.flag).toMatchObject({ version: 3, description: 'ranking backend', createdBy: 'admin', updatedBy: 'alice' });
    const missing = await call('PATCH', '/api/v1/flags/search.ranking', { defaultVariant: 'a' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toContain('If-Match');
    const history = await call('GET', '/api/v1/flags/search.ranking/history');
    expect(history.body.history.map((h: any) => [h.action, h.version, h.by, h.reason])).toEqual([
      ['update', 3, 'alice', ''],
      ['update', 2, 'alice', 'b wins'],
      ['create', 1, 'admin', ''],
    ]);
    expect(history.body.history[1].before.defaultVariant).toBe('a');
    expect(history.body.history[1].after.defaultVariant).toBe('b');
  });

  it('lets exactly one of 20 concurrent updates with the same If-Match win', async () => {
    await call('POST', '/api/v1/flags', {
      key: 'race.flag',
      service: 'race',
      kind: 'operational',
      variants: { a: 1, b: 2 },
      defaultVariant: 'a',
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call('PATCH', '/api/v1/flags/race.flag', { description: `writer ${i}`, reason: `writer ${i}` }, writerKey, { 'if-match': '"1"' }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const history = await call('GET', '/api/v1/flags/race.flag/history');
    expect(history.body.history.filter((h: any) => h.action === 'update')).toHaveLength(1);
    const winner = results.find((r) => r.status === 200)!;
    expect((await call('GET', '/api/v1/flags/race.flag')).body.flag.description).toBe(winner.body.flag.description);
  });

  it('filters the list by service, kind and staleness', async () => {
    const byService = await call('GET', '/api/v1/flags?service=checkout');
    expect(byService.body.flags.map((f: any) => f.key)).toEqual([checkoutSwitch.key]);
    const byKind = await call('GET', '/api/v1/flags?kind=experiment');
    expect(byKind.body.flags.map((f: any) => f.key)).toEqual(['search.ranking']);
    const stale = await call('GET', '/api/v1/flags?stale=true');
    expect(stale.body.flags).toEqual([]);
    const bad = await call('GET', '/api/v1/flags?kind=nope');
    expect(bad.status).toBe(400);
  });

  it('sets a rollout and keeps users in their variant as it grows', async () => {
    await call('POST', '/api/v1/flags', {
      key: 'ramp.flag',
      service: 'ramp',
      kind: 'release',
      variants: { on: true, off: false },
      defaultVariant: 'off',
    });
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const at5 = await call('PUT', '/api/v1/flags/ramp.flag/rollout', { rollout: { on: 5, off: 95 }, reason: 'ramp 5' }, writerKey);
    expect(at5.status).toBe(200);
    const onAt5 = new Set<string>();
    for (const u of users) if ((await ofrep('ramp.flag', { targetingKey: u })).variant === 'on') onAt5.add(u);
    await call('PUT', '/api/v1/flags/ramp.flag/rollout', { rollout: { on: 50, off: 50 }, reason: 'ramp 50' }, writerKey);
    let onAt50 = 0;
    for (const u of users) {
      const variant = (await ofrep('ramp.flag', { targetingKey: u })).variant;
      if (variant === 'on') onAt50 += 1;
      if (onAt5.has(u)) expect(variant).toBe('on');
    }
    expect(onAt5.size).toBeGreaterThan(3);
    expect(onAt50).toBeGreaterThan(onAt5.size);
  });

  it('refuses bad input with a clear 400 and changes nothing', async () => {
    const before = (await call('GET', '/api/v1/flags/ramp.flag')).body.flag;
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['PUT', '/api/v1/flags/ramp.flag/rollout', { rollout: { on: 10, off: 80 } }, /sum to 90, not 100/],
      ['PATCH', '/api/v1/flags/ramp.flag', { targeting: { nope: [1] } }, /invalid targeting/],
      [
        'PATCH',
        '/api/v1/flags/ramp.flag',
        {
          targeting: {
            fractional: [
              ['on', 2.5],
              ['off', 97.5],
            ],
          },
        },
        /invalid targeting/,
      ],
      ['PATCH', '/api/v1/flags/ramp.flag', { defaultVariant: 'maybe' }, /default variant "maybe" is not a variant/],
      ['PATCH', '/api/v1/flags/ramp.flag', '{"defaultVariant": ', /not valid JSON/],
    ];
    for (const [method, path, body, message] of cases) {
      const res = await call(method, path, body, writerKey, { 'if-match': `"${before.version}"` });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
    expect((await call('GET', '/api/v1/flags/ramp.flag')).body.flag).toEqual(before);
    const unknown = await call('GET', '/api/v1/flags/no.such.flag');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('flag no.such.flag does not exist');
    const noReason = await call('POST', `/api/v1/flags/${checkoutSwitch.key}/press`, {}, oncallKey);
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.message).toContain('needs a reason');
    expect((await call('GET', `/api/v1/flags/${checkoutSwitch.key}`)).body.flag.version).toBe(1);
  });
});

describe('kill switches', () => {
  it('press serves the safe variant to everyone, reports version and subscribers; release restores the same buckets', async () => {
    const users = Array.from({ length: 200 }, (_, i) => `u${i}`);
    const beforePress = new Map<string, string>();
    for (const u of users) beforePress.set(u, (await ofrep(checkoutSwitch.key, { targetingKey: u })).variant);
    expect(new Set(beforePress.values())).toEqual(new Set(['on', 'off']));

    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/v1/stream`, {
      headers: { authorization: `Bearer ${writerKey}` },
      signal: controller.signal,
    });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
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

    const press = await call('POST', `/api/v1/flags/${checkoutSwitch.key}/press`, { reason: 'payments failing' }, oncallKey);
    expect(press.status, JSON.stringify(press.body)).toBe(200);
    expect(press.body).toMatchObject({ changed: true, subscribers: 1, served: { everyone: true, variant: 'off', value: false } });
    expect(press.body.configVersion).toBeGreaterThan(0);
    await readUntil('"action":"press"');
    expect(received).toContain(`id: ${press.body.configVersion}`);

    for (const u of users.slice(0, 50)) {
      const r = await ofrep(checkoutSwitch.key, { targetingKey: u });
      expect(r).toMatchObject({ variant: 'off', value: false, reason: 'STATIC' });
    }
    const again = await call('POST', `/api/v1/flags/${checkoutSwitch.key}/press`, { reason: 'again' }, oncallKey);
    expect(again.body.changed).toBe(false);
    expect(again.body.message).toContain('already pressed: by oncall-bob at');
    expect(again.body.press).toMatchObject({ by: 'oncall-bob', reason: 'payments failing' });

    const edit = await call('PATCH', `/api/v1/flags/${checkoutSwitch.key}`, { defaultVariant: 'on' }, writerKey, {
      'if-match': `"${press.body.flag.version}"`,
    });
    expect(edit.status).toBe(400);
    expect(edit.body.error.message).toContain('is pressed');

    const services = await call('GET', '/api/v1/services', undefined, oncallKey);
    const checkout = services.body.services.find((s: any) => s.name === 'checkout');
    expect(checkout.buttons[0]).toMatchObject({
      key: checkoutSwitch.key,
      state: 'pressed',
      pressed: { by: 'oncall-bob', reason: 'payments failing' },
      runbookUrl: checkoutSwitch.runbookUrl,
    });

    const release = await call('POST', `/api/v1/flags/${checkoutSwitch.key}/release`, { reason: 'provider fixed' }, oncallKey);
    expect(release.body).toMatchObject({ changed: true, subscribers: 1 });
    await readUntil('"action":"release"');
    for (const u of users) expect((await ofrep(checkoutSwitch.key, { targetingKey: u })).variant).toBe(beforePress.get(u));
    const released = await call('GET', '/api/v1/services', undefined, oncallKey);
    const button = released.body.services.find((s: any) => s.name === 'checkout').buttons[0];
    expect(button).toMatchObject({ state: 'armed', pressed: null, lastPress: { by: 'oncall-bob', reason: 'payments failing' } });
    controller.abort();
  });

  it('refuses to press a flag that is not a kill switch', async () => {
    const res = await call('POST', '/api/v1/flags/search.ranking/press', { reason: 'x' }, oncallKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('not a kill switch');
  });
});

describe('archive, export, import and restart', () => {
  it('archives a flag: not listed or served, history kept', async () => {
    const res = await call('POST', '/api/v1/flags/race.flag/archive', { reason: 'done' }, writerKey);
    expect(res.status).toBe(200);
    expect(res.body.flag.archived).toBe(true);
    expect((await call('GET', '/api/v1/flags')).body.flags.map((f: any) => f.key)).not.toContain('race.flag');
    expect((await call('POST', '/ofrep/v1/evaluate/flags/race.flag', { context: {} })).status).toBe(404);
    const history = await call('GET', '/api/v1/flags/race.flag/history');
    expect(history.body.history[0]).toMatchObject({ action: 'archive', reason: 'done', by: 'alice' });
  });

  it('exports flagd JSON that imports back unchanged, and imports changes in one step', async () => {
    const exported = await call('GET', '/api/v1/export/flagd');
    expect(exported.body.flags[checkoutSwitch.key].metadata).toMatchObject({
      service: 'checkout',
      kind: 'kill-switch',
      safeVariant: 'off',
    });
    const same = await call('POST', '/api/v1/import/flagd?reason=roundtrip', exported.body, writerKey);
    expect(same.body.created).toEqual([]);
    expect(same.body.updated).toEqual([]);
    expect(same.body.unchanged.sort()).toEqual(Object.keys(exported.body.flags).sort());

    const doc = structuredClone(exported.body);
    doc.flags['search.ranking'].defaultVariant = 'a';
    doc.flags['imported.flag'] = { state: 'ENABLED', variants: { x: 'x', y: 'y' }, defaultVariant: 'y', metadata: { service: 'imports' } };
    const changed = await call('POST', '/api/v1/import/flagd?reason=sync', doc, writerKey);
    expect(changed.body).toMatchObject({ created: ['imported.flag'], updated: ['search.ranking'] });
    const bad = await call(
      'POST',
      '/api/v1/import/flagd',
      { flags: { 'bad.flag': { state: 'ENABLED', variants: { a: 1 }, defaultVariant: 'zzz', metadata: { service: 's' } } } },
      writerKey,
    );
    expect(bad.status).toBe(400);
    expect((await call('GET', '/api/v1/flags/bad.flag')).status).toBe(404);
  });

  it('refuses an import that would press, release or rewrite a kill switch, and changes nothing', async () => {
    const key = 'import.guard-switch';
    const created = await call('POST', '/api/v1/flags', { ...checkoutSwitch, key, rollout: undefined }, writerKey);
    expect(created.status).toBe(201);
    const unpressed = (await call('GET', '/api/v1/export/flagd')).body;
    const pressed = await call('POST', `/api/v1/flags/${key}/press`, { reason: 'outage' }, oncallKey);
    expect(pressed.status).toBe(200);
    const servedPressed = await ofrep(key, { targetingKey: 'u1' });
    const exported = (await call('GET', '/api/v1/export/flagd')).body;

    // The export of a pressed switch imports back unchanged.
    const same = await call('POST', '/api/v1/import/flagd?reason=roundtrip', exported, writerKey);
    expect(same.status).toBe(200);
    expect(same.body.unchanged).toContain(key);

    // Importing the definition from before the press would release it: refused.
    const release = await call('POST', '/api/v1/import/flagd?reason=sync', { flags: { [key]: unpressed.flags[key] } }, writerKey);
    expect(release.status).toBe(400);
    expect(release.body.error.message).toContain('cannot press or release a kill switch');

    // A forged press (another name, another served-before) is refused too.
    const forged = structuredClone(exported.flags[key]);
    forged.metadata.pressedBy = 'somebody-else';
    const rewrite = await call('POST', '/api/v1/import/flagd', { flags: { [key]: forged } }, writerKey);
    expect(rewrite.status).toBe(400);

    // Pressing through an import, on a switch that is not pressed, is refused.
    await call('POST', `/api/v1/flags/${key}/release`, { reason: 'recovered' }, oncallKey);
    const press = await call('POST', '/api/v1/import/flagd', { flags: { [key]: exported.flags[key] } }, writerKey);
    expect(press.status).toBe(400);
    expect(press.body.error.message).toContain('would press it');

    const history = (await call('GET', `/api/v1/flags/${key}/history`)).body.history.map((h: any) => h.action);
    expect(history).toEqual(['release', 'press', 'create']);
    expect(servedPressed.variant).toBe('off');
  });

  it('keeps flags, history and last presses across a restart', async () => {
    const before = (await call('GET', '/api/v1/flags?archived=true')).body;
    await server.close();
    server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
    const after = (await call('GET', '/api/v1/flags?archived=true')).body;
    expect(after).toEqual(before);
    const services = await call('GET', '/api/v1/services');
    const button = services.body.services.find((s: any) => s.name === 'checkout').buttons[0];
    expect(button.lastPress).toMatchObject({ by: 'oncall-bob', reason: 'payments failing' });
  });
});
