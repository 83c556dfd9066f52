/**
 * `flags toggle`, `flags target`, `flags history` and `flags import --service`, run in-process
 * against a real server (free loopback port, temp data dir): what each writes, what OFREP then
 * serves, the per-field history, refusals that change nothing, and `If-Match` keeping a
 * concurrent change. Also `__complete columns|calcs` against the real server, and quietly
 * nothing when no server answers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { createMemoryContext } from '../support/memory-context.js';

let dir: string;
let server: RunningServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-flag-verbs-'));
  server = await startServer({ port: 0, dataDir: join(dir, 'data') });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[], options: { tty?: boolean; url?: string } = {}) {
  const ctx = createMemoryContext({
    stdoutTTY: options.tty ?? false,
    cwd: dir,
    env: {
      FLAGSCOPE_API_URL: options.url ?? server.url,
      FLAGSCOPE_API_KEY: server.adminKey!,
      NO_COLOR: '1',
      XDG_CONFIG_HOME: join(dir, 'xdg'),
    },
  });
  const code = await runCli(args, ctx);
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText() };
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function ofrep(key: string, context: Record<string, unknown>): Promise<{ variant?: string; reason?: string }> {
  return (await api('POST', `/ofrep/v1/evaluate/flags/${key}`, { context })).body as { variant?: string; reason?: string };
}

async function create(key: string, extra: string[] = []): Promise<void> {
  const created = await cli([
    'flags',
    'create',
    key,
    '--service',
    'checkout',
    '--kind',
    'release',
    '--variants',
    'on=true,off=false',
    '--default',
    'off',
    ...extra,
  ]);
  expect(created.code, created.stderr).toBe(0);
}

describe('flags toggle', () => {
  it('turns a release flag on (removing its rollout) and off, recording each with its reason', async () => {
    await create('tg', ['--rollout', 'on=20,off=80']);
    const on = await cli(['flags', 'toggle', 'tg', '--on', '--reason', 'launch'], { tty: true });
    expect(on.code, on.stderr).toBe(0);
    expect(on.stdout).toContain('toggled tg on (version 2): serves on');
    expect(on.stdout).toContain('defaultVariant: "off" → "on"');
    expect(on.stdout).toContain('rollout: on=20% off=80% → —');
    for (const user of ['a', 'b', 'c', 'd', 'e']) expect((await ofrep('tg', { targetingKey: user })).variant).toBe('on');

    const again = await cli(['flags', 'toggle', 'tg', '--on', '--reason', 'twice']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('tg is already on');

    const off = await cli(['flags', 'toggle', 'tg', '--off', '--reason', 'incident 42', '--json']);
    expect(off.code, off.stderr).toBe(0);
    const body = JSON.parse(off.stdout) as { changed: boolean; changes: unknown[] };
    expect(body.changed).toBe(true);
    expect(body.changes).toEqual([
      { field: 'state', before: 'enabled', after: 'disabled' },
      { field: 'defaultVariant', before: 'on', after: 'off' },
    ]);
    // Disabled as flagd disables: no value, the SDK serves the caller's own default.
    const disabled = await ofrep('tg', { targetingKey: 'a' });
    expect(disabled).toMatchObject({ reason: 'DISABLED' });
    expect(disabled).not.toHaveProperty('variant');
    expect(disabled).not.toHaveProperty('value');

    const history = JSON.parse((await cli(['flags', 'history', 'tg', '--json'])).stdout) as {
      history: Array<{ reason: string; version: number }>;
    };
    expect(history.history.map((h) => [h.version, h.reason])).toEqual([
      [3, 'incident 42'],
      [2, 'launch'],
      [1, ''],
    ]);
  });

  it('refuses kill switches, ambiguous variants and a missing reason, changing nothing', async () => {
    const ks = await cli([
      'flags',
      'create',
      'tg-ks',
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
    ]);
    expect(ks.code, ks.stderr).toBe(0);
    const refused = await cli(['flags', 'toggle', 'tg-ks', '--off', '--reason', 'x']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('tg-ks is a kill switch: it is pressed and released, not toggled');
    expect(refused.stderr).toContain('flagscope buttons press tg-ks --reason TEXT');

    const multi = await cli([
      'flags',
      'create',
      'tg-size',
      '--service',
      'checkout',
      '--kind',
      'release',
      '--variants',
      'small=1,large=2',
      '--default',
      'small',
    ]);
    expect(multi.code, multi.stderr).toBe(0);
    const ambiguous = await cli(['flags', 'toggle', 'tg-size', '--on', '--reason', 'x']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/small=1, large=2: which is "on" and which is "off" is ambiguous/);

    await create('tg-noreason');
    expect((await cli(['flags', 'toggle', 'tg-noreason', '--on'])).stderr).toContain('needs a reason');
    expect((await cli(['flags', 'toggle', 'tg-noreason', '--on', '--off', '--reason', 'x'])).stderr).toContain('exactly one of');
    for (const key of ['tg-ks', 'tg-size', 'tg-noreason']) {
      expect(((await api('GET', `/api/v1/flags/${key}`)).body.flag as { version: number }).version).toBe(1);
    }
  });

  it('names the version it read: a change made since is kept and the toggle fails with exit 6', async () => {
    await create('tg-race');
    const changed = await api('PATCH', '/api/v1/flags/tg-race', { description: 'edited meanwhile' }, { 'if-match': '"1"' });
    expect(changed.status).toBe(200);
    const stale = await cli(['flags', 'toggle', 'tg-race', '--on', '--reason', 'x', '--if-version', '1']);
    expect(stale.code).toBe(6);
    const flag = (await api('GET', '/api/v1/flags/tg-race')).body.flag as { version: number; description: string; defaultVariant: string };
    expect(flag).toMatchObject({ version: 2, description: 'edited meanwhile', defaultVariant: 'off' });
  });
});

describe('flags toggle during a canary', () => {
  it('refuses while the canary controller owns the rollout, pointing to canary abort', async () => {
    await create('tg-canary');
    const ingested = await fetch(`${server.url}/1/batch/canaryds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ data: { 'flag.tg-canary': 'off', duration_ms: 10 } }]),
    });
    expect(ingested.status).toBe(200);
    const started = await api('POST', '/api/v1/canaries', { flag: 'tg-canary', dataset: 'canaryds', interval: '1h' });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const refused = await cli(['flags', 'toggle', 'tg-canary', '--on', '--reason', 'ship it']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('a canary of tg-canary is in flight (running)');
    expect(refused.stderr).toContain('flagscope canary abort tg-canary --reason TEXT');
    const flag = (await api('GET', '/api/v1/flags/tg-canary')).body.flag as { version: number; rollout?: unknown };
    expect(flag.rollout).toBeDefined();
  });
});

describe('flags target', () => {
  it('targets keys and rules, serves them through OFREP, and takes them away', async () => {
    await create('tt', ['--rollout', 'on=0,off=100']);
    const keys = await cli(['flags', 'target', 'tt', '--variant', 'on', '--keys', 'u1,u2', '--reason', 'beta'], { tty: true });
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.stdout).toContain('u1, u2 → on');
    const rule = await cli(['flags', 'target', 'tt', '--rule', 'country in [DE,FR] and plan == pro => on', '--reason', 'EU pro']);
    expect(rule.code, rule.stderr).toBe(0);

    expect(await ofrep('tt', { targetingKey: 'u1' })).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
    expect(await ofrep('tt', { targetingKey: 'u3' })).toMatchObject({ variant: 'off', reason: 'SPLIT' });
    expect(await ofrep('tt', { targetingKey: 'u4', country: 'FR', plan: 'pro' })).toMatchObject({
      variant: 'on',
      reason: 'TARGETING_MATCH',
    });
    expect(await ofrep('tt', { targetingKey: 'u4', country: 'FR', plan: 'free' })).toMatchObject({ variant: 'off' });

    const shown = await cli(['flags', 'target', 'tt']);
    expect(shown.stdout).toBe('targetingKey in [u1, u2] => on\ncountry in [DE, FR] and plan == pro => on\n');

    expect((await cli(['flags', 'target', 'tt', '--remove', '--keys', 'u1', '--reason', 'left'])).code).toBe(0);
    expect((await ofrep('tt', { targetingKey: 'u1' })).variant).toBe('off');
    expect((await ofrep('tt', { targetingKey: 'u2' })).variant).toBe('on');
    expect(
      (await cli(['flags', 'target', 'tt', '--remove', '--rule', 'country in [DE, FR] and plan == pro => on', '--reason', 'ended'])).code,
    ).toBe(0);
    expect((await ofrep('tt', { targetingKey: 'u4', country: 'FR', plan: 'pro' })).variant).toBe('off');
    expect((await cli(['flags', 'target', 'tt', '--clear', '--reason', 'done'])).code).toBe(0);
    expect(((await api('GET', '/api/v1/flags/tt')).body.flag as { targeting?: unknown }).targeting).toBeUndefined();
  });

  it('refuses a bad rule or an unknown variant clearly, changing nothing', async () => {
    await create('tt-bad');
    const bad = await cli(['flags', 'target', 'tt-bad', '--rule', 'country in DE => on', '--reason', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected `[` opening a list of values');
    const unknown = await cli(['flags', 'target', 'tt-bad', '--variant', 'onn', '--keys', 'u1', '--reason', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('"onn" is not a variant of the flag');
    expect(unknown.stderr).toContain('its variants are on, off');
    const noVariant = await cli(['flags', 'target', 'tt-bad', '--keys', 'u1', '--reason', 'x']);
    expect(noVariant.stderr).toContain('`--keys` needs `--variant V`');
    expect(((await api('GET', '/api/v1/flags/tt-bad')).body.flag as { version: number }).version).toBe(1);
  });
});

/**
 * A loopback proxy to the server that, before forwarding the first PATCH, lets `meanwhile` make
 * another change: a concurrent edit landing between the CLI's read and its write.
 */
