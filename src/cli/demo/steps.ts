/**
 * The demo's walkthrough as a list of steps. Each step asks one question,
 * runs it against the demo server through the public APIs and prints what it
 * finds. The step types live in `step-types.ts`, so the steps kept beside
 * their commands (`cli/{buttons,canary,compare,explain}/demo-step*.ts`) need not
 * import this list.
 */
import type { Calculation, QueryResult } from '../../query/spec.js';
import { groupLabel } from '../../output/query-result.js';
import { formatCount, formatNumberHuman } from '../../output/values.js';
import { HIDDEN_REGRESSION } from '../../demo/catalog.js';
import { buttonsDemoStep, demoFlagsSetup } from '../buttons/demo-steps.js';
import { canaryDemoStep } from '../canary/demo-step.js';
import { compareDemoStep } from '../compare/demo-step.js';
import { explainDemoStep } from '../explain/demo-step.js';
import { quietExecutionsStep } from './quiet-executions-step.js';
import type { DemoSession, DemoSetup, DemoStep } from './step-types.js';

export type { DemoSession, DemoSetup, DemoStep };

/** The set-up of `flagscope demo`, in order. */
export function defaultDemoSetup(): DemoSetup[] {
  return [demoFlagsSetup];
}

/** The steps of `flagscope demo`, in order. */
export function defaultDemoSteps(): DemoStep[] {
  return [
    slowestServiceStep,
    errorsOverTimeStep,
    flagCombinationStep,
    checkoutHeatmapStep,
    quietExecutionsStep,
    buttonsDemoStep,
    compareDemoStep,
    explainDemoStep,
    canaryDemoStep,
  ];
}

/** The weighted error rate calculation used by several steps. */
export const ERROR_RATE: Calculation = { op: 'RATE', filters: [{ column: 'error', op: '=', value: true }] };
const ERROR_RATE_NAME = 'RATE(error = true)';

