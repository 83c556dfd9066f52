/**
 * Completion scripts: the committed files in completions/ must equal what
 * `flagscope completion SHELL` prints (regenerate with
 * `UPDATE_COMPLETIONS=1 npx vitest run test/unit/cli-completion`), and each
 * script, run in its own shell, must complete commands, options, choices, datasets and columns.
 * The zsh and fish parts need those shells (.ci/run installs them); without them they are skipped.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createMemoryContext } from '../support/memory-context.js';
import { buildCompletionModel } from '../../src/cli/completion/model.js';
import { buildProgram, runCli } from '../../src/cli/program.js';

const run = promisify(execFile);
const SHELLS = ['bash', 'zsh', 'fish'] as const;
const root = join(import.meta.dirname, '..', '..');

async function script(shell: string): Promise<string> {
  const ctx = createMemoryContext();
  expect(await runCli(['completion', shell], ctx)).toBe(0);
  return ctx.stdoutText();
}

describe('completion scripts', () => {
  it.each(SHELLS)('completions/flagscope.%s is up to date', async (shell) => {
    const generated = await script(shell);
    const file = join(root, 'completions', `flagscope.${shell}`);
    if (process.env.UPDATE_COMPLETIONS === '1') await writeFile(file, generated);
    expect(await readFile(file, 'utf8'), `regenerate with UPDATE_COMPLETIONS=1 npx vitest run test/unit/cli-completion`).toBe(generated);
  });

  it('reads commands, options and argument kinds from the program itself', async () => {
    const model = buildCompletionModel(await buildProgram({ ctx: createMemoryContext(), exitCode: 0 }));
    const query = model.commands.find((c) => c.path === 'query');
    expect(query?.options).toEqual(expect.arrayContaining(['--calc', '--where', '--by', '--json', '--api-url']));
    expect(query?.args).toEqual([{ type: 'dynamic', kind: 'datasets' }]);
    expect(model.commands.map((c) => c.path)).not.toContain('__complete');
    // `--format` offers what the command prints: flagd only after `flags export`, the gate's formats after `canary gate`.
    expect(model.valueOptions.get('--format')).toEqual({ type: 'choices', values: ['table', 'json', 'csv', 'ndjson'] });
    expect(model.commandValueOptions.get('flags export|--format')).toEqual({ type: 'choices', values: ['flagd'] });
    expect(model.commandValueOptions.get('canary gate|--format')).toEqual({
      type: 'choices',
      values: ['table', 'json', 'junit', 'github'],
    });
  });

  it('rejects an unknown shell with exit 2', async () => {
    const ctx = createMemoryContext();
    expect(await runCli(['completion', 'tcsh'], ctx)).toBe(2);
    expect(ctx.stderrText()).toMatch(/^error: command-argument value 'tcsh' is invalid/);
  });
});

/** A directory holding a stand-in `flagscope` that answers the dynamic lookup the scripts make, echoing the connection options it got as one more candidate. */
async function stubBin(): Promise<string> {
  const bin = await mkdtemp(join(tmpdir(), 'fs-completion-'));
  await writeFile(
    join(bin, 'flagscope'),
    [
      '#!/bin/sh',
      // The columns of the dataset named with --dataset (only shop has some), as `__complete columns` prints them.
      'if [ "$1 $2 $3" = "__complete columns --dataset" ]; then [ "$4" = shop ] && printf "duration_ms\\nservice.name\\nstatus_code\\n"; shift 4; [ $# -gt 0 ] && echo "with:$*" | tr " " "_"; exit 0; fi',
      'if [ "$1 $2 $3" = "__complete calcs --dataset" ]; then [ "$4" = shop ] && printf "COUNT\\nP99(duration_ms)\\nP99(status_code)\\n"; exit 0; fi',
      '[ "$1 $2" = "__complete datasets" ] || exit 1',
      'printf "shop\\nscratch\\nsearch\\n"',
      'shift 2',
      '[ $# -gt 0 ] && echo "with:$*" | tr " " "_"',
      'exit 0',
      '',
    ].join('\n'),
  );
  await chmod(join(bin, 'flagscope'), 0o755);
  return bin;
}

