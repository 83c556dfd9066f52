/**
 * The demo's walkthrough as a list of steps. Each step asks one question,
 * runs it against the demo server through the public APIs and prints what it
 * finds. The step types live in `step-types.ts`, so the steps kept beside
 * their commands (`cli/{buttons,canary,compare,explain}/demo-step*.ts`) need not
 * import this list.
 */
import type { Calculation, Filter, QueryResult } from '../../query/spec.js';
import { groupLabel } from '../../output/query-result.js';
import { formatCount, formatNumberHuman } from '../../output/values.js';
import { HIDDEN_REGRESSION } from '../../demo/catalog.js';
import { buttonsDemoStep, demoFlagsSetup } from '../buttons/demo-steps.js';
import { canaryDemoStep } from '../canary/demo-step.js';
import { compareDemoStep } from '../compare/demo-step.js';
import { explainDemoStep } from '../explain/demo-step.js';
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
    buttonsDemoStep,
    compareDemoStep,
    explainDemoStep,
    canaryDemoStep,
  ];
}

/** The weighted error rate calculation used by several steps. */
export const ERROR_RATE: Calculation = { op: 'RATE', filters: [{ column: 'error', op: '=', value: true }] };
const ERROR_RATE_NAME = 'RATE(error = true)';
const USER_TRAFFIC: Filter = { column: 'user.id', op: 'exists' };

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
    session.intro(
      'Weighted counts and latency percentiles of every service over the last 24 hours, slowest first.',
      "flagscope query shop --calc COUNT --calc 'P50(duration_ms)' --calc 'P95(duration_ms)' --calc 'P99(duration_ms)' --by service.name --order 'P95(duration_ms) desc' --since 24h",
    );
    const result = await session.query({
      calculations: [
        { op: 'COUNT' },
        { op: 'P50', column: 'duration_ms' },
        { op: 'P95', column: 'duration_ms' },
        { op: 'P99', column: 'duration_ms' },
      ],
      breakdowns: ['service.name'],
      orders: [{ op: 'P95', column: 'duration_ms', order: 'descending' }],
    });
    session.print(session.table(result));
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
    session.intro(
      'Error rate per service in 15-minute buckets; each line is scaled between its own min and max.',
      "flagscope query shop --calc 'RATE(error = true)' --by service.name --granularity 15m --since 24h",
    );
    const result = await session.query({
      calculations: [ERROR_RATE],
      breakdowns: ['service.name'],
      granularity: 900,
    });
    session.print(session.charts(result));
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
    const inServices: Filter = { column: 'service.name', op: 'in', value: services };
    session.intro(
      `Error rate and P99 in ${services.join(' and ')}, by the variants of two release flags.`,
      `flagscope query shop --calc 'RATE(error = true)' --calc COUNT --calc 'P99(duration_ms)' --where 'service.name in (${services.map((s) => `"${s}"`).join(', ')})' --by flag.checkout_v2 --by flag.new_cart`,
    );
    // The error rate comes first: results are ordered by the first calculation unless told otherwise.
    const calculations: Calculation[] = [ERROR_RATE, { op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }];
    const byFlags = await session.query({
      calculations,
      filters: [inServices, USER_TRAFFIC],
      breakdowns: ['flag.checkout_v2', 'flag.new_cart'],
      orders: [
        { column: 'flag.checkout_v2', order: 'ascending' },
        { column: 'flag.new_cart', order: 'ascending' },
      ],
    });
    session.print(session.table(byFlags));
    session.print(
      '\n' +
        styler.dim('Both flags on looks a little worse, not alarming. Split the combination by browser and rank by error rate:') +
        '\n',
    );
    const total = byFlags.data.results.reduce((sum, row) => sum + (typeof row.data.COUNT === 'number' ? row.data.COUNT : 0), 0);
    // Tiny groups have noisy rates; keep groups with at least 2% of the traffic.
    const minimum = Math.max(20, Math.floor(total * 0.02));
    session.print(
      `${styler.dim(
        `flagscope query shop ... --by flag.checkout_v2 --by flag.new_cart --by browser --having 'COUNT >= ${minimum}' --limit 5`,
      )}\n\n`,
    );
    const byBrowser = await session.query({
      calculations,
      filters: [inServices, USER_TRAFFIC],
      breakdowns: ['flag.checkout_v2', 'flag.new_cart', 'browser'],
      havings: [{ calculate_op: 'COUNT', op: '>=', value: minimum }],
      limit: 5,
    });
    session.print(session.table(byBrowser));
    const top = byBrowser.data.results[0];
    const topRate = numberCell(byBrowser, 0, ERROR_RATE_NAME);
    const overall = await session.query({ calculations: [ERROR_RATE], filters: [inServices, USER_TRAFFIC] });
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
    session.intro(
      'A latency heatmap of successful POST /checkout requests: time across, duration up, darker = more requests.',
      "flagscope query shop --heatmap duration_ms --where 'name = \"POST /checkout\"' --where 'error = false' --where 'duration_ms < 1500' --granularity 30m --since 24h",
    );
    const filters: Filter[] = [
      { column: 'name', op: '=', value: 'POST /checkout' },
      { column: 'error', op: '=', value: false },
      { column: 'duration_ms', op: '<', value: 1500 },
    ];
    const heatmap = await session.query({ calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], filters, granularity: 1800 });
    session.print(session.charts(heatmap));
    const percentiles = await session.query({
      calculations: [
        { op: 'P50', column: 'duration_ms' },
        { op: 'P95', column: 'duration_ms' },
        { op: 'P99', column: 'duration_ms' },
      ],
      filters,
    });
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
