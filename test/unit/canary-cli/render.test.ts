/**
 * The canary renderers on fixtures of the wire types: values and units (rates
 * in % with differences in pp, other metrics relative in %), the guard table,
 * sample and sample ratio lines, the schedule, the status report, the list and
 * the plain watch line.
 */
import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatGuardDifference,
  formatGuardInterval,
  formatGuardValue,
  formatP,
  nextDecisionText,
  renderCanaryList,
  renderDryRun,
  renderGuardTable,
  renderStarted,
  renderStatus,
  renderStepProgress,
  sampleLine,
  sampleRatioLine,
  scheduleOf,
  statusLine,
} from '../../../src/cli/canary/render-canary.js';
import type { Styler } from '../../../src/output/style.js';
import { evidence, iso, latencyGuard, plan, rateGuard, rolledBack, T0, view } from './fixtures.js';

const NOW = T0 + 800_000;
const lines = (text: string): string[] => text.trimEnd().split('\n');
/** A styler that marks what it colours, to see colours without escape codes. */
const marking: Styler = {
  bold: (t) => `*${t}*`,
  dim: (t) => t,
  red: (t) => `<red>${t}</red>`,
  green: (t) => `<green>${t}</green>`,
  yellow: (t) => `<yellow>${t}</yellow>`,
  cyan: (t) => t,
};

describe('values and units', () => {
  it('shows rates in %, their differences, intervals and tolerances in pp', () => {
    expect(formatGuardValue(0.0052, 'absolute')).toBe('0.52%');
    expect(formatGuardDifference(0.0009, 'absolute')).toBe('+0.09pp');
    expect(formatGuardDifference(-0.003, 'absolute')).toBe('-0.30pp');
    expect(formatGuardInterval([-0.003, 0.0048], 'absolute')).toBe('[-0.30pp, +0.48pp]');
    expect(formatGuardDifference(0, 'absolute')).toBe('0.00pp');
  });

  it('shows other metrics in their unit, differences relative to control in %', () => {
    expect(formatGuardValue(126, 'relative')).toBe('126');
    expect(formatGuardValue(12.345, 'relative')).toBe('12.35');
    expect(formatGuardDifference(0.05, 'relative')).toBe('+5.0%');
    expect(formatGuardInterval([-0.031, 0.132], 'relative')).toBe('[-3.1%, +13.2%]');
  });

  it('shows missing values as dashes and tiny p-values as <0.001', () => {
    expect(formatGuardValue(null, 'absolute')).toBe('–');
    expect(formatGuardDifference(null, 'relative')).toBe('–');
    expect(formatGuardInterval(null, 'relative')).toBe('–');
    expect(formatP(0.0004)).toBe('<0.001');
    expect(formatP(0.31)).toBe('0.310');
    expect(formatP(Number.NaN)).toBe('–');
  });

  it('formats durations the way people say them', () => {
    expect([0, 45_000, 252_000, 600_000, 7_500_000, 90_000_000, 250].map(formatDuration)).toEqual([
      '0s',
      '45s',
      '4m 12s',
      '10m',
      '2h 5m',
      '1d 1h',
      '250ms',
    ]);
  });
});

