/**
 * Kill switches stay the on-call's (issue 9): no flag write but press and release can press,
 * release or rewrite a press, or change what a pressed switch serves; and a `killswitch`-only
 * key is answered with the switch alone, learning nothing of the flags it may not press.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

let dir: string;
let server: RunningServer;
let writerKey: string;
let oncallKey: string;
let presserKey: string;

async function call(
  method: string,
  path: string,
  body?: unknown,
  key: string = server.adminKey as string,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function createKey(name: string, scopes: string[]): Promise<string> {
  const res = await call('POST', '/api/v1/keys', { name, scopes });
  expect(res.status).toBe(201);
  return res.body.key as string;
}

const switchDefinition = (key: string): Record<string, unknown> => ({
  key,
  service: 'pay',
  kind: 'kill-switch',
  description: 'card payments',
  variants: { live: true, off: false },
  defaultVariant: 'live',
  safeVariant: 'off',
  rollout: { live: 90, off: 10 },
});

async function readFlag(key: string): Promise<any> {
  return (await call('GET', `/api/v1/flags/${key}`)).body.flag;
}

async function served(key: string, user = 'u1'): Promise<string> {
  return (await call('POST', `/ofrep/v1/evaluate/flags/${key}`, { context: { targetingKey: user } })).body.variant;
}

/** A pressed switch, and what it looks like (flag and history length) before each refused write. */
async function pressedSwitch(key: string): Promise<{ flag: any; history: number }> {
  expect((await call('POST', '/api/v1/flags', switchDefinition(key), writerKey)).status).toBe(201);
  expect((await call('POST', `/api/v1/flags/${key}/press`, { reason: 'outage' }, oncallKey)).status).toBe(200);
  return { flag: await readFlag(key), history: (await call('GET', `/api/v1/flags/${key}/history`)).body.history.length };
}

