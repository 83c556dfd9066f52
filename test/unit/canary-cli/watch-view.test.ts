/**
 * The live view of `canary status --watch`: the ink component on fixtures
 * (progress over the steps, guard table, sample, timeline tail), and the whole
 * command on a terminal refreshing on the manual clock until the canary ends.
 */
import { createServer, type Server } from 'node:http';
import { createElement } from 'react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryView } from '../../../src/api/canaries.js';
import { plainStyler } from '../../../src/output/style.js';
import { createMemoryContext } from '../../support/memory-context.js';
import { evidence, iso, rateGuard, rolledBack, T0, view } from './fixtures.js';

// ink decides once, when it loads, whether it runs in CI (and then draws only the last frame).
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;
const { render } = await import('ink-testing-library');
const { CanaryWatch } = await import('../../../src/cli/canary/watch-view.js');
const { runCli } = await import('../../../src/cli/program.js');

const NOW = T0 + 800_000;

describe('CanaryWatch', () => {
  it('shows the progress over the steps, the next decision, the guards, the sample and the timeline tail', () => {
    const { lastFrame, unmount } = render(createElement(CanaryWatch, { view: view(), now: NOW, styler: plainStyler, width: 140 }));
    const frame = lastFrame() ?? '';
    unmount();
    expect(frame).toContain('canary checkout-v2 running step 2 of 5 · 5% of traffic');
    expect(frame).toContain('✓ 1% ── ▶ 5% ── 25% ── 50% ── 100%');
    expect(frame).toContain('next decision in 10s (2026-01-15T12:13:30Z) · hold left 6m 40s');
    expect(frame).toMatch(
      /RATE\(status_code >= 500\) <= \+0\.5pp +0\.52% +0\.61% +\+0\.09pp +\[-0\.30pp, \+0\.48pp\] +\+0\.50pp\s+0\.310 +pass/,
    );
    expect(frame).toContain('sample: control 12,345 · canary 640 · minimum 1,000 per cohort (not reached)');
    expect(frame).toMatch(/advance +1% → 5% +canary-controller/);
    expect(frame).toContain('ctrl-c to stop watching (the canary goes on in the server)');
  });

  it('shows a rollback, a failed refresh and a canary with no data yet', () => {
    const back = render(
      createElement(CanaryWatch, { view: rolledBack(), now: NOW, styler: plainStyler, width: 140, error: 'connection refused' }),
    );
    const frame = back.lastFrame() ?? '';
    back.unmount();
    expect(frame).toContain('✓ 1% ── ✗ 5% ── 25% ── 50% ── 100%');
    expect(frame).toMatch(/rollback +5% → 0% +canary-controller +error rate rose/);
    expect(frame).toContain('refresh failed: connection refused');
    const fresh = render(
      createElement(CanaryWatch, { view: view({ evidence: null, timeline: [] }), now: NOW, styler: plainStyler, width: 140 }),
    );
    expect(fresh.lastFrame()).toMatch(/P95\(duration_ms\) <= \+10% \(pause\) .* no data yet/);
    fresh.unmount();
  });
});

describe('canary status --watch on a terminal', () => {
  let server: Server;
  let gets = 0;
  const answers: CanaryView[] = [
    view(),
    view({ evidence: evidence({ guards: [rateGuard({ verdict: 'fail', difference: 0.02 })] }) }),
    rolledBack(),
  ];
  beforeAll(async () => {
    server = createServer((_req, res) => {
      const answer = answers[Math.min(gets, answers.length - 1)];
      gets++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refreshes the live view on the clock and stops when the canary ends', async () => {
    const ctx = createMemoryContext({
      now: NOW,
      stdoutTTY: true,
      columns: 160,
      env: { XDG_CONFIG_HOME: '/nonexistent-config', NO_COLOR: '1' },
    });
    const port = (server.address() as { port: number }).port;
    let done = false;
    const running = runCli(
      ['canary', 'status', 'checkout-v2', '--watch', '--api-url', `http://127.0.0.1:${port}`, '--api-key', 'k'],
      ctx,
    ).finally(() => {
      done = true;
    });
    while (!done) {
      await Promise.race([ctx.waitForSleep(), running]);
      if (!done) await ctx.advance(2000);
    }
    expect(await running).toBe(0);
    expect(gets).toBe(3);
    const out = ctx.stdoutText();
    expect(out).toContain('▶ 5%');
    expect(out).toContain('✗ 5%');
    expect(out).toContain('rolled-back');
    expect(ctx.stderrText()).toBe('');
    expect(iso(NOW)).toBe('2026-01-15T12:13:20.000Z');
  });
});