describe('guard table', () => {
  it('has one row per guard with every column, pause guards marked, verdicts coloured', () => {
    const text = renderGuardTable(evidence(), plan, { now: NOW, styler: marking });
    const [header, rate, latency] = lines(text);
    expect(header?.split(/\s{2,}/).map((h) => h.replace(/\*/g, ''))).toEqual([
      'GUARD',
      'CONTROL',
      'CANARY',
      'DIFFERENCE',
      'INTERVAL',
      'TOLERANCE',
      'P',
      'VERDICT',
    ]);
    expect(rate?.split(/\s{2,}/)).toEqual([
      'RATE(status_code >= 500) <= +0.5pp',
      '0.52%',
      '0.61%',
      '+0.09pp',
      '[-0.30pp, +0.48pp]',
      '+0.50pp',
      '0.310',
      '<green>pass</green>',
    ]);
    expect(latency?.split(/\s{2,}/)).toEqual([
      'P95(duration_ms) <= +10% (pause)',
      '120',
      '126',
      '+5.0%',
      '[-3.1%, +13.2%]',
      '+10.0%',
      '0.200',
      '<yellow>inconclusive</yellow>',
    ]);
    const failing = renderGuardTable(evidence({ guards: [rateGuard({ verdict: 'fail' })] }), plan, { now: NOW, styler: marking });
    expect(failing).toContain('<red>*fail*</red>');
  });

  it('shows the tolerance as written when it cannot be placed yet', () => {
    const row = lines(
      renderGuardTable(evidence({ guards: [latencyGuard({ tolerance: null, toleranceText: '+50' })] }), plan, { now: NOW }),
    )[1];
    expect(row?.split(/\s{2,}/)[5]).toBe('+50');
  });

  it("lists the plan's guards with `no data yet` before the first tick", () => {
    const rows = lines(renderGuardTable(null, plan, { now: NOW })).slice(1);
    expect(rows.map((r) => r.split(/\s{2,}/)[0])).toEqual(['RATE(status_code >= 500) <= +0.5pp', 'P95(duration_ms) <= +10% (pause)']);
    expect(rows.every((r) => r.endsWith('no data yet'))).toBe(true);
  });

  it('prints tab-separated rows without a header when piped', () => {
    const text = renderGuardTable(evidence(), plan, { now: NOW, tty: false });
    expect(lines(text)[0]).toBe('RATE(status_code >= 500) <= +0.5pp\t0.52%\t0.61%\t+0.09pp\t[-0.30pp, +0.48pp]\t+0.50pp\t0.310\tpass');
  });
});

describe('sample and sample ratio', () => {
  it('shows the sample per cohort against the minimum', () => {
    expect(sampleLine(evidence())).toBe('sample: control 12,345 · canary 640 · minimum 1,000 per cohort (not reached)');
    expect(sampleLine(evidence({ sample: { control: 2000, canary: 1500, minimum: 1000, reached: true } }))).toContain('(reached)');
  });

  it('shows the expected and observed split, the p-value and a mismatch in red', () => {
    expect(sampleRatioLine(evidence())).toBe(
      'sample ratio (events): expected 5.00% canary, observed 4.93% (control 12,345, canary 640) · p 0.412 (alpha 0.001) · ok',
    );
    const mismatch = evidence();
    mismatch.sampleRatio = { ...mismatch.sampleRatio, unit: 'user.id', observedShare: 0.01, pValue: 0.00001, mismatch: true };
    expect(sampleRatioLine(mismatch, marking)).toMatch(
      /^sample ratio \(user\.id\): expected 5\.00% canary, observed 1\.00% .* p <0\.001 .*<red>\*MISMATCH\*<\/red>$/,
    );
  });
});

describe('plan and schedule', () => {
  it('decides each step one hold after it starts and reaches 100% when the step before passes', () => {
    expect(scheduleOf(plan, T0)).toEqual([
      { step: 0, percent: 1, earliestAt: iso(T0 + 600_000), approval: false },
      { step: 1, percent: 5, earliestAt: iso(T0 + 1_200_000), approval: false },
      { step: 2, percent: 25, earliestAt: iso(T0 + 1_800_000), approval: false },
      { step: 3, percent: 50, earliestAt: iso(T0 + 2_400_000), approval: true },
      { step: 4, percent: 100, earliestAt: iso(T0 + 2_400_000), approval: false },
    ]);
  });

  it('prints the plan with its defaults and the schedule of a dry run', () => {
    const text = renderDryRun({ dryRun: true, plan, schedule: scheduleOf(plan, T0) }, { now: T0 });
    expect(lines(text)[0]).toBe('canary plan for checkout-v2 (dry run: nothing started)');
    expect(text).toContain('steps       1% → 5% → 25% → 50% → 100%, each held 10m');
    expect(text).toContain('approval    after 50% (waits for `flagscope canary promote checkout-v2`)');
    expect(text).toContain('min sample  1,000 per cohort per step; no traffic for 1h pauses it as inconclusive');
    expect(text).toContain('  P95(duration_ms) <= +10%  on harm: pause');
    expect(text).toMatch(/^ +4 +50% +2026-01-15T12:40:00Z \(in 40m\) +passes if healthy, then waits for `canary promote`$/m);
    expect(text).toMatch(/^ +5 +100% +2026-01-15T12:40:00Z \(in 40m\) +everyone on the variant: the canary completes$/m);
  });

  it('prints the started canary with its schedule from its start', () => {
    const started = view({ stepIndex: 0, percent: 1, evidence: null, timeline: [], startedAt: iso(T0) });
    const text = renderStarted(started, { now: T0 + 60_000 });
    expect(lines(text)[0]).toBe('started canary cn_7f3a of checkout-v2: 1% of traffic on variant on (running)');
    expect(text).toMatch(/^ +1 +1% +2026-01-15T12:10:00Z \(in 9m\) /m);
    expect(text).toContain('flagscope canary status checkout-v2 --watch');
  });
});