async function hasShell(shell: string): Promise<boolean> {
  try {
    await run(shell, ['-c', 'exit 0']);
    return true;
  } catch {
    return false;
  }
}

describe('bash completion', () => {
  async function complete(words: string[]): Promise<string[]> {
    const bin = await stubBin();
    const program = [
      `source ${JSON.stringify(join(root, 'completions', 'flagscope.bash'))}`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_flagscope',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const { stdout } = await run('bash', ['-c', program], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    return stdout.split('\n').filter((l) => l.length > 0);
  }

  it('completes subcommands, options and option choices', async () => {
    expect(await complete(['flagscope', 'qu'])).toEqual(['query']);
    expect(await complete(['flagscope', 'events', ''])).toEqual(['send', 'list', 'tail']);
    expect(await complete(['flagscope', 'query', 'shop', '--gr'])).toEqual(['--granularity']);
    expect(await complete(['flagscope', 'datasets', '--format', 'n'])).toEqual(['ndjson']);
    expect(await complete(['flagscope', 'datasets', '--format', ''])).toEqual(['table', 'json', 'csv', 'ndjson']);
    expect(await complete(['flagscope', 'flags', 'export', '--format', ''])).toEqual(['flagd']);
    expect(await complete(['flagscope', 'canary', 'gate', 'checkout', '--format', 'j'])).toEqual(['json', 'junit']);
    expect(await complete(['flagscope', '--format', 'f'])).toEqual(['flagd']);
    expect(await complete(['flagscope', 'completion', 'z'])).toEqual(['zsh']);
  });

  it('completes dataset names from `flagscope __complete datasets`, skipping option values', async () => {
    expect(await complete(['flagscope', 'query', 's'])).toEqual(['shop', 'scratch', 'search']);
    expect(await complete(['flagscope', '--api-url', 'http://x', 'columns', 'sh'])).toEqual(['shop']);
    expect(await complete(['flagscope', 'events', 'send', '--batch-size', '10', 'sc'])).toEqual(['scratch']);
  });

  it('passes --api-url, --api-key and --profile from the command line on to the lookup', async () => {
    expect(await complete(['flagscope', '--profile', 'prod', 'query', '--api-url=http://h:1', 'w'])).toEqual([
      'with:--profile_prod_--api-url=http://h:1',
    ]);
    expect(await complete(['flagscope', 'query', '--limit', '5', 'w'])).toEqual([]);
  });

  it("completes --by, --where and --calc from the dataset's columns", async () => {
    expect(await complete(['flagscope', 'query', 'shop', '--by', ''])).toEqual(['duration_ms', 'service.name', 'status_code']);
    expect(await complete(['flagscope', 'query', 'shop', '--calc', 'COUNT', '--by', 'se'])).toEqual(['service.name']);
    expect(await complete(['flagscope', 'query', 'shop', '--where', 'st'])).toEqual(['status_code']);
    expect(await complete(['flagscope', 'query', 'shop', '--calc', 'P99('])).toEqual(['P99(duration_ms)', 'P99(status_code)']);
    expect(await complete(['flagscope', 'explain', 'shop', '--where', 'd'])).toEqual(['duration_ms']);
    expect(await complete(['flagscope', 'compare', 'new-checkout', '--dataset', 'shop', '--where', 'd'])).toEqual(['duration_ms']);
    expect(await complete(['flagscope', 'compare', 'new-checkout', '--dataset=shop', '--where', 'd'])).toEqual(['duration_ms']);
    expect(await complete(['flagscope', '--api-url', 'http://h:1', 'query', 'shop', '--by', 'w'])).toEqual(['with:--api-url_http://h:1']);
    // No dataset on the line yet, or one without columns: nothing to offer.
    expect(await complete(['flagscope', 'query', '--by', ''])).toEqual([]);
    expect(await complete(['flagscope', 'query', 'scratch', '--by', ''])).toEqual([]);
  });
});

describe.skipIf(!(await hasShell('zsh')))('zsh completion', () => {
  async function complete(words: string[]): Promise<string[]> {
    const bin = await stubBin();
    // Stand-ins for the completion system's builtins: print what would be offered.
    const program = [
      'compdef() { :; }',
      'compadd() { [[ "$1" == "--" ]] && shift; print -l -- "$@"; }',
      '_files() { print -- "<files>"; }',
      `source ${JSON.stringify(join(root, 'completions', 'flagscope.zsh'))}`,
      `words=(${words.map((w) => `'${w}'`).join(' ')})`,
      'CURRENT=${#words}',
      '_flagscope',
    ].join('\n');
    const { stdout } = await run('zsh', ['-f', '-c', program], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    return stdout.split('\n').filter((l) => l.length > 0);
  }

  it('offers subcommands, choices, files and datasets with the connection options', async () => {
    expect(await complete(['flagscope', 'events', ''])).toEqual(['send', 'list', 'tail']);
    expect(await complete(['flagscope', 'datasets', '--format', ''])).toEqual(['table', 'json', 'csv', 'ndjson']);
    expect(await complete(['flagscope', 'canary', 'gate', 'checkout', '--format', ''])).toEqual(['table', 'json', 'junit', 'github']);
    expect(await complete(['flagscope', 'query', 'shop', '--spec', ''])).toEqual(['<files>']);
    expect(await complete(['flagscope', '--profile', 'prod', 'columns', ''])).toEqual(['shop', 'scratch', 'search', 'with:--profile_prod']);
    expect(await complete(['flagscope', 'datasets', 'delete', 'shop', '--'])).toEqual(
      expect.arrayContaining(['--yes', '--force', '--api-url']),
    );
    expect(await complete(['flagscope', 'query', 'shop', '--by', ''])).toEqual(['duration_ms', 'service.name', 'status_code']);
  });

  it('parses, and compinit finds it under the name the install gives it in $fpath', async () => {
    const file = join(root, 'completions', 'flagscope.zsh');
    await run('zsh', ['-n', file]);
    const fpathDir = await mkdtemp(join(tmpdir(), 'fs-zsh-fpath-'));
    await writeFile(join(fpathDir, '_flagscope'), await readFile(file, 'utf8'));
    const program = [
      `fpath=(${JSON.stringify(fpathDir)} $fpath)`,
      'autoload -U compinit',
      'compinit -u -D',
      'print -r -- "$_comps[flagscope]"',
      // The first call of the autoloaded function defines the script's functions and completes.
      'compadd() { [[ "$1" == "--" ]] && shift; print -l -- "$@"; }',
      "words=(flagscope datasets '')",
      'CURRENT=3',
      '_flagscope',
    ].join('\n');
    const { stdout } = await run('zsh', ['-f', '-c', program], { env: { PATH: '/usr/bin:/bin', HOME: fpathDir } });
    expect(stdout.split('\n')).toEqual(['_flagscope', 'delete', 'retention', 'beacons', '']);
  });
});

describe.skipIf(!(await hasShell('fish')))('fish completion', () => {
  async function complete(line: string): Promise<string[]> {
    const bin = await stubBin();
    const program = `source ${JSON.stringify(join(root, 'completions', 'flagscope.fish'))}; complete -C${JSON.stringify(line)}`;
    const { stdout } = await run('fish', ['-N', '-c', program], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    return stdout
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.split('\t')[0] ?? l);
  }

  it('completes commands, options, choices and datasets', async () => {
    expect(await complete('flagscope qu')).toEqual(['query']);
    expect(await complete('flagscope query --gr')).toEqual(['--granularity']);
    expect(await complete('flagscope completion z')).toEqual(['zsh']);
    expect((await complete('flagscope query s')).sort()).toEqual(['scratch', 'search', 'shop']);
    expect(await complete('flagscope --profile prod columns w')).toEqual(['with:--profile_prod']);
    expect(await complete('flagscope datasets delete shop --fo')).toEqual(['--force', '--format']);
    expect(await complete('flagscope flags export --format ')).toEqual(['flagd']);
    expect((await complete('flagscope query shop --format ')).sort()).toEqual(['csv', 'json', 'ndjson', 'table']);
    expect(await complete('flagscope query shop --by d')).toEqual(['duration_ms']);
  });

  it('parses without running (fish --no-execute)', async () => {
    await run('fish', ['--no-execute', join(root, 'completions', 'flagscope.fish')]);
  });
});