async function proxyWithChangeBeforeFirstPatch(meanwhile: () => Promise<void>): Promise<{ url: string; server: Server }> {
  let injected = false;
  const proxy = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method === 'PATCH' && !injected) {
        injected = true;
        await meanwhile();
      }
      const headers: Record<string, string> = {};
      for (const name of ['authorization', 'content-type', 'if-match', 'accept']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
      const answer = await fetch(`${server.url}${req.url}`, { method: req.method, headers, body });
      const text = await answer.text();
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, server: proxy };
}

describe('concurrent edits', () => {
  it('a target edit racing another change is applied on top of it: both land', async () => {
    await create('race-keys');
    const proxy = await proxyWithChangeBeforeFirstPatch(async () => {
      const current = (await api('GET', '/api/v1/flags/race-keys')).body.flag as { version: number };
      const other = await api(
        'PATCH',
        '/api/v1/flags/race-keys',
        { targeting: { if: [{ in: [{ var: 'targetingKey' }, ['bob']] }, 'on', null] }, reason: 'bob in' },
        { 'if-match': `"${current.version}"` },
      );
      expect(other.status).toBe(200);
    });
    try {
      const raced = await cli(['flags', 'target', 'race-keys', '--variant', 'on', '--keys', 'alice', '--reason', 'alice in'], {
        url: proxy.url,
      });
      expect(raced.code, raced.stderr).toBe(0);
      expect(raced.stderr).toContain('race-keys changed while this edit was made; applying it again on the new version');
    } finally {
      await new Promise((resolve) => proxy.server.close(resolve));
    }
    expect((await ofrep('race-keys', { targetingKey: 'bob' })).variant).toBe('on');
    expect((await ofrep('race-keys', { targetingKey: 'alice' })).variant).toBe('on');
    const history = JSON.parse((await cli(['flags', 'history', 'race-keys', '--json'])).stdout) as { history: Array<{ reason: string }> };
    expect(history.history.map((h) => h.reason)).toEqual(['alice in', 'bob in', '']);
  });
});

