/**
 * End-to-end: the built `bin/flagscope` (run `npm run build` first) against a real server,
 * not on a terminal: misspelt `buttons` verbs and keys, the verbs' help, the list piped, bash
 * completion of `buttons press`, and `--watch-traffic` judging recent traffic (issue 11,
 * items 3 and 4).
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, execaNode } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = process.env.FLAGSCOPE_BIN || join(ROOT, 'bin', 'flagscope');

let server: RunningServer;
let dir: string;
/** How far behind the real clock the server's clock runs (to date a press in the past). */
let serverLag = 0;
let onCallKey: string;

function env(key: string): Record<string, string> {
  return { XDG_CONFIG_HOME: join(dir, 'xdg'), FLAGSCOPE_API_URL: server.url, FLAGSCOPE_API_KEY: key, NO_COLOR: '1' };
}

async function flagscope(args: string[], key: string = server.adminKey as string) {
  const result = await execaNode(BIN, args, { reject: false, cwd: dir, env: env(key), extendEnv: false, stripFinalNewline: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function createFlag(definition: Record<string, unknown>): Promise<void> {
  const res = await api('POST', '/api/v1/flags', { variants: { on: true, off: false }, defaultVariant: 'on', ...definition });
  expect(res.status, await res.clone().text()).toBe(201);
}

async function pressedReason(key: string): Promise<string | undefined> {
  const res = await api('GET', `/api/v1/flags/${key}`);
  return ((await res.json()) as { flag: { pressed?: { reason: string } } }).flag.pressed?.reason;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flagscope-e2e-buttons-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0, now: () => Date.now() - serverLag });
  await createFlag({
    key: 'payments_retry_enabled',
    service: 'payments',
    kind: 'kill-switch',
    safeVariant: 'off',
    description: 'automatic retries of failed card payments',
  });
  await createFlag({ key: 'search_off', service: 'search', kind: 'kill-switch', safeVariant: 'off' });
  await createFlag({ key: 'checkout_v2', service: 'checkout', kind: 'release' });
  const created = await flagscope(['keys', 'create', '--name', 'on-call', '--scope', 'killswitch', '--json']);
  expect(created.exitCode, created.stderr).toBe(0);
  onCallKey = (JSON.parse(created.stdout) as { key: string }).key;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('misspelt buttons verbs and keys (issue 11, item 4)', () => {
  it('`buttons relase KEY --reason … --yes` names the verb and suggests release, changing nothing', async () => {
    const r = await flagscope(['buttons', 'relase', 'payments_retry_enabled', '--reason', 'recovered', '--yes']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      "error: unknown command 'relase' for `flagscope buttons`\nhint: did you mean release? run `flagscope buttons --help`\n",
    );
    expect(r.stdout).toBe('');
  });

  it('`buttons pres KEY` suggests press instead of "too many arguments"', async () => {
    const r = await flagscope(['buttons', 'pres', 'payments_retry_enabled', '--reason', 'x', '--yes']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown command 'pres'");
    expect(r.stderr).toContain('did you mean press?');
    expect(r.stderr).not.toContain('too many arguments');
    expect(await pressedReason('payments_retry_enabled')).toBeUndefined();
  });

  it('a key one letter short suggests the nearest kill switches and points to `flagscope buttons`', async () => {
    for (const key of [server.adminKey as string, onCallKey]) {
      const r = await flagscope(['buttons', 'press', 'payments_retry_enable', '--reason', 'storm', '--yes'], key);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toBe(
        'error: no kill switch payments_retry_enable\nhint: did you mean payments_retry_enabled? `flagscope buttons` lists the kill switches\n',
      );
    }
    // Only kill switches are suggested: a release flag one letter off is not one to press.
    const r = await flagscope(['buttons', 'press', 'checkout_v', '--reason', 'x', '--yes']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe('error: no kill switch checkout_v\nhint: `flagscope buttons` lists the kill switches\n');
    expect(r.stderr).not.toContain('flags list');
  });

  it('`buttons press --help` does not list the list-only `--service`, and `--service` with a verb is refused', async () => {
    const help = await flagscope(['buttons', 'press', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('--watch-window <duration>');
    expect(help.stdout).toContain('--api-url <url>');
    expect(help.stdout).not.toContain('--service');
    expect((await flagscope(['buttons', '--help'])).stdout).toContain('--service <service>');
    const r = await flagscope(['buttons', '--service', 'payments', 'press', 'payments_retry_enabled', '--reason', 'x', '--yes']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('`--service` does not apply to `flagscope buttons press`');
    expect(await pressedReason('payments_retry_enabled')).toBeUndefined();
  });

  it('`buttons --service S` of a service without switches says so on stderr when piped', async () => {
    const r = await flagscope(['buttons', '--service', 'checkout']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('service checkout has no kill switches; `flagscope buttons` lists the services that have some\n');
    const csv = await flagscope(['buttons', '--service', 'checkout', '--format', 'csv']);
    expect(csv.stdout.split('\n')[0]).toMatch(/^service,key,state,/);
    expect(csv.stderr).toContain('service checkout has no kill switches');
  });

  it('bash completion of `buttons press|release <TAB>` offers only kill switches', async () => {
    const bin = await mkdtemp(join(dir, 'bin-'));
    await writeFile(join(bin, 'flagscope'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    await chmod(join(bin, 'flagscope'), 0o755);
    const complete = async (words: string[]): Promise<string[]> => {
      const program = [
        `source ${JSON.stringify(join(ROOT, 'completions', 'flagscope.bash'))}`,
        `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
        `COMP_CWORD=${words.length - 1}`,
        '_flagscope',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      const { stdout } = await execa('bash', ['-c', program], {
        env: { ...env(server.adminKey as string), PATH: `${bin}:/usr/bin:/bin` },
        extendEnv: false,
      });
      return stdout.split('\n').filter((l) => l.length > 0);
    };
    expect(await complete(['flagscope', 'buttons', 'press', ''])).toEqual(['payments_retry_enabled', 'search_off']);
    expect(await complete(['flagscope', 'buttons', 'release', 'se'])).toEqual(['search_off']);
    expect(await complete(['flagscope', 'buttons', 'press', 'check'])).toEqual([]);
    // `flags get` still completes every flag.
    expect(await complete(['flagscope', 'flags', 'get', 'check'])).toEqual(['checkout_v2']);
  });
});

describe('--watch-traffic judges recent traffic, not every event since the press (issue 11, item 3)', () => {
  async function sendAt(dataset: string, variant: string, times: number[]): Promise<void> {
    const items = times.map((t, i) => ({ data: { 'flag.search_off': variant, route: `/s/${i}` }, time: new Date(t).toISOString() }));
    const res = await api('POST', `/1/batch/${dataset}`, items);
    expect(res.status).toBe(200);
  }

  it('confirms a press whose first seconds still saw the old variant, and says what window it judged', async () => {
    // The switch was pressed a minute ago; clients took a few seconds to hear of it.
    serverLag = 60_000;
    const pressed = await api('POST', '/api/v1/flags/search_off/press', { reason: 'index corrupt' });
    serverLag = 0;
    expect(pressed.status).toBe(200);
    const at = Date.parse(((await pressed.json()) as { press: { at: string } }).press.at);
    await sendAt(
      'searchlog',
      'on',
      Array.from({ length: 20 }, (_, i) => at + 1000 + i * 200),
    );
    await sendAt(
      'searchlog',
      'off',
      Array.from({ length: 180 }, (_, i) => at + 5000 + i * 300),
    );
    const r = await flagscope([
      'buttons',
      'press',
      'search_off',
      '--reason',
      'index corrupt',
      '--yes',
      '--watch-traffic',
      'searchlog',
      '--watch-timeout',
      '5s',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('judging the last 10s of events after the press, for up to 5s');
    expect(r.stdout).toMatch(
      /^traffic confirms it: (\d+) of \1 events in searchlog in the last 10s \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\) were served off$/m,
    );
    expect(r.stdout).toContain('(every event since the press, propagation included: off: 180, on: 20)');
  });

  it('still fails with exit 5 when the recent window shows the old variant', async () => {
    const now = Date.now();
    await sendAt(
      'searchlog2',
      'on',
      Array.from({ length: 7 }, (_, i) => now - 3000 + i * 100),
    );
    const r = await flagscope([
      'buttons',
      'press',
      'search_off',
      '--reason',
      'index corrupt',
      '--yes',
      '--watch-traffic',
      'searchlog2',
      '--watch-timeout',
      '0s',
    ]);
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(
      /error: traffic in searchlog2 does not show off after 0s of watching \(flag\.search_off in the last 10s \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\): on: 7; since the press: on: 7\)/,
    );
  });
});
