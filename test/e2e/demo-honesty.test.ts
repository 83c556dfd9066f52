/**
 * The demo shows only what really runs: every `$ flagscope …` line it prints, pasted into a shell
 * against the data `flagscope demo --keep` leaves, prints what the demo showed under it. The
 * built binary runs the demo; a `flagscope serve` on the kept data directory answers the
 * replays, each run by bash in a pseudo-terminal (`script`) of the demo's width, as a person
 * would run it. Commands that change state (a press, a release, a canary start) and the button
 * list taken before the press are not run again: their second run would rightly differ.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/flagscope', import.meta.url));
const children: ChildProcess[] = [];
let home: string | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

/** `flagscope serve` on a data directory; resolves with its URL once it listens. */
async function serve(dataDir: string, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /^flagscope listening on (\S+)$/.exec(line);
      if (match !== null) resolve(match[1] as string);
    });
    child.once('exit', () => reject(new Error(`flagscope serve exited: ${stderr}`)));
  });
}

/** Timings differ run to run: `· 80 ms` at the end of a result's footer. */
function normalise(text: string): string {
  return text.replaceAll('\r', '').replace(/ · \d+ ms$/gm, ' · N ms');
}

const NOT_REPLAYED = /^flagscope (buttons( (press|release) .*)?|canary start .*)$/;

it('prints each command exactly as it ran: pasted into a shell against the kept data, it prints what the demo showed', async () => {
  home = await mkdtemp(join(tmpdir(), 'flagscope-demo-honesty-'));
  const env = { ...process.env, TMPDIR: home, XDG_CONFIG_HOME: join(home, 'config'), FLAGSCOPE_PROFILE: '', CI: '1', NO_COLOR: '1' };
  const demo = await execa(process.execPath, [bin, 'demo', '--keep', '--events', '20000', '--no-color'], { env, reject: false });
  expect(demo.exitCode, demo.stderr).toBe(0);
  const kept = /^data kept in (\S+); its admin key is (\S+)$/m.exec(demo.stderr);
  expect(kept).not.toBeNull();
  const [, dataDir, key] = kept as unknown as [string, string, string];
  const shown = normalise(demo.stdout);

  const commands = [...shown.matchAll(/^\$ (flagscope .*)$/gm)].map((m) => m[1] as string);
  expect(commands.length).toBeGreaterThanOrEqual(18);
  for (const command of commands) expect(command).not.toContain('...');
  const replayed = commands.filter((c) => !NOT_REPLAYED.test(c));
  expect(replayed.filter((c) => c.startsWith('flagscope query ')).length).toBeGreaterThanOrEqual(6);
  for (const verb of ['compare', 'explain', 'flags eval', 'canary status', 'canary gate']) {
    expect(replayed.some((c) => c.startsWith(`flagscope ${verb} `))).toBe(true);
  }

  const url = await serve(dataDir, env);
  for (const command of new Set(replayed)) {
    // The line as printed, pasted into bash; `flagscope` is the built binary.
    const file = join(home, 'replay.sh');
    await writeFile(file, `stty cols 100 rows 60\nflagscope() { '${process.execPath}' '${bin}' "$@"; }\n${command}\n`);
    const run = await execa('script', ['-qec', `bash ${file}`, '/dev/null'], {
      env: { ...env, FLAGSCOPE_API_URL: url, FLAGSCOPE_API_KEY: key, TERM: 'xterm' },
      reject: false,
    });
    const output = normalise(run.stdout);
    expect(output.length, command).toBeGreaterThan(0);
    expect(shown, `${command}\n--- printed now ---\n${output}`).toContain(`$ ${command}\n${output}`);
  }
}, 600_000);