describe('status', () => {
  it('shows step, next decision, guards, sample, sample ratio and the timeline with reasons', () => {
    const text = renderStatus(view(), { now: NOW });
    const out = lines(text);
    expect(out[0]).toBe('canary checkout-v2 cn_7f3a  running  step 2 of 5 · 5% of traffic');
    expect(out[2]).toBe('next decision in 10s (2026-01-15T12:13:30Z) · hold left 6m 40s');
    expect(text).toContain('RATE(status_code >= 500) <= +0.5pp    0.52%');
    expect(text).toContain('sample: control 12,345');
    expect(text).toContain('sample ratio (events)');
    expect(out.at(-2)).toMatch(/^2026-01-15T12:00:00Z +start +0% → 1% +alice +release 4\.2$/);
    expect(out.at(-1)).toMatch(
      /^2026-01-15T12:10:00Z +advance +1% → 5% +canary-controller +hold 10m passed, sample reached, no guard shows harm$/,
    );
  });

  it('says why a canary ended, and what a paused or waiting one needs', () => {
    const back = renderStatus(rolledBack(), { now: NOW });
    expect(back).toContain('ended 2026-01-15T12:11:40Z');
    expect(back).toContain('why: RATE(status_code >= 500) <= +0.5pp shows harm');
    expect(nextDecisionText(view({ status: 'waiting-approval', nextDecisionAt: null }), NOW)).toBe(
      'waits for `flagscope canary promote checkout-v2`',
    );
    const paused = view({ status: 'paused', pause: { cause: 'no-traffic', reason: 'no events for 1h', at: iso(NOW) } });
    expect(renderStatus(paused, { now: NOW })).toContain('paused (no-traffic): no events for 1h');
  });

  it('shows progress over the steps', () => {
    expect(renderStepProgress(view())).toBe('✓ 1% ── ▶ 5% ── 25% ── 50% ── 100%');
    expect(renderStepProgress(rolledBack())).toBe('✓ 1% ── ✗ 5% ── 25% ── 50% ── 100%');
    expect(renderStepProgress(view({ status: 'completed', stepIndex: 3 }))).toBe('✓ 1% ── ✓ 5% ── ✓ 25% ── ✓ 50% ── ✓ 100%');
  });

  it('gives one plain line per refresh when watching off a terminal', () => {
    expect(statusLine(view(), NOW)).toBe(
      '2026-01-15T12:13:20Z checkout-v2 running step 2 of 5 · 5% of traffic · next decision in 10s (2026-01-15T12:13:30Z) · hold left 6m 40s · ' +
        'RATE(status_code >= 500) <= +0.5pp pass (+0.09pp); P95(duration_ms) <= +10% inconclusive (+5.0%) · sample control 12,345, canary 640 of 1,000\n',
    );
    expect(statusLine(view({ evidence: null }), NOW)).toContain('· no data yet\n');
  });
});

describe('canaries list', () => {
  it('is a table on a terminal and tab-separated rows with ISO times when piped', () => {
    const tty = lines(renderCanaryList([view(), rolledBack()], { now: NOW }));
    expect(tty[0]).toMatch(/^FLAG +SERVICE +STATUS +STEP +TRAFFIC +GUARDS +NEXT$/);
    expect(tty[1]).toMatch(/^checkout-v2 +checkout +running +2\/5 +5% +no harm seen +next decision in 10s/);
    expect(tty[2]).toMatch(/^checkout-v2 +checkout +rolled-back +2\/5 +0% +1 guard failing +ended /);
    const piped = lines(renderCanaryList([view()], { now: NOW, tty: false }));
    expect(piped).toEqual(['checkout-v2\tcheckout\trunning\t2/5\t5%\tno harm seen\t2026-01-15T12:13:30.000Z']);
  });
});
