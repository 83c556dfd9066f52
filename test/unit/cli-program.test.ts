import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { colorEnabled } from '../../src/cli/command-env.js';
import { createMemoryContext } from '../support/memory-context.js';
import type { MemoryContextOptions } from '../support/memory-context.js';
import { buildProgram, commandPath, forEachCommand, NOUNS, nounsFor, runCli } from '../../src/cli/program.js';
import { reportError } from '../../src/cli/report-error.js';
import { FlagscopeError } from '../../src/errors.js';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function run(argv: string[], options: MemoryContextOptions = {}) {
  const ctx = createMemoryContext({ env: { XDG_CONFIG_HOME: '/nonexistent-config' }, ...options });
  const code = await runCli(argv, ctx);
  return { code, stdout: ctx.stdoutText(), stderr: ctx.stderrText() };
}

describe('lazy nouns', () => {
  it('lists every noun in the root help exactly as the full command tree would', async () => {
    const full = await buildProgram({ ctx: createMemoryContext(), exitCode: 0 }, 'all');
    const help = full.createHelp();
    const visible = full.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    expect(NOUNS.map((n) => [n.name, n.term, n.description])).toEqual(
      visible.map((c) => [c.name(), help.subcommandTerm(c), c.description()]),
    );
    const ctx = createMemoryContext({ env: { XDG_CONFIG_HOME: '/nonexistent-config' } });
    full.configureOutput({ writeOut: (t) => ctx.stdout.write(t) });
    full.outputHelp();
    expect((await run(['--help'])).stdout).toBe(ctx.stdoutText());
  });

  it('loads only the noun a command names', () => {
    expect(nounsFor(['--help'])).toBe('stubs');
    expect(nounsFor([])).toBe('stubs');
    expect(nounsFor(['--api-url', 'http://x:1', '--json', 'query', 'shop'])).toBe('query');
    expect(nounsFor(['--format', 'json', 'flags', 'list'])).toBe('flags');
    expect(nounsFor(['help', 'buttons'])).toBe('buttons');
    expect(nounsFor(['completion', 'bash'])).toBe('all');
    expect(nounsFor(['__complete', 'datasets'])).toBe('all');
    expect(nounsFor(['qurey'])).toBe('all');
  });

  it('still suggests a command for a typo', async () => {
    const r = await run(['qurey', 'shop']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('query');
  });
});

describe('version', () => {
  it('prints the version of package.json', async () => {
    const manifest = JSON.parse(await readFile(resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect([r.code, r.stdout]).toEqual([0, `${manifest.version}\n`]);
  });
});

describe('help', () => {
  it('prints the root help with examples on stdout when run without arguments', async () => {
    const r = await run([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: flagscope');
    expect(r.stdout).toContain('Examples:\n  $ flagscope');
    expect(r.stderr).toBe('');
  });

  it('shows at least one example and the global options in every command help', async () => {
    const paths: string[][] = [];
    forEachCommand(await buildProgram({ ctx: createMemoryContext(), exitCode: 0 }), (cmd) => {
      if ((cmd as unknown as { _hidden?: boolean })._hidden) return;
      paths.push(commandPath(cmd).split(' ').slice(1));
    });
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['', 'query', 'datasets', 'columns', 'events send', 'serve', 'demo', 'completion']),
    );
    for (const path of paths) {
      const r = await run([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(0);
      expect(r.stdout, path.join(' ')).toMatch(/Examples:\n {2}\$ flagscope/);
      expect(r.stdout, path.join(' ')).toContain('--api-url <url>');
    }
  });

  it('exits 2 with the group help on stderr when a command group has no subcommand', async () => {
    const r = await run(['events']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: flagscope events');
  });
});

describe('usage errors (exit 2, no server needed)', () => {
  it('reports an unknown option with a hint to the command help', async () => {
    const r = await run(['query', 'checkout', '--bogus']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error: unknown option '--bogus'\nhint: run `flagscope query --help`\n" });
  });

  it('accepts `--format flagd` only for `flags export`', async () => {
    const r = await run(['query', 'checkout', '--format', 'flagd']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: `--format flagd` is only for `flags export`\nhint: use one of table, json, csv, ndjson\n',
    });
  });

  it('reports a missing argument', async () => {
    const r = await run(['columns']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: missing required argument 'dataset'\nhint: run `flagscope columns --help`\n");
  });

  it('reports excess arguments in the house style', async () => {
    const r = await run(['columns', 'shop', 'extra']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: too many arguments for 'columns'; expected 1 argument but got 2\nhint: run `flagscope columns --help`\n");
  });

  it('names the subcommands of a command given one it lacks', async () => {
    const r = await run(['datasets', 'extra']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "error: unknown command 'extra' for `flagscope datasets`\nhint: `flagscope datasets` takes delete, retention, beacons; run `flagscope datasets --help`\n",
    );
  });

  it('suggests the closest command for a typo', async () => {
    const r = await run(['querry', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: unknown command 'querry'\nhint: did you mean query? run `flagscope --help`\n");
  });

  it('rejects a format outside the choices', async () => {
    const r = await run(['datasets', '--format', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: option '--format <format>' argument 'xml' is invalid/);
  });

  it('prints a JSON error object on stderr with --json', async () => {
    const r = await run(['query', 'checkout', '--bogus', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toEqual({
      error: { code: 'usage', message: "unknown option '--bogus'", hint: 'run `flagscope query --help`' },
    });
  });

  it('checks query shorthand before contacting the server', async () => {
    const port = await closedPort();
    const r = await run(['query', 'checkout', '--calc', 'P1000(duration_ms)', '--api-url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: invalid calculation "P1000\(duration_ms\)": unknown op "P1000"\nhint: /);
  });

  it('refuses conflicting time options, bad limits and bad timeouts', async () => {
    expect((await run(['query', 'd', '--since', '2h', '--start', '-3h'])).stderr).toContain('`--since` and `--start` both set the start');
    expect((await run(['query', 'd', '--limit', '0'])).code).toBe(2);
    const timeout = await run(['datasets', '--timeout', 'soon']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('invalid duration "soon"');
    const both = await run(['datasets', '--json', '--format', 'csv']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('`--json` and `--format csv` disagree');
  });

  it('refuses --watch when stdout is not a terminal', async () => {
    const r = await run(['query', 'checkout', '--watch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error: `--watch` needs a terminal, and stdout is not one\nhint: drop `--watch` when piping or scripting; run the command again to refresh\n',
    );
  });

  it('refuses to read events from a terminal and reports a missing file', async () => {
    const tty = await run(['events', 'send', 'checkout'], { stdinTTY: true });
    expect(tty.code).toBe(2);
    expect(tty.stderr).toContain('no events to send: stdin is a terminal');
    const missing = await run(['events', 'send', 'checkout', '/nonexistent/events.ndjson']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: cannot read /nonexistent/events.ndjson: no such file');
  });

  it('refuses an unknown profile named on the command line', async () => {
    const r = await run(['datasets', '--profile', 'staging']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: profile "staging" is not in the config file');
  });
});

describe('unreachable server (exit 5)', () => {
  it('says which URL failed and how to fix it', async () => {
    const port = await closedPort();
    const r = await run(['datasets', '--api-url', `http://127.0.0.1:${port}`]);
    expect(r).toEqual({
      code: 5,
      stdout: '',
      stderr: `error: cannot reach the flagscope API at http://127.0.0.1:${port}: connection refused\nhint: start it with \`flagscope serve\` or pass \`--api-url\`\n`,
    });
  });

  it('uses flag > environment > profile > default for the URL', async () => {
    const [flagPort, envPort, profilePort] = [await closedPort(), await closedPort(), await closedPort()];
    const xdg = await mkdtemp(join(tmpdir(), 'fs-cli-'));
    await mkdir(join(xdg, 'flagscope'), { recursive: true });
    await writeFile(
      join(xdg, 'flagscope', 'config.json'),
      JSON.stringify({ current_profile: 'default', profiles: { default: { api_url: `http://127.0.0.1:${profilePort}` } } }),
    );
    const env = { XDG_CONFIG_HOME: xdg, FLAGSCOPE_API_URL: `http://127.0.0.1:${envPort}` };
    const viaFlag = await run(['datasets', '--api-url', `http://127.0.0.1:${flagPort}`], { env });
    expect(viaFlag.stderr).toContain(`127.0.0.1:${flagPort}:`);
    const viaEnv = await run(['datasets'], { env });
    expect(viaEnv.stderr).toContain(`127.0.0.1:${envPort}:`);
    const viaProfile = await run(['datasets'], { env: { XDG_CONFIG_HOME: xdg } });
    expect(viaProfile.stderr).toContain(`127.0.0.1:${profilePort}:`);
    expect(viaProfile.code).toBe(5);
  });

  it('logs the resolved connection with --verbose', async () => {
    const port = await closedPort();
    const r = await run(['datasets', '--verbose'], {
      env: { XDG_CONFIG_HOME: '/nonexistent', FLAGSCOPE_API_URL: `http://127.0.0.1:${port}` },
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`api http://127.0.0.1:${port} (from env), key from none, profile default`);
    expect(r.stderr).toContain('GET /api/v1/datasets failed');
  });

  it('gives the JSON error object with --format json', async () => {
    const port = await closedPort();
    const r = await run(['columns', 'checkout', '--format', 'json', '--api-url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'unreachable', hint: 'start it with `flagscope serve` or pass `--api-url`' });
  });
});

describe('reportError', () => {
  const capture = () => {
    const ctx = createMemoryContext();
    return { ctx, stderr: ctx.stderr };
  };

  it('maps FlagscopeError codes to exit codes', () => {
    const { ctx, stderr } = capture();
    expect(
      reportError(new FlagscopeError('not_found', 'dataset "x" does not exist', 'run `flagscope datasets`'), stderr, {
        json: false,
        verbose: false,
      }),
    ).toBe(3);
    expect(reportError(new FlagscopeError('forbidden', 'no'), stderr, { json: false, verbose: false })).toBe(4);
    expect(reportError(new FlagscopeError('conflict', 'changed'), stderr, { json: false, verbose: false })).toBe(6);
    expect(ctx.stderrText()).toBe('error: dataset "x" does not exist\nhint: run `flagscope datasets`\nerror: no\nerror: changed\n');
  });

  it('treats other exceptions as bugs: exit 1, stack trace only with --verbose', () => {
    const quiet = capture();
    expect(reportError(new TypeError('x is undefined'), quiet.stderr, { json: false, verbose: false })).toBe(1);
    expect(quiet.ctx.stderrText()).toBe(
      'error: unexpected failure: x is undefined (this is a bug)\nhint: run again with `--verbose` for the stack trace and report it\n',
    );
    const verbose = capture();
    reportError(new TypeError('x is undefined'), verbose.stderr, { json: false, verbose: true });
    expect(verbose.ctx.stderrText()).toMatch(/TypeError: x is undefined\n\s+at /);
  });
});

describe('colour rules', () => {
  it('follows --no-color, FORCE_COLOR, NO_COLOR, TERM=dumb, TTY and format', () => {
    const tty = { flag: undefined, tty: true, machineFormat: false };
    expect(colorEnabled({}, tty)).toBe(true);
    expect(colorEnabled({}, { ...tty, tty: false })).toBe(false);
    expect(colorEnabled({}, { ...tty, machineFormat: true })).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, tty)).toBe(false);
    expect(colorEnabled({ TERM: 'dumb' }, tty)).toBe(false);
    expect(colorEnabled({}, { ...tty, flag: false })).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, { ...tty, tty: false })).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, tty)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1' }, { ...tty, flag: false })).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '0' }, tty)).toBe(true);
  });
});

describe('start-up cost', () => {
  /** Packages reachable from a module through static, non-type imports. */
  async function staticPackages(entry: string, seen = new Set<string>(), packages = new Set<string>()): Promise<Set<string>> {
    if (seen.has(entry)) return packages;
    seen.add(entry);
    const source = await readFile(entry, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)) {
      const specifier = match[1] ?? '';
      if (specifier.startsWith('.')) await staticPackages(resolve(dirname(entry), specifier.replace(/\.js$/, '.ts')), seen, packages);
      else packages.add(specifier);
    }
    for (const match of source.matchAll(/(?:\brequire|createRequire\([^)]*\))\('([^']+)'\)/g)) packages.add(match[1] ?? '');
    return packages;
  }

  it('loads only commander and node built-ins before a command runs', async () => {
    const packages = await staticPackages(join(import.meta.dirname, '..', '..', 'src', 'main.ts'));
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual(['commander']);
  });
});