describe('flags history', () => {
  it('shows every field each change changed, a description change included, in table and JSON', async () => {
    await create('th');
    expect((await cli(['flags', 'set', 'th', '--description', 'the new checkout', '--reason', 'docs'])).code).toBe(0);
    expect((await cli(['flags', 'set', 'th', '--rollout', 'on=5,off=95'])).code).toBe(0);
    const table = await cli(['flags', 'history', 'th']);
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]?.split('\t').at(-1)).toBe('rollout: — → on=5% off=95%');
    expect(rows[1]?.split('\t').at(-1)).toBe('description: — → "the new checkout"');
    expect(rows[2]?.split('\t').at(-1)).toContain('service: — → "checkout"; kind: — → "release"');
    const json = JSON.parse((await cli(['flags', 'history', 'th', '--json'])).stdout) as {
      history: Array<{ changes: Array<{ field: string; before: unknown; after: unknown }> }>;
    };
    expect(json.history[1]?.changes).toEqual([{ field: 'description', before: null, after: 'the new checkout' }]);
    const tty = await cli(['flags', 'history', 'th'], { tty: true });
    expect(tty.stdout).toContain('v2  update by admin');
    expect(tty.stdout).toContain('\n    description: — → "the new checkout"\n');
    expect(tty.stdout).toContain('\n    variants.off: — → false\n');
    const csv = await cli(['flags', 'history', 'th', '--format', 'csv']);
    expect(csv.stdout.split(/\r?\n/)[0]).toBe('at,action,by,version,reason,serves,changes');
  });
});

