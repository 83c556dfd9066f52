/**
 * End-to-end: the built `bin/flagscope` (run `npm run build` first, or point
 * FLAGSCOPE_BIN at another build) against a real server, asserting exit code,
 * stdout and stderr separately: flags, keys and the quick red buttons.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const BIN = process.env.FLAGSCOPE_BIN || join(import.meta.dirname, '..', '..', 'bin', 'flagscope');

let server: RunningServer;
let dir: string;
let writerKey: string;

async function flagscope(args: string[], key: string = writerKey, extraEnv: Record<string, string> = {}) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, NO_COLOR: '1', ...extraEnv },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-flags-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
  const created = await flagscope(
    ['keys', 'create', '--name', 'alice', '--scope', 'flags:read,flags:write,killswitch', '--json'],
    server.adminKey as string,
  );
  expect(created.exitCode, created.stderr).toBe(0);
  const body = JSON.parse(created.stdout) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(['name', 'key', 'scopes']);
  expect(body).toMatchObject({ name: 'alice', scopes: ['flags:read', 'flags:write', 'killswitch'] });
  writerKey = body.key as string;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('flagscope keys', () => {
  it('lists keys without secrets and revokes one by name', async () => {
    const ci = await flagscope(['keys', 'create', '--name', 'ci', '--scope', 'ingest'], server.adminKey as string);
    expect(ci.exitCode).toBe(0);
    expect(ci.stdout).toMatch(/^fsk_[A-Za-z0-9_-]{43}\n$/);
    const list = await flagscope(['keys', 'list'], server.adminKey as string);
    expect(list.stdout).toMatch(/\tci\tingest\t/);
    expect(list.stdout).not.toContain('fsk_');
    const revoked = await flagscope(['keys', 'revoke', 'ci'], server.adminKey as string);
    expect(revoked.exitCode).toBe(0);
    expect((await flagscope(['datasets'], ci.stdout.trim())).exitCode).toBe(4);
    const bad = await flagscope(['keys', 'create', '--name', 'x', '--scope', 'root'], server.adminKey as string);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('unknown scope "root"');
    const forbidden = await flagscope(['keys', 'list']);
    expect(forbidden.exitCode).toBe(4);
  });
});

describe('flagscope flags', () => {
  it('creates, lists, gets and evaluates a flag through OFREP', async () => {
    const created = await flagscope([
      'flags',
      'create',
      'new-checkout',
      '--service',
      'checkout',
      '--kind',
      'release',
      '--variants',
      'on=true,off=false',
      '--default',
      'off',
      '--rollout',
      'on=5,off=95',
      '--reason',
      'launch',
    ]);
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.stdout).toBe('created new-checkout (version 1): serves on=5% off=95% (default off)\n');
    const list = await flagscope(['flags', 'list', '--service', 'checkout']);
    expect(list.stdout.split('\t').slice(0, 3)).toEqual(['new-checkout', 'checkout', 'release']);
    const got = JSON.parse((await flagscope(['flags', 'get', 'new-checkout', '--json'])).stdout);
    expect(got.flag.rollout.weights).toEqual([
      { variant: 'on', weight: 5 },
      { variant: 'off', weight: 95 },
    ]);
    const evaluated = await flagscope(['flags', 'eval', 'new-checkout', '--targeting-key', 'user-1', '--json']);
    expect(JSON.parse(evaluated.stdout)).toMatchObject({ key: 'new-checkout', reason: 'SPLIT' });
    const noKey = await flagscope(['flags', 'eval', 'new-checkout']);
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain('TARGETING_KEY_MISSING');
    expect(noKey.stderr).toContain('--targeting-key');
  });

  it('refuses bad input with exit 2 and changes nothing', async () => {
    const cases: Array<[string[], string]> = [
      [['flags', 'set', 'new-checkout', '--rollout', 'on=10,off=80'], 'sum to 90, not 100'],
      [['flags', 'set', 'new-checkout', '--default', 'maybe'], 'default variant "maybe" is not a variant'],
      [['flags', 'set', 'new-checkout', '--targeting', '{"fractional": [["on", 1.5], ["off", 98.5]]}'], 'invalid targeting'],
      [['flags', 'set', 'new-checkout', '--targeting', '{"nope": [1]}'], 'invalid targeting'],
      [
        ['flags', 'create', 'x', '--service', 's', '--kind', 'release', '--variants', 'a=1,b=2', '--default', 'c'],
        'default variant "c" is not a variant',
      ],
      [['buttons', 'press', 'new-checkout', '--yes'], "required option '--reason <text>' not specified"],
    ];
    for (const [args, message] of cases) {
      const r = await flagscope(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const history = JSON.parse((await flagscope(['flags', 'history', 'new-checkout', '--json'])).stdout);
    expect(history.history).toHaveLength(1);
    const missing = await flagscope(['flags', 'get', 'no-such-flag']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toBe('error: flag no-such-flag does not exist\nhint: `flagscope flags list` shows the flags\n');
  });

  it('20 concurrent `flags set --if-version 1`: exactly one wins, the others exit 6, the history shows one change', async () => {
    await flagscope([
      'flags',
      'create',
      'contended',
      '--service',
      'race',
      '--kind',
      'operational',
      '--variants',
      'a=1,b=2',
      '--default',
      'a',
    ]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => flagscope(['flags', 'set', 'contended', '--description', `writer ${i}`, '--if-version', '1'])),
    );
    const codes = results.map((r) => r.exitCode);
    expect(codes.filter((c) => c === 0)).toHaveLength(1);
    expect(codes.filter((c) => c === 6)).toHaveLength(19);
    const loser = results.find((r) => r.exitCode === 6)!;
    expect(loser.stderr).toMatch(/^error: flag contended was changed by alice at \S+: it is at version 2, you sent version 1\n/);
    const history = JSON.parse((await flagscope(['flags', 'history', 'contended', '--json'])).stdout);
    expect(history.history.map((h: { action: string }) => h.action)).toEqual(['update', 'create']);
  });

  it('exports flagd JSON, archives, and imports the export back', async () => {
    const exported = await flagscope(['flags', 'export', '-o', 'flags.json']);
    expect(exported.exitCode).toBe(0);
    const document = JSON.parse(await readFile(join(dir, 'flags.json'), 'utf8'));
    const piped = await flagscope(['flags', 'export', '--format', 'flagd']);
    expect(piped.exitCode, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toEqual(document);
    const csv = await flagscope(['flags', 'export', '--format', 'csv']);
    expect(csv.exitCode).toBe(2);
    expect(csv.stderr).toContain('`flags export` writes flagd JSON, not csv');
    expect(document.flags['new-checkout'].targeting).toEqual({
      fractional: [
        ['on', 5],
        ['off', 95],
      ],
    });
    const archived = await flagscope(['flags', 'archive', 'contended', '--reason', 'done']);
    expect(archived.exitCode).toBe(0);
    expect((await flagscope(['flags', 'list'])).stdout).not.toContain('contended');
    document.flags['imported'] = {
      state: 'ENABLED',
      variants: { x: 'x', y: 'y' },
      defaultVariant: 'x',
      metadata: { service: 'web', kind: 'experiment' },
    };
    await writeFile(join(dir, 'import.json'), JSON.stringify(document));
    const imported = await flagscope(['flags', 'import', 'import.json', '--reason', 'restore']);
    expect(imported.exitCode, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^imported import\.json: 2 created, 0 updated, 1 unchanged/);
  });

  it('lists stale flags: none yet, and never kill switches', async () => {
    const stale = await flagscope(['flags', 'list', '--stale']);
    expect(stale.exitCode).toBe(0);
    expect(stale.stdout).toBe('');
  });
});

describe('flagscope buttons', () => {
  it('lists buttons by service, refuses to press without a TTY unless --yes, presses and releases', async () => {
    const created = await flagscope([
      'flags',
      'create',
      'payments-off',
      '--service',
      'checkout',
      '--kind',
      'kill-switch',
      '--variants',
      'live=true,off=false',
      '--default',
      'live',
      '--safe',
      'off',
      '--description',
      'card payments',
      '--runbook',
      'https://runbooks.example.com/payments',
    ]);
    expect(created.exitCode, created.stderr).toBe(0);
    const listed = await flagscope(['buttons']);
    expect(listed.stdout).toBe('checkout\tpayments-off\tarmed\tcard payments\toff\t\t\t\thttps://runbooks.example.com/payments\n');

    const refused = await flagscope(['buttons', 'press', 'payments-off', '--reason', 'card errors']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('`--yes` required to press payments-off when not running interactively');
    expect(refused.stderr).toContain('add `--yes`');
    expect(JSON.parse((await flagscope(['flags', 'get', 'payments-off', '--json'])).stdout).flag.pressed).toBeUndefined();

    const pressed = await flagscope(['buttons', 'press', 'payments-off', '--reason', 'card errors', '--yes']);
    expect(pressed.exitCode, pressed.stderr).toBe(0);
    expect(pressed.stdout).toMatch(
      /^PRESSED payments-off: every client is now served off = false\nflag-config version \d+, delivered to 0 stream subscribers\n$/,
    );
    const evaluated = await flagscope(['flags', 'eval', 'payments-off', '--targeting-key', 'u1']);
    expect(evaluated.stdout).toBe('payments-off\toff\tfalse\tSTATIC\n');
    const again = await flagscope(['buttons', 'press', 'payments-off', '--reason', 'again', '--yes']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/^no change: payments-off is already pressed: by alice at \S+ \(card errors\)\n$/);
    const pressedList = await flagscope(['buttons', '--service', 'checkout']);
    expect(pressedList.stdout).toMatch(/^checkout\tpayments-off\tpressed\tcard payments\toff\talice\t\S+\tcard errors\t/);

    const released = await flagscope(['buttons', 'release', 'payments-off', '--reason', 'recovered', '--yes', '--json']);
    expect(released.exitCode).toBe(0);
    expect(JSON.parse(released.stdout)).toMatchObject({ changed: true, served: { everyone: false, description: 'live to everyone' } });
    expect((await flagscope(['flags', 'eval', 'payments-off', '--targeting-key', 'u1'])).stdout).toBe('payments-off\tlive\ttrue\tSTATIC\n');
  });
});