function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)}%`;
}

function ms(value: number): string {
  return `${formatNumberHuman(Math.round(value))} ms`;
}

function numberCell(result: QueryResult, index: number, name: string): number | undefined {
  const value = result.data.results[index]?.data[name];
  return typeof value === 'number' ? value : undefined;
}

export const slowestServiceStep: DemoStep = {
  id: 'slowest-service',
  title: 'Which service is slowest?',
  async run(session) {
    const { styler } = session;
    session.intro("Weighted counts and latency percentiles of every service over the demo's 24 hours, slowest first.");
    const args = [
      'query',
      session.dataset,
      ...['--calc', 'COUNT', '--calc', 'P50(duration_ms)', '--calc', 'P95(duration_ms)', '--calc', 'P99(duration_ms)'],
      ...['--by', 'service.name', '--order', 'P95(duration_ms) desc'],
      ...session.window,
    ];
    await session.command(args);
    const result = await session.commandJson<QueryResult>(args);
    const top = result.data.results[0];
    const p95 = numberCell(result, 0, 'P95(duration_ms)');
    if (top !== undefined && p95 !== undefined) {
      const total = result.data.results.reduce((sum, row) => sum + (typeof row.data.COUNT === 'number' ? row.data.COUNT : 0), 0);
      session.print(
        '\n' +
          styler.bold(`→ ${String(top.data['service.name'])} is slowest: P95 ${ms(p95)}.`) +
          ` COUNT honours sample rates: ${formatCount(total)} requests stand behind ${formatCount(session.eventCount)} stored events.\n`,
      );
    }
  },
};

export const errorsOverTimeStep: DemoStep = {
  id: 'errors-over-time',
  title: 'When did errors happen?',
  async run(session) {
    const { styler } = session;
    session.intro('Error rate per service in 15-minute buckets; each line is scaled between its own min and max.');
    const args = ['query', session.dataset, '--calc', ERROR_RATE_NAME, '--by', 'service.name', '--granularity', '15m', ...session.window];
    await session.command(args);
    const result = await session.commandJson<QueryResult>(args);
    let peak: { rate: number; time: string; label: string } | undefined;
    for (const row of result.data.series ?? []) {
      const rate = row.data[ERROR_RATE_NAME];
      if (typeof rate === 'number' && (peak === undefined || rate > peak.rate)) {
        peak = { rate, time: row.time, label: groupLabel(row.data, result.meta.breakdowns) };
      }
    }
    if (peak !== undefined) {
      const when = new Date(peak.time).toISOString().slice(11, 16);
      session.print(
        '\n' +
          styler.bold(`→ the worst quarter hour: ${peak.label} at ${when} UTC, ${percent(peak.rate)} of requests failing.`) +
          ' A short incident; the slow burn elsewhere is harder to see.\n',
      );
    }
  },
};

export const flagCombinationStep: DemoStep = {
  id: 'flag-combination',
  title: 'Is a feature flag to blame?',
  async run(session) {
    const { styler } = session;
    const services = [...HIDDEN_REGRESSION.services];
    session.intro(`Error rate and P99 of signed-in users' requests in ${services.join(' and ')}, by the variants of two release flags.`);
    const scope = [
      ...['--calc', ERROR_RATE_NAME, '--calc', 'COUNT', '--calc', 'P99(duration_ms)'],
      ...['--where', `service.name in (${services.map((name) => `"${name}"`).join(', ')})`, '--where', 'user.id exists'],
    ];
    const byFlagsArgs = [
      'query',
      session.dataset,
      ...scope,
      ...['--by', 'flag.checkout_v2', '--by', 'flag.new_cart', '--order', 'flag.checkout_v2 asc', '--order', 'flag.new_cart asc'],
      ...session.window,
    ];
    await session.command(byFlagsArgs);
    const byFlags = await session.commandJson<QueryResult>(byFlagsArgs);
    session.print(
      `\n${styler.dim('Both flags on looks a little worse, not alarming. Split the combination by browser and rank by error rate:')}\n`,
    );
    const total = byFlags.data.results.reduce((sum, row) => sum + (typeof row.data.COUNT === 'number' ? row.data.COUNT : 0), 0);
    // Tiny groups have noisy rates; keep groups with at least 2% of the traffic.
    const minimum = Math.max(20, Math.floor(total * 0.02));
    const byBrowserArgs = [
      'query',
      session.dataset,
      ...scope,
      ...['--by', 'flag.checkout_v2', '--by', 'flag.new_cart', '--by', 'browser', '--having', `COUNT >= ${minimum}`, '--limit', '5'],
      ...session.window,
    ];
    await session.command(byBrowserArgs);
    const byBrowser = await session.commandJson<QueryResult>(byBrowserArgs);
    const top = byBrowser.data.results[0];
    const topRate = numberCell(byBrowser, 0, ERROR_RATE_NAME);
    const overall = await session.commandJson<QueryResult>([
      'query',
      session.dataset,
      ...scope.slice(0, 2),
      ...scope.slice(6),
      ...session.window,
    ]);
    const overallRate = numberCell(overall, 0, ERROR_RATE_NAME);
    if (top === undefined || topRate === undefined || overallRate === undefined) return;
    const found = byBrowser.meta.breakdowns.map((b) => `${b}=${String(top.data[b])}`);
    const foundText = found.join(' AND ');
    const ratio = overallRate > 0 ? topRate / overallRate : Infinity;
    session.print(
      '\n' +
        styler.bold(`→ found: ${foundText}`) +
        ` fails ${percent(topRate)} of requests, ${ratio.toFixed(1)}× the ${percent(overallRate)} of all ${services.join(' and ')} traffic.\n`,
    );
    const hidden = Object.entries(HIDDEN_REGRESSION.where).map(([column, value]) => `${column}=${value}`);
    const matches = hidden.length === found.length && hidden.every((h) => found.includes(h));
    session.print(
      `${styler.dim(
        matches
          ? `  That is the regression hidden in the demo data: ${HIDDEN_REGRESSION.description}.`
          : `  The demo data hides a regression in ${HIDDEN_REGRESSION.description}; with this few events it does not stand out yet.`,
      )}\n`,
    );
  },
};

export const checkoutHeatmapStep: DemoStep = {
  id: 'checkout-heatmap',
  title: 'What does checkout latency look like?',
  async run(session) {
    const { styler } = session;
    session.intro('A latency heatmap of successful POST /checkout requests: time across, duration up, darker = more requests.');
    const where = ['--where', 'name = "POST /checkout"', '--where', 'error = false', '--where', 'duration_ms < 1500'];
    await session.command(['query', session.dataset, '--heatmap', 'duration_ms', ...where, '--granularity', '30m', ...session.window]);
    const percentiles = await session.commandJson<QueryResult>([
      'query',
      session.dataset,
      ...['--calc', 'P50(duration_ms)', '--calc', 'P95(duration_ms)', '--calc', 'P99(duration_ms)'],
      ...where,
      ...session.window,
    ]);
    const p50 = numberCell(percentiles, 0, 'P50(duration_ms)');
    const p99 = numberCell(percentiles, 0, 'P99(duration_ms)');
    if (p50 !== undefined && p99 !== undefined) {
      session.print(
        '\n' +
          styler.bold(`→ most checkouts take about ${ms(p50)}; the long tail reaches ${ms(p99)} at P99.`) +
          ' Latency is lognormal: a median hides the tail.\n',
      );
    }
  },
};