/** The switch is as it was: same flag (same version and press), same history, still serving the safe variant. */
async function expectUnchanged(key: string, before: { flag: any; history: number }): Promise<void> {
  expect(await readFlag(key)).toEqual(before.flag);
  expect((await call('GET', `/api/v1/flags/${key}/history`)).body.history).toHaveLength(before.history);
  expect(await served(key)).toBe('off');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-ks-guards-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
  writerKey = await createKey('alice', ['flags:read', 'flags:write']);
  oncallKey = await createKey('oncall-bob', ['killswitch', 'flags:read']);
  presserKey = await createKey('pager', ['killswitch']);
  expect((await call('POST', '/api/v1/flags', { ...switchDefinition('plain.flag'), kind: 'release', safeVariant: undefined })).status).toBe(
    201,
  );
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flag writes cannot press, release or rewrite a press', () => {
  it('POST /api/v1/flags refuses a switch created pressed', async () => {
    const forged = {
      ...switchDefinition('born.pressed'),
      pressed: {
        by: 'somebody',
        at: '2026-01-01T00:00:00.000Z',
        reason: 'forged',
        servedBefore: { state: 'enabled', defaultVariant: 'live' },
      },
    };
    const res = await call('POST', '/api/v1/flags', forged, writerKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('`pressed` changes only through press and release');
    expect((await call('GET', '/api/v1/flags/born.pressed')).status).toBe(404);
  });

  it('PUT refuses a press, a forged press and a release, and takes a pressed flag sent back whole', async () => {
    const key = 'put.switch';
    const before = await pressedSwitch(key);
    const ifMatch = { 'if-match': `"${before.flag.version}"` };
    const forged = { ...before.flag, pressed: { ...before.flag.pressed, by: 'somebody-else' } };
    const rewrite = await call('PUT', `/api/v1/flags/${key}`, forged, writerKey, ifMatch);
    expect(rewrite.status).toBe(400);
    expect(rewrite.body.error.message).toContain('would change its press');
    const { pressed: _p, ...released } = before.flag;
    const release = await call('PUT', `/api/v1/flags/${key}`, { ...released, pressed: null }, writerKey, ifMatch);
    expect(release.status).toBe(400);
    expect(release.body.error.message).toContain('would release it');
    const frozen = await call('PUT', `/api/v1/flags/${key}`, { ...before.flag, defaultVariant: 'off' }, writerKey, ifMatch);
    expect(frozen.status).toBe(400);
    expect(frozen.body.error.message).toContain('is pressed; its defaultVariant cannot change');
    await expectUnchanged(key, before);

    // Sent back whole, with a new description: the press stays exactly as it was.
    const whole = await call('PUT', `/api/v1/flags/${key}`, { ...before.flag, description: 'cards' }, writerKey, ifMatch);
    expect(whole.status, JSON.stringify(whole.body)).toBe(200);
    expect(whole.body.flag.pressed).toEqual(before.flag.pressed);
    expect(await served(key)).toBe('off');
    // Without `pressed`, a replace keeps the press too (it is not the writer's to drop).
    const without = await call('PUT', `/api/v1/flags/${key}`, { ...released, description: 'cards 2' }, writerKey, {
      'if-match': `"${whole.body.flag.version}"`,
    });
    expect(without.status).toBe(200);
    expect(without.body.flag.pressed).toEqual(before.flag.pressed);

    // On a switch that is not pressed, a PUT cannot press it.
    await call('POST', `/api/v1/flags/${key}/release`, { reason: 'over' }, oncallKey);
    const armed = await readFlag(key);
    const press = await call('PUT', `/api/v1/flags/${key}`, { ...armed, pressed: before.flag.pressed }, writerKey, {
      'if-match': `"${armed.version}"`,
    });
    expect(press.status).toBe(400);
    expect(press.body.error.message).toContain('would press it');
    expect(await readFlag(key)).toEqual(armed);
  });

  it('PATCH refuses a release, a press rewrite and a change of what a pressed switch serves', async () => {
    const key = 'patch.switch';
    const before = await pressedSwitch(key);
    const ifMatch = { 'if-match': `"${before.flag.version}"` };
    for (const [body, message] of [
      [{ pressed: null }, 'would release it'],
      [{ pressed: { ...before.flag.pressed, reason: 'other' } }, 'would change its press'],
      [{ state: 'disabled' }, 'its state cannot change'],
      [{ rollout: null }, 'its rollout cannot change'],
      [{ safeVariant: 'live' }, 'its safeVariant cannot change'],
      [{ kind: 'operational', safeVariant: null }, 'pressed'],
      [{ variants: { live: true, off: false, half: true } }, 'its variants cannot change'],
    ] as const) {
      const res = await call('PATCH', `/api/v1/flags/${key}`, body, writerKey, ifMatch);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toContain(message);
    }
    await expectUnchanged(key, before);
    const described = await call('PATCH', `/api/v1/flags/${key}`, { description: 'still pressed' }, writerKey, ifMatch);
    expect(described.status).toBe(200);
    expect(described.body.flag.pressed).toEqual(before.flag.pressed);
  });

  it('the rollout route and archive refuse a pressed switch', async () => {
    const key = 'archive.switch';
    const before = await pressedSwitch(key);
    const rollout = await call('PUT', `/api/v1/flags/${key}/rollout`, { rollout: { live: 100, off: 0 } }, writerKey);
    expect(rollout.status).toBe(400);
    const archive = await call('POST', `/api/v1/flags/${key}/archive`, { reason: 'tidy' }, writerKey);
    expect(archive.status).toBe(400);
    expect(archive.body.error.message).toContain('cannot be archived until it is released');
    await expectUnchanged(key, before);
  });

  it('an import refuses part of the press metadata, pressed or not', async () => {
    const key = 'import.partial';
    const before = await pressedSwitch(key);
    const exported = (await call('GET', '/api/v1/export/flagd')).body.flags[key];
    const { servedBefore: _s, ...partial } = exported.metadata;
    const res = await call('POST', '/api/v1/import/flagd', { flags: { [key]: { ...exported, metadata: partial } } }, writerKey);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('without servedBefore');
    await expectUnchanged(key, before);
    const fresh = {
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'on',
      metadata: { service: 'pay', kind: 'kill-switch', safeVariant: 'off', pressedBy: 'somebody' },
    };
    const armed = await call('POST', '/api/v1/import/flagd', { flags: { 'import.fresh': fresh } }, writerKey);
    expect(armed.status).toBe(400);
    expect((await call('GET', '/api/v1/flags/import.fresh')).status).toBe(404);
  });
});

