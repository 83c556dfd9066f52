/**
 * The built server in a child process (test/fixtures/serve-child.mjs), for tests that kill it:
 * started on a data dir with extra server options, resolved once it prints its address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('../fixtures/serve-child.mjs', import.meta.url));

export interface ServeChild {
  child: ChildProcess;
  url: string;
  /** The admin key, when this start created it. */
  adminKey: string | null;
}

/** Starts the built server on `dataDir` (with `options` for `startServer`); `children` receives the process for cleanup. */
export async function startServeChild(dataDir: string, children: ChildProcess[], options?: object): Promise<ServeChild> {
  const args = options === undefined ? [childScript, dataDir] : [childScript, dataDir, JSON.stringify(options)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code} before listening: ${stderr}`)));
  });
  lines.close();
  const { url, adminKey } = JSON.parse(first) as { url: string; adminKey: string | null };
  return { child, url, adminKey };
}
