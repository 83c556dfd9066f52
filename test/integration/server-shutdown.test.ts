import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Context } from '../../src/context.js';
import { runServe } from '../../src/cli/serve/serve.js';
import { timerSleep } from '../../src/scheduler.js';

let home: string | undefined;

afterAll(async () => {
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

interface ServeRun {
  ctx: Context;
  stdout: () => string;
  stderr: () => string;
  /** Delivers a signal to the handlers `runServe` registered. */
  signal: (name: NodeJS.Signals) => void;
  /** Resolves with the URL once `runServe` prints its address line. */
  listening: Promise<string>;
}

function serveContext(homeDir: string): ServeRun {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const handlers = new Set<(signal: NodeJS.Signals) => void>();
  const listening = new Promise<string>((resolve) => {
    stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /flagscope listening on (\S+)/.exec(out);
      if (match !== null) resolve(match[1] as string);
    });
  });
  const ctx: Context = {
    stdin: new PassThrough(),
    stdout,
    stderr,
    env: { XDG_CONFIG_HOME: join(homeDir, 'config'), XDG_DATA_HOME: join(homeDir, 'data') },
    now: () => Date.now(),
    sleep: timerSleep,
    cwd: homeDir,
    homeDir,
    onSignal: (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
  };
  return { ctx, stdout: () => out, stderr: () => err, signal: (name) => handlers.forEach((h) => h(name)), listening };
}

describe('flagscope serve', () => {
  it('writes the profile on first start, finishes in-flight requests on SIGTERM, and updates the URL on restart', async () => {
    home = await mkdtemp(join(tmpdir(), 'flagscope-serve-'));
    const configFile = join(home, 'config', 'flagscope', 'config.json');

    const first = serveContext(home);
    const exitCode = runServe({ port: 0 }, first.ctx);
    const url = await first.listening;
    expect(first.stdout()).toBe(`flagscope listening on ${url}\n`);
    expect(first.stderr()).toMatch(/created an admin API key/);
    const config = JSON.parse(await readFile(configFile, 'utf8')) as {
      current_profile: string;
      profiles: Record<string, { api_url: string; api_key: string }>;
    };
    expect(config.current_profile).toBe('default');
    expect(config.profiles.default?.api_url).toBe(url);
    const key = config.profiles.default?.api_key as string;
    expect(key).toMatch(/^fsk_/);
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'data', 'flagscope', 'control.duckdb'))).isFile()).toBe(true);

    // Open a keep-alive connection, then start a request whose body is still being sent.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const health = await fetchVia(agent, url, 'GET', '/healthz', {});
    expect(health.status).toBe(200);
    const events = Array.from({ length: 500 }, (_, i) => ({ data: { i, phase: 'in-flight' } }));
    const body = Buffer.from(JSON.stringify(events));
    const inFlight = request(`${url}/1/batch/shutdown`, {
      method: 'POST',
      agent,
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'content-length': body.length,
        expect: '100-continue',
      },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      inFlight.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      inFlight.on('error', reject);
    });
    // 100 Continue proves the server has parsed the headers: the request is in flight.
    await new Promise<void>((resolve) => inFlight.once('continue', resolve));
    first.signal('SIGTERM');
    inFlight.write(body.subarray(0, 1000));
    inFlight.end(body.subarray(1000));
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual(events.map(() => ({ status: 202 })));
    expect(await exitCode).toBe(0);
    expect(first.stderr()).toMatch(/received SIGTERM/);
    agent.destroy();
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    // Restart on a new free port: no new key, the profile's URL follows the server.
    const second = serveContext(home);
    const secondExit = runServe({ port: 0 }, second.ctx);
    const url2 = await second.listening;
    expect(second.stderr()).not.toMatch(/created an admin API key/);
    const config2 = JSON.parse(await readFile(configFile, 'utf8')) as typeof config;
    expect(config2.profiles.default).toEqual({ api_url: url2, api_key: key });

    const now = Math.floor(Date.now() / 1000);
    const res = await fetch(`${url2}/api/v1/query/shutdown`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ start_time: now - 600, end_time: now + 600, calculations: [{ op: 'COUNT' }] }),
    });
    const result = (await res.json()) as { data: { results: Array<{ data: { COUNT: number } }> } };
    expect(res.status, JSON.stringify(result)).toBe(200);
    expect(result.data.results[0]?.data.COUNT).toBe(500);
    second.signal('SIGINT');
    expect(await secondExit).toBe(0);
  }, 60_000);
});

function fetchVia(
  agent: Agent,
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}