describe('a killswitch-only key sees the switch, nothing more', () => {
  it('gets one not-found for a missing flag, an archived one and a flag that is not a kill switch', async () => {
    await call('POST', '/api/v1/flags', switchDefinition('gone.switch'), writerKey);
    expect((await call('POST', '/api/v1/flags/gone.switch/archive', { reason: 'gone' }, writerKey)).status).toBe(200);
    const answers = [];
    for (const key of ['no.such.flag', 'gone.switch', 'plain.flag']) {
      for (const verb of ['press', 'release']) {
        const res = await call('POST', `/api/v1/flags/${key}/${verb}`, { reason: 'probe' }, presserKey);
        answers.push({ status: res.status, body: JSON.stringify(res.body).replaceAll(key, 'KEY') });
      }
    }
    expect(answers[0]).toMatchObject({ status: 404 });
    expect(JSON.parse(answers[0]!.body).error.code).toBe('not_found');
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    // Nothing of plain.flag changed.
    expect((await readFlag('plain.flag')).version).toBe(1);
    // A key that may read flags is told which.
    expect((await call('POST', '/api/v1/flags/plain.flag/press', { reason: 'probe' }, oncallKey)).status).toBe(400);
  });

  it('press and release answer the switch without its definition, also for a no-op', async () => {
    const key = 'lean.switch';
    expect((await call('POST', '/api/v1/flags', switchDefinition(key), writerKey)).status).toBe(201);
    const noop = await call('POST', `/api/v1/flags/${key}/release`, { reason: 'probe' }, presserKey);
    expect(noop.status).toBe(200);
    expect(noop.body).toMatchObject({ changed: false, key, state: 'armed', safeVariant: 'off' });
    const press = await call('POST', `/api/v1/flags/${key}/press`, { reason: 'outage' }, presserKey);
    expect(press.body).toMatchObject({
      changed: true,
      key,
      state: 'pressed',
      safeVariant: 'off',
      press: { by: 'pager', reason: 'outage' },
      served: { everyone: true, variant: 'off', value: false },
    });
    const release = await call('POST', `/api/v1/flags/${key}/release`, { reason: 'fixed' }, presserKey);
    expect(release.body).toMatchObject({ changed: true, key, state: 'armed' });
    for (const answer of [noop.body, press.body, release.body]) {
      expect(answer.flag).toBeUndefined();
      const text = JSON.stringify(answer);
      // Neither the rollout nor the other variant, nor the served-before, leaks.
      expect(text).not.toMatch(/90%|rollout|servedBefore|"live"|live \d/);
    }
    expect(release.body.served).toEqual({ everyone: false, description: 'as configured (shown to keys with flags:read)' });
    // With flags:read the whole flag comes along.
    const full = await call('POST', `/api/v1/flags/${key}/release`, { reason: 'probe' }, oncallKey);
    expect(full.body.flag).toMatchObject({
      key,
      rollout: {
        weights: [
          { variant: 'live', weight: 90 },
          { variant: 'off', weight: 10 },
        ],
      },
    });
    expect(full.body.served.description).toBe('live 90%, off 10% (default live)');
  });

  it('lists the buttons it may press, switch-level only', async () => {
    const lean = await call('GET', '/api/v1/services', undefined, presserKey);
    expect(lean.status).toBe(200);
    const text = JSON.stringify(lean.body);
    expect(text).not.toContain('plain.flag');
    expect(text).not.toMatch(/90%|rollout/);
    const pay = lean.body.services.find((s: any) => s.name === 'pay');
    expect(pay.flags).toBeUndefined();
    const button = pay.buttons.find((b: any) => b.key === 'lean.switch');
    expect(button).toMatchObject({
      key: 'lean.switch',
      state: 'armed',
      safeVariant: 'off',
      serves: 'as configured (shown to keys with flags:read)',
    });
    const full = await call('GET', '/api/v1/services', undefined, oncallKey);
    const fullPay = full.body.services.find((s: any) => s.name === 'pay');
    expect(fullPay.flags).toBeGreaterThan(pay.buttons.length - 1);
    expect(fullPay.buttons.find((b: any) => b.key === 'lean.switch').serves).toBe('live 90%, off 10% (default live)');
    // Other scopes still get 403.
    expect((await call('GET', '/api/v1/services', undefined, await createKey('q', ['query']))).status).toBe(403);
  });
});
