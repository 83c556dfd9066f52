/**
 * End-to-end through the built `bin/flagscope` (run `npm run build` first): `flags toggle`,
 * `flags target`, the per-field `flags history`, `flags import --service`, and every
 * `--variants` example of docs/cli.md run as written.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = process.env.FLAGSCOPE_BIN || join(ROOT, 'bin', 'flagscope');

let server: RunningServer;
let dir: string;

async function flagscope(args: string[]) {
  const result = await execaNode(BIN, args, {
    reject: false,
    cwd: dir,
    env: { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: server.adminKey as string, NO_COLOR: '1' },
    extendEnv: false,
    stripFinalNewline: false,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-flag-verbs-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('docs/cli.md', () => {
  it('every `--variants` example is accepted by `flags create` as written', async () => {
    const doc = await readFile(join(ROOT, 'docs', 'cli.md'), 'utf8');
    const examples = [...doc.matchAll(/`--variants '([^']+)'`/g)].map((m) => m[1] as string);
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const [i, variants] of examples.entries()) {
      const first = variants.split('=')[0] as string;
      const created = await flagscope([
        'flags',
        'create',
        `doc-variants-${i}`,
        '--service',
        'docs',
        '--kind',
        'experiment',
        '--variants',
        variants,
        '--default',
        first,
      ]);
      expect(created.exitCode, `${variants}: ${created.stderr}`).toBe(0);
    }
  });
});

describe('flag verbs through the binary', () => {
  it('toggles, targets and shows each change field by field', async () => {
    const created = await flagscope([
      'flags',
      'create',
      'e2e-checkout',
      '--service',
      'checkout',
      '--kind',
      'release',
      '--variants',
      'on=true,off=false',
      '--default',
      'off',
      '--rollout',
      'on=10,off=90',
    ]);
    expect(created.exitCode, created.stderr).toBe(0);

    const on = await flagscope(['flags', 'toggle', 'e2e-checkout', '--on', '--reason', 'launch']);
    expect(on).toMatchObject({ exitCode: 0, stderr: '' });
    expect(on.stdout).toContain('rollout: on=10% off=90% → —');

    const target = await flagscope(['flags', 'target', 'e2e-checkout', '--variant', 'off', '--keys', 'u1,u2', '--reason', 'holdouts']);
    expect(target.exitCode, target.stderr).toBe(0);
    const rule = await flagscope(['flags', 'target', 'e2e-checkout', '--rule', 'country in [DE,FR] => off', '--reason', 'not in EU yet']);
    expect(rule.exitCode, rule.stderr).toBe(0);
    expect((await flagscope(['flags', 'eval', 'e2e-checkout', '--targeting-key', 'u1'])).stdout).toBe(
      'e2e-checkout\toff\tfalse\tTARGETING_MATCH\n',
    );
    expect((await flagscope(['flags', 'eval', 'e2e-checkout', '--targeting-key', 'u9', '--attr', 'country=DE'])).stdout).toBe(
      'e2e-checkout\toff\tfalse\tTARGETING_MATCH\n',
    );
    expect((await flagscope(['flags', 'eval', 'e2e-checkout', '--targeting-key', 'u9', '--attr', 'country=US'])).stdout).toBe(
      'e2e-checkout\ton\ttrue\tDEFAULT\n',
    );

    expect((await flagscope(['flags', 'set', 'e2e-checkout', '--description', 'one-page checkout'])).exitCode).toBe(0);
    const history = await flagscope(['flags', 'history', 'e2e-checkout']);
    const changes = history.stdout
      .trimEnd()
      .split('\n')
      .map((row) => row.split('\t').at(-1));
    expect(changes.slice(0, 4)).toEqual([
      'description: — → "one-page checkout"',
      'targeting: targetingKey in [u1, u2] => off → targetingKey in [u1, u2] => off; country in [DE, FR] => off',
      'targeting: — → targetingKey in [u1, u2] => off',
      'defaultVariant: "off" → "on"; rollout: on=10% off=90% → —',
    ]);

    const ks = await flagscope([
      'flags',
      'create',
      'e2e-switch',
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
    expect(ks.exitCode, ks.stderr).toBe(0);
    const refused = await flagscope(['flags', 'toggle', 'e2e-switch', '--off', '--reason', 'x']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('flagscope buttons press e2e-switch --reason TEXT');
  });

  it("flags import's hint names an option that exists, and it works", async () => {
    const file = join(dir, 'plain.json');
    await writeFile(file, JSON.stringify({ flags: { plain: { state: 'ENABLED', variants: { a: 'x', b: 'y' }, defaultVariant: 'a' } } }));
    const refused = await flagscope(['flags', 'import', file]);
    expect(refused.exitCode).toBe(2);
    const option = /`flagscope flags import FILE (--[a-z]+) NAME`/.exec(refused.stderr)?.[1];
    expect(option).toBe('--service');
    const help = await flagscope(['flags', 'import', '--help']);
    expect(help.stdout).toContain(`${option} <service>`);
    const imported = await flagscope(['flags', 'import', file, '--service', 'search']);
    expect(imported).toMatchObject({ exitCode: 0, stderr: '' });
    expect(imported.stdout).toContain('1 created');
  });
});