describe('flags import of plain flagd JSON', () => {
  it('names --service in its hint, and --service makes it work', async () => {
    const file = join(dir, 'plain.flagd.json');
    await writeFile(
      file,
      JSON.stringify({ flags: { 'plain-flag': { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' } } }),
    );
    const refused = await cli(['flags', 'import', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--service NAME');
    const imported = await cli(['flags', 'import', file, '--service', 'search', '--kind', 'operational', '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ created: ['plain-flag'] });
    expect((await api('GET', '/api/v1/flags/plain-flag')).body.flag).toMatchObject({ service: 'search', kind: 'operational' });
  });
});

describe('flags import of rules that can never answer', () => {
  it('imports them with a warning naming each, and --strict refuses the file', async () => {
    const file = join(dir, 'null-only.flagd.json');
    const variants = { yes: 'yes', no: 'no', fallback: 'fallback' };
    await writeFile(
      file,
      JSON.stringify({
        metadata: { service: 'search' },
        flags: {
          'bad-semver': { state: 'ENABLED', variants, defaultVariant: 'fallback', targeting: { sem_ver: [{ var: 'v' }, '===', '1.0.0'] } },
          'bad-ref': { state: 'ENABLED', variants, defaultVariant: 'fallback', targeting: { if: [{ $ref: 'gone' }, 'yes', 'no'] } },
        },
      }),
    );
    const strict = await cli(['flags', 'import', file, '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('flag bad-semver: unknown sem_ver comparison "==="');
    expect(strict.stderr).toContain('flag bad-ref: targeting at .if[0] is a $ref to unknown evaluator gone');
    expect((await api('GET', '/api/v1/flags/bad-semver')).status).toBe(404);
    const imported = await cli(['flags', 'import', file]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('2 created');
    expect(imported.stderr).toContain(
      'warning: flag bad-semver: unknown sem_ver comparison "===" in targeting (evaluates to null; `--strict` refuses it)',
    );
    expect(imported.stderr).toContain(
      'warning: flag bad-ref: targeting at .if[0] is a $ref to unknown evaluator gone (answers PARSE_ERROR;',
    );
  });
});

describe('flags import of flag metadata', () => {
  it('keeps the metadata, shows it in flags get and the history, and serves it with every evaluation', async () => {
    const file = join(dir, 'metadata.flagd.json');
    await writeFile(
      file,
      JSON.stringify({
        metadata: { service: 'search', flagSetId: 'search-flags' },
        flags: {
          'with-meta': {
            state: 'ENABLED',
            variants: { on: true, off: false },
            defaultVariant: 'on',
            metadata: { owner: 'team-a', tier: 2 },
          },
        },
      }),
    );
    expect((await cli(['flags', 'import', file])).code).toBe(0);
    const shown = await cli(['flags', 'get', 'with-meta']);
    expect(shown.stdout).toContain('metadata\tflagSetId="search-flags" owner="team-a" tier=2');
    const history = await cli(['flags', 'history', 'with-meta', '--json']);
    const [created] = (JSON.parse(history.stdout) as { history: Array<{ changes: Array<{ field: string; after: unknown }> }> }).history;
    expect(created?.changes).toContainEqual({
      field: 'metadata',
      before: null,
      after: { flagSetId: 'search-flags', owner: 'team-a', tier: 2 },
    });
    expect((await ofrep('with-meta', {})) as unknown).toMatchObject({
      metadata: { flagSetId: 'search-flags', owner: 'team-a', tier: 2, service: 'search', kind: 'release' },
    });
  });
});

describe('column completion', () => {
  it("offers the dataset's columns and calculations, and nothing without a dataset", async () => {
    const res = await fetch(`${server.url}/1/batch/shop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ data: { duration_ms: 12.5, 'service.name': 'api', status_code: 200 } }]),
    });
    expect(res.status).toBe(200);
    const columns = await cli(['__complete', 'columns', '--dataset', 'shop']);
    expect(columns.stdout.split('\n')).toEqual(expect.arrayContaining(['duration_ms', 'service.name', 'status_code']));
    const calcs = (await cli(['__complete', 'calcs', '--dataset', 'shop'])).stdout.split('\n');
    expect(calcs).toEqual(expect.arrayContaining(['COUNT', 'P99(duration_ms)', 'AVG(status_code)', 'COUNT_DISTINCT(service.name)']));
    expect(calcs).not.toContain('P99(service.name)');
    expect(await cli(['__complete', 'columns'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await cli(['__complete', 'columns', '--dataset', 'nosuch'])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('offers nothing, quietly, when no server answers', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    expect(await cli(['__complete', 'columns', '--dataset', 'shop'], { url: `http://127.0.0.1:${port}` })).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
  });
});
