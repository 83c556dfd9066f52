import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryContext } from '../support/memory-context.js';
import { runCli } from '../../src/cli/program.js';
import { HIDDEN_REGRESSION, QUIET_EXECUTIONS } from '../../src/demo/catalog.js';
import { generateEvents } from '../../src/demo/generate.js';
import { runDemo, type DemoSetup, type DemoStep } from '../../src/cli/demo/run.js';

// The demo's time window ends at the context's clock, so the event times are fixed too.
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('runDemo', () => {
  let tempRoot: string;

  beforeEach(async () => {
    tempRoot = await mkdtemp(join(tmpdir(), 'flagscope-demo-test-'));
  });

  afterEach(async () => {
    await rm(tempRoot, { recursive: true, force: true });
  });

  it('sends events through the real server, finds the hidden regression, and removes its data directory', async () => {
    const ctx = createMemoryContext({ now: NOW, env: { CI: 'true' } });
    const code = await runDemo(ctx, { events: 30_000, seed: 42, tempRoot, runCli });
    expect(code).toBe(0);
    const out = ctx.stdoutText();
    const err = ctx.stderrText();

    // Plain output without a TTY: no colour, no cursor movement.
    expect(out).not.toMatch(/\u001b\[/);
    expect(err).not.toMatch(/\u001b\[/);

    // Every step ran, numbered, and the closing text says how to run it for real.
    const headings = [...out.matchAll(/^(\d+)\/(\d+) {2}(.+)$/gm)];
    expect(headings.map((m) => Number(m[1]))).toEqual(headings.map((_, i) => i + 1));
    expect(new Set(headings.map((m) => m[2]))).toEqual(new Set([String(headings.length)]));
    for (const title of [
      'Which service is slowest?',
      'When did errors happen?',
      'Is a feature flag to blame?',
      'What does checkout latency look like?',
      'Which page executions never finish?',
    ]) {
      expect(headings.map((m) => m[3])).toContain(title);
    }
    expect(headings.length).toBeGreaterThanOrEqual(7);

    // The quick red button is pressed, the safe variant is served, and the release restores it.
    expect(out).toMatch(/PRESSED payments_retry_enabled: every client is now served off/);
    expect(out).toMatch(/RELEASED payments_retry_enabled/);
    expect(out).toContain('flagscope serve');
    // The commands are printed as they ran; the press reached the demo's stream client.
    expect(out).toMatch(/^\$ flagscope query shop --calc COUNT .* --start \d{4}-\d\d-\d\dT\d\d:\d\dZ --end \d{4}-\d\d-\d\dT\d\d:\d\dZ$/m);
    expect(out).toContain('delivered to 1 stream subscriber\n');
    expect(out).toMatch(/→ the subscribed client read the change \(flag-config version \d+\) \d+ ms after the press was sent/);
    expect(out).toContain('payments_retry_enabled → off = false');
    expect(out).toMatch(/^off +300$/m);
    expect(out).not.toContain(' ... ');
    expect(out).toContain('flagscope demo --export events.ndjson');

    // The queries found the combination the generator hid, from the data.
    const found = Object.entries(HIDDEN_REGRESSION.where)
      .map(([column, value]) => `${column}=${value}`)
      .join(' AND ');
    expect(out).toContain(`→ found: ${found}`);
    expect(out).toContain('That is the regression hidden in the demo data');

    // Completed executions alone look alike; INCOMPLETE finds the combination whose executions go quiet.
    expect(out).toMatch(/^\$ flagscope query shop .*--where 'meta\.incomplete = false' --by flag\.image_cdn_v2 --by flag\.lazy_images /m);
    expect(out).toMatch(/^\$ flagscope query shop --calc COUNT --calc INCOMPLETE .*--order 'INCOMPLETE desc' /m);
    expect(out).toMatch(
      new RegExp(
        `→ found: ${QUIET_EXECUTIONS.description}: \\d+\\.\\d+% of its page executions never finished, \\d+× the \\d\\.\\d\\d% of the others\\.`,
      ),
    );
    expect(out).toMatch(
      /Its finished executions look like everyone's: error rate \d\.\d\d%, P95 \d+ ms \(all 4 combinations: .*\)\. A dashboard of completed executions calls it healthy\./,
    );
    expect(out).toContain('That is the combination the demo data makes go quiet');
    expect(out).toMatch(/^\$ flagscope explain shop --incomplete --population 'service\.name = "api-gateway"' --limit 3 /m);
    expect(out).toMatch(/^1 +(flag\.image_cdn_v2=on AND flag\.lazy_images=off|flag\.lazy_images=off AND flag\.image_cdn_v2=on) /m);

    // Two canaries ran on the server's controller over traffic evaluated through OFREP: the
    // healthy one passed every step, the failing one was rolled back with its evidence shown.
    expect(out).toMatch(/canary search_autocomplete_v2 \S+ {2}completed {2}all 4 steps passed · 100% of traffic/);
    expect(out).toMatch(/canary checkout_tax_service \S+ {2}rolled-back {2}step 1 of 4 · 0% of traffic/);
    expect(out).toMatch(/→ search_autocomplete_v2 ramped to 100%: 3 steps passed/);
    expect(out).toMatch(/→ checkout_tax_service rolled back to 0% at 10%: RATE\(error = true\) <= \+2pp measured [\d.]+% in the canary/);
    expect(out).toMatch(/RATE\(error = true\) <= \+2pp +[\d.]+% +[\d.]+% +\+[\d.]+pp +\[\+[\d.]+pp, \+[\d.]+pp\] +\+2\.00pp +[\d.]+ +fail/);
    expect(out).toMatch(/gate REGRESSION canary checkout_tax_service/);
    expect(err).toMatch(/checkout_tax_service: rollback 10% → 0%/);
    expect(err).toMatch(/search_autocomplete_v2: complete 50% → 100%/);

    // Counts honour sample rates: more requests than stored events.
    const match = /([\d,]+) requests stand behind ([\d,]+) stored events/.exec(out);
    expect(match).not.toBeNull();
    const requests = Number(match![1]!.replaceAll(',', ''));
    expect(match![2]).toBe('30,000');
    expect(requests).toBeGreaterThan(30_000);

    // Progress and notes went to stderr, not stdout.
    expect(err).toMatch(/sent 30,000 events in/);
    expect(out).not.toMatch(/sent 30,000 events/);
    expect(err).toMatch(/demo server listening on http:\/\/127\.0\.0\.1:\d+/);

    // The temporary data directory is gone.
    expect(await readdir(tempRoot)).toEqual([]);
  }, 240_000);

  it('keeps the data directory when asked, runs custom steps, and reports the failing step after cleaning up', async () => {
    const seen: string[] = [];
    const listDatasets: DemoStep = {
      id: 'datasets',
      title: 'What is there?',
      async run(session) {
        const datasets = await session.client.listDatasets();
        seen.push(...datasets.map((d) => `${d.name}:${d.rows}`));
        session.print(`datasets: ${datasets.map((d) => d.name).join(', ')}\n`);
      },
    };
    const ctx = createMemoryContext({ now: NOW });
    expect(await runDemo(ctx, { events: 2_000, tempRoot, keep: true, steps: [listDatasets], quiet: true })).toBe(0);
    expect(seen).toEqual(['shop:2000']);
    expect(ctx.stdoutText()).toContain('1/1  What is there?');
    expect(ctx.stderrText()).toContain('data kept in');
    const kept = await readdir(tempRoot);
    expect(kept).toHaveLength(1);
    expect(await readdir(join(tempRoot, kept[0]!))).toContain('events.duckdb');
    await rm(join(tempRoot, kept[0]!), { recursive: true, force: true });

    const failing: DemoStep = {
      id: 'broken',
      title: 'A query on a column that does not exist',
      run: async (session) => {
        await session.query({ calculations: [{ op: 'P99', column: 'no_such_column' }] });
      },
    };
    await expect(
      runDemo(createMemoryContext({ now: NOW }), { events: 500, tempRoot, steps: [failing], quiet: true }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await readdir(tempRoot)).toEqual([]);
  });

  it('on a terminal: colour, a progress bar redrawn in place, set-up before the steps; NO_COLOR turns colour off', async () => {
    const order: string[] = [];
    const setup: DemoSetup = {
      id: 'count-columns',
      async run(session) {
        const columns = await session.client.listColumns(session.dataset);
        order.push(`setup:${columns.filter((c) => c.name.startsWith('flag.')).length}`);
      },
    };
    const step: DemoStep = {
      id: 'p95',
      title: 'P95 overall',
      async run(session) {
        order.push('step');
        session.print(session.table(await session.query({ calculations: [{ op: 'P95', column: 'duration_ms' }] })));
      },
    };
    const tty = createMemoryContext({ now: NOW, stdoutTTY: true, stderrTTY: true, columns: 120 });
    expect(await runDemo(tty, { events: 3_000, tempRoot, setup: [setup], steps: [step], batchSize: 500 })).toBe(0);
    expect(order).toEqual(['setup:30', 'step']);
    expect(tty.stdoutText()).toMatch(/\u001b\[[0-9;]*m/);
    expect(tty.stdoutText()).toContain('P95(duration_ms)');
    expect(tty.stderrText()).toMatch(/\r\u001b\[2Ksending events \[[#-]+\] [\d,]+\/3,000/);
    expect(tty.stderrText()).toMatch(/sent 3,000 events in/);

    const noColor = createMemoryContext({ now: NOW, stdoutTTY: true, stderrTTY: false, env: { NO_COLOR: '1' } });
    expect(await runDemo(noColor, { events: 500, tempRoot, steps: [step], quiet: true })).toBe(0);
    expect(noColor.stdoutText()).not.toMatch(/\u001b\[/);
    expect(noColor.stderrText()).toBe('');
    expect(await readdir(tempRoot)).toEqual([]);
  });

  it('lets a step send live traffic, e.g. after a press, and see it in queries', async () => {
    let counts: Record<string, unknown>[] = [];
    let sent: { accepted: number; rejected: number } | undefined;
    const liveTraffic: DemoStep = {
      id: 'live',
      title: 'Traffic after a press',
      async run(session) {
        const liveStart = session.end + 1_000;
        sent = await session.sendEvents(
          generateEvents({ seed: 5, count: 300, start: liveStart, end: liveStart + 60_000, overrides: { recommendations_enabled: 'off' } }),
        );
        const result = await session.query({
          calculations: [{ op: 'COUNT' }],
          breakdowns: ['flag.recommendations_enabled'],
          start_time: Math.floor(liveStart / 1000),
          end_time: Math.ceil((liveStart + 60_000) / 1000),
        });
        counts = result.data.results.map((r) => r.data);
      },
    };
    const ctx = createMemoryContext({ now: NOW });
    expect(await runDemo(ctx, { events: 1_000, tempRoot, steps: [liveTraffic], quiet: true, batchSize: 100 })).toBe(0);
    expect(sent).toEqual({ accepted: 300, rejected: 0 });
    expect(counts).toEqual([{ 'flag.recommendations_enabled': 'off', COUNT: 300 }]);
  });

  it('stops early on a signal and still cleans up', async () => {
    const ctx = createMemoryContext({ now: NOW });
    const interruptingStep: DemoStep = {
      id: 'interrupt',
      title: 'Ctrl-C',
      run: async () => {
        ctx.raiseSignal('SIGINT');
      },
    };
    const neverRun: DemoStep = {
      id: 'after',
      title: 'Never shown',
      run: async () => {
        throw new Error('ran after the signal');
      },
    };
    expect(await runDemo(ctx, { events: 500, tempRoot, steps: [interruptingStep, neverRun], quiet: true })).toBe(130);
    expect(ctx.stdoutText()).not.toContain('Never shown');
    expect(await readdir(tempRoot)).toEqual([]);
  });

  it('runs as `flagscope demo --events N --seed S` through the CLI', async () => {
    const ctx = createMemoryContext({ now: NOW, env: { TMPDIR: tempRoot } });
    const code = await runCli(['demo', '--events', '4000', '--seed', '3', '--quiet'], ctx);
    expect(ctx.stderrText()).toBe('');
    expect(code).toBe(0);
    expect(ctx.stdoutText()).toContain('4,000 events over the last 24 hours');
    expect(ctx.stdoutText()).toMatch(/^\d+\/\d+ {2}What does checkout latency look like\?$/m);
    expect(ctx.stdoutText()).toContain('Run it for real');
    expect(await readdir(tempRoot)).toEqual([]);
  }, 240_000);

  it('exports its events as NDJSON batch items for `events send`, without a server', async () => {
    const ctx = createMemoryContext({ now: NOW, cwd: tempRoot });
    expect(await runCli(['demo', '--export', 'events.ndjson', '--events', '250', '--seed', '7'], ctx)).toBe(0);
    expect(ctx.stderrText()).toBe(
      'wrote 250 demo events (the last 24 hours, seed 7) to events.ndjson\nsend them to a server with: flagscope events send shop events.ndjson\n',
    );
    const lines = (await readFile(join(tempRoot, 'events.ndjson'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(250);
    for (const line of lines) {
      const item = JSON.parse(line) as { time: string; samplerate: number; data: Record<string, unknown> };
      expect(Date.parse(item.time)).toBeGreaterThanOrEqual(NOW - 86_400_000);
      expect(Date.parse(item.time)).toBeLessThan(NOW);
      expect(item.samplerate).toBeGreaterThanOrEqual(1);
      expect(typeof item.data['service.name']).toBe('string');
    }
    const bad = createMemoryContext({ now: NOW, cwd: tempRoot });
    expect(await runCli(['demo', '--export', join(tempRoot, 'no-such-dir', 'x.ndjson')], bad)).toBe(2);
    expect(bad.stderrText()).toMatch(/^error: cannot write .*no-such-dir.*\nhint: pass a file in a directory you can write to/);
  });

  it('rejects a bad event count before starting anything', async () => {
    await expect(runDemo(createMemoryContext({ now: NOW }), { events: 0, tempRoot })).rejects.toMatchObject({ code: 'invalid_input' });
    expect(await readdir(tempRoot)).toEqual([]);
  });
});
