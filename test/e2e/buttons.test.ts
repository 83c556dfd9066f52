/**
 * The typed-back confirmation of `buttons press|release` on a terminal: the
 * ink component through ink-testing-library, and the whole command in-process
 * on a fake TTY against a real server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createElement } from 'react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfirmPromptProps, PromptOutcome } from '../../src/cli/buttons/confirm-prompt.js';
import { runCli } from '../../src/cli/program.js';
import type { Context, InStream, OutStream } from '../../src/context.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { timerSleep } from '../../src/scheduler.js';

// These tests play a person at a terminal. ink decides once, when it loads, whether it runs
// in CI (and then draws only the final frame), from the real environment rather than the
// command's context, so CI's own `CI=true` must not reach it: load ink only after clearing it.
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;
const { render } = await import('ink-testing-library');
const { ConfirmPrompt } = await import('../../src/cli/buttons/confirm-prompt.js');

const ENTER = '\r';
const ESCAPE = '\u001b';

function nextFrame(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function frameContaining(lastFrame: () => string | undefined, text: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const frame = lastFrame() ?? '';
    if (frame.includes(text)) return frame;
    await nextFrame();
  }
  throw new Error(`no frame contains ${JSON.stringify(text)}; last frame:\n${lastFrame()}`);
}

async function settled(outcomes: PromptOutcome[]): Promise<void> {
  for (let i = 0; i < 200 && outcomes.length === 0; i++) await nextFrame();
}

function renderPrompt(overrides: Partial<ConfirmPromptProps> = {}) {
  const outcomes: PromptOutcome[] = [];
  const props: ConfirmPromptProps = {
    verb: 'press',
    flagKey: 'payments-off',
    service: 'checkout',
    description: 'card payments at checkout',
    servesNow: 'live',
    servesAfter: 'off=false to everyone',
    reason: 'card errors',
    runbookUrl: 'https://runbooks.example.com/payments',
    onDone: (ok) => outcomes.push(ok),
    ...overrides,
  };
  return { ...render(createElement(ConfirmPrompt, props)), outcomes };
}

describe('ConfirmPrompt (ink)', () => {
  it('shows what will change and confirms when the key is typed back', async () => {
    const { lastFrame, stdin, outcomes } = renderPrompt();
    const frame = await frameContaining(lastFrame, 'Type payments-off');
    expect(frame).toContain('PRESS kill switch payments-off');
    expect(frame).toContain('serves now:  live');
    expect(frame).toContain('after:       off=false to everyone');
    expect(frame).toContain('turns off:   card payments at checkout');
    expect(frame).toContain('reason:      card errors');
    expect(frame).toContain('runbook:     https://runbooks.example.com/payments');
    stdin.write('payments-of');
    await frameContaining(lastFrame, '> payments-of');
    stdin.write('f');
    await frameContaining(lastFrame, '> payments-off');
    stdin.write(ENTER);
    await settled(outcomes);
    expect(outcomes).toEqual(['confirmed']);
  });

  it('refuses a key that does not match, and Esc cancels', async () => {
    const wrong = renderPrompt();
    await frameContaining(wrong.lastFrame, 'Type payments-off');
    wrong.stdin.write('payments');
    await frameContaining(wrong.lastFrame, '> payments');
    wrong.stdin.write(ENTER);
    await settled(wrong.outcomes);
    expect(wrong.outcomes).toEqual(['mismatch']);

    const cancelled = renderPrompt({ verb: 'release', servesNow: 'PRESSED: off to everyone', servesAfter: 'live' });
    expect(await frameContaining(cancelled.lastFrame, 'RELEASE kill switch payments-off')).toContain('to release');
    cancelled.stdin.write(ESCAPE);
    await settled(cancelled.outcomes);
    expect(cancelled.outcomes).toEqual(['cancelled']);
  });
});

describe('ConfirmPrompt: Enter that arrives with the typed text (issue 11, item 2)', () => {
  it('confirms the key pasted with its Enter in one chunk, as `tmux send-keys KEY Enter` sends it', async () => {
    const { lastFrame, stdin, outcomes } = renderPrompt();
    await frameContaining(lastFrame, 'Type payments-off');
    stdin.write(`payments-off${ENTER}`);
    await settled(outcomes);
    expect(outcomes).toEqual(['confirmed']);
  });

  it('ends at once on a wrong key pasted with its Enter, and says it does not match', async () => {
    const { lastFrame, stdin, outcomes } = renderPrompt();
    await frameContaining(lastFrame, 'Type payments-off');
    stdin.write(`payments-of${ENTER}`);
    await settled(outcomes);
    expect(outcomes).toEqual(['mismatch']);
    expect(await frameContaining(lastFrame, 'does not match')).toContain('> payments-of');
  });

  it('takes a Backspace inside a pasted chunk, and drops what follows the Enter', async () => {
    const { lastFrame, stdin, outcomes } = renderPrompt();
    await frameContaining(lastFrame, 'Type payments-off');
    stdin.write(`payments-offf\u007f${ENTER}trailing`);
    await settled(outcomes);
    expect(outcomes).toEqual(['confirmed']);
  });

  it('Esc cancels and says so', async () => {
    const { lastFrame, stdin, outcomes } = renderPrompt();
    await frameContaining(lastFrame, 'Type payments-off');
    stdin.write('paym');
    await frameContaining(lastFrame, '> paym');
    stdin.write(ESCAPE);
    await settled(outcomes);
    expect(outcomes).toEqual(['cancelled']);
    expect(await frameContaining(lastFrame, 'cancelled; nothing changed')).not.toContain('does not match');
  });
});

describe('buttons press on a terminal', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flagscope-buttons-tty-'));
    server = await startServer({ dataDir: dir, port: 0 });
    const res = await fetch(`${server.url}/api/v1/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        key: 'payments-off',
        service: 'checkout',
        description: 'card payments at checkout',
        kind: 'kill-switch',
        variants: { live: true, off: false },
        defaultVariant: 'live',
        safeVariant: 'off',
      }),
    });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function ttyContext(): {
    ctx: Context;
    stdin: PassThrough;
    output: () => string;
    waitFor: (text: string) => Promise<void>;
    errors: () => string;
  } {
    const stdin = new PassThrough() as PassThrough & InStream & { setRawMode: (on: boolean) => void; ref: () => void; unref: () => void };
    stdin.isTTY = true;
    stdin.setRawMode = () => undefined;
    stdin.ref = () => undefined;
    stdin.unref = () => undefined;
    const stdout = new PassThrough() as PassThrough & OutStream;
    stdout.isTTY = true;
    stdout.columns = 100;
    const stderr = new PassThrough() as PassThrough & OutStream;
    let out = '';
    let err = '';
    const waiters: Array<{ text: string; resolve: () => void }> = [];
    stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      for (const w of waiters.splice(0)) {
        if (out.includes(w.text)) w.resolve();
        else waiters.push(w);
      }
    });
    stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    const ctx: Context = {
      stdin,
      stdout,
      stderr,
      env: { XDG_CONFIG_HOME: join(dir, 'xdg'), NO_COLOR: '1' },
      now: () => Date.now(),
      sleep: timerSleep,
      cwd: dir,
      homeDir: dir,
      onSignal: () => () => undefined,
    };
    return {
      ctx,
      stdin,
      output: () => out,
      errors: () => err,
      waitFor: (text) => (out.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve }))),
    };
  }

  it('asks for the key to be typed back, then presses and says what every client is served', async () => {
    const tty = ttyContext();
    const run = runCli(
      ['buttons', 'press', 'payments-off', '--reason', 'card errors', '--api-url', server.url, '--api-key', server.adminKey as string],
      tty.ctx,
    );
    await tty.waitFor('and press Enter to press');
    expect(tty.output()).toContain('serves now:  live');
    expect(tty.output()).toContain('turns off:   card payments at checkout');
    tty.stdin.write('payments-off');
    await tty.waitFor('> payments-off');
    tty.stdin.write(ENTER);
    expect(await run, tty.errors()).toBe(0);
    expect(tty.output()).toContain('PRESSED payments-off: every client is now served off = false');
    const flag = await fetch(`${server.url}/api/v1/flags/payments-off`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    expect(((await flag.json()) as { flag: { pressed?: { reason: string } } }).flag.pressed?.reason).toBe('card errors');
  });

  async function sendEvents(variant: string, count: number, agoMs = 0, dataset = 'shop'): Promise<void> {
    const time = new Date(Date.now() - agoMs).toISOString();
    const items = Array.from({ length: count }, (_, i) => ({ data: { 'flag.payments-off': variant, route: `/pay/${i}` }, time }));
    const res = await fetch(`${server.url}/1/batch/${dataset}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(items),
    });
    expect(res.status).toBe(200);
  }

  it('--watch-traffic follows the variant column until live events show the safe variant', async () => {
    await sendEvents('live', 5, 10_000);
    const release = await runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'reset', '--yes', '--api-url', server.url, '--api-key', server.adminKey as string],
      ttyContext().ctx,
    );
    expect(release).toBe(0);
    const tty = ttyContext();
    const stderrSeen = new Promise<void>((resolve) => {
      (tty.ctx.stderr as PassThrough).on('data', (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('watching flag.payments-off')) resolve();
      });
    });
    const run = runCli(
      [
        'buttons',
        'press',
        'payments-off',
        '--reason',
        'drill',
        '--yes',
        '--watch-traffic',
        'shop',
        '--watch-timeout',
        '30s',
        '--api-url',
        server.url,
        '--api-key',
        server.adminKey as string,
      ],
      tty.ctx,
    );
    await stderrSeen;
    await sendEvents('off', 20);
    expect(await run, tty.errors()).toBe(0);
    expect(tty.output()).toMatch(
      /traffic confirms it: 20 of 20 events in shop since the press \(\d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\) were served off/,
    );
  });

  it('--watch-traffic says so when traffic does not show the safe variant in time (exit 5)', async () => {
    await sendEvents('live', 3, 60_000, 'shop2');
    await runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'reset', '--yes', '--api-url', server.url, '--api-key', server.adminKey as string],
      ttyContext().ctx,
    );
    const tty = ttyContext();
    const stderrSeen = new Promise<void>((resolve) => {
      (tty.ctx.stderr as PassThrough).on('data', (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('watching')) resolve();
      });
    });
    const run = runCli(
      [
        'buttons',
        'press',
        'payments-off',
        '--reason',
        'drill',
        '--yes',
        '--watch-traffic',
        'shop2',
        '--watch-timeout',
        '5s',
        '--api-url',
        server.url,
        '--api-key',
        server.adminKey as string,
      ],
      tty.ctx,
    );
    await stderrSeen;
    await sendEvents('live', 7, 0, 'shop2');
    expect(await run).toBe(5);
    expect(tty.errors()).toContain('traffic in shop2 does not show off after 5s of watching (flag.payments-off since the press (');
    expect(tty.errors()).toContain('UTC): live: 7; since the press: live: 7)');
  });

  it('changes nothing and exits 2 when the typed key does not match', async () => {
    const tty = ttyContext();
    const run = runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'recovered', '--api-url', server.url, '--api-key', server.adminKey as string],
      tty.ctx,
    );
    await tty.waitFor('and press Enter to release');
    expect(tty.output()).toContain('after:       live');
    tty.stdin.write('payments');
    await tty.waitFor('> payments');
    tty.stdin.write(ENTER);
    expect(await run).toBe(2);
    expect(tty.errors()).toContain('payments-off was not released: the key was not typed back');
    const flag = await fetch(`${server.url}/api/v1/flags/payments-off`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    expect(((await flag.json()) as { flag: { pressed?: unknown } }).flag.pressed).toBeDefined();
  });

  it('Esc cancels: exit 2 with "cancelled", nothing changed (issue 11, item 2)', async () => {
    const tty = ttyContext();
    const run = runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'recovered', '--api-url', server.url, '--api-key', server.adminKey as string],
      tty.ctx,
    );
    await tty.waitFor('and press Enter to release');
    tty.stdin.write('paym');
    await tty.waitFor('> paym');
    tty.stdin.write(ESCAPE);
    expect(await run).toBe(2);
    expect(tty.errors()).toContain('error: payments-off was not released: cancelled');
    expect(tty.errors()).not.toContain('typed back');
    const flag = await fetch(`${server.url}/api/v1/flags/payments-off`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    expect(((await flag.json()) as { flag: { pressed?: unknown } }).flag.pressed).toBeDefined();
  });

  it('a wrong key pasted with its Enter exits 2 at once; the right one pasted with Enter releases (issue 11, item 2)', async () => {
    const wrong = ttyContext();
    const refused = runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'recovered', '--api-url', server.url, '--api-key', server.adminKey as string],
      wrong.ctx,
    );
    await wrong.waitFor('and press Enter to release');
    wrong.stdin.write(`payments-of${ENTER}`);
    expect(await refused).toBe(2);
    expect(wrong.errors()).toContain('payments-off was not released: the key was not typed back');

    const tty = ttyContext();
    const run = runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'recovered', '--api-url', server.url, '--api-key', server.adminKey as string],
      tty.ctx,
    );
    await tty.waitFor('and press Enter to release');
    tty.stdin.write(`payments-off${ENTER}`);
    expect(await run, tty.errors()).toBe(0);
    expect(tty.output()).toContain('RELEASED payments-off');
  });

  it('a misspelt key is refused before the prompt, with the nearest kill switch (issue 11, item 4)', async () => {
    const tty = ttyContext();
    const code = await runCli(
      ['buttons', 'press', 'payments-of', '--reason', 'card errors', '--api-url', server.url, '--api-key', server.adminKey as string],
      tty.ctx,
    );
    expect(code).toBe(3);
    expect(tty.errors()).toBe(
      'error: no kill switch payments-of\nhint: did you mean payments-off? `flagscope buttons` lists the kill switches\n',
    );
    expect(tty.output()).not.toContain('Type payments-of');
  });

  it('says in the box when the action would change nothing (a released switch released again)', async () => {
    const tty = ttyContext();
    const run = runCli(
      ['buttons', 'release', 'payments-off', '--reason', 'recovered', '--api-url', server.url, '--api-key', server.adminKey as string],
      tty.ctx,
    );
    await tty.waitFor('and press Enter to release');
    expect(tty.output()).toContain('already released: releasing it again changes nothing');
    tty.stdin.write(ESCAPE);
    expect(await run).toBe(2);
  });
});
