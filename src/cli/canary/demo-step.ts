/**
 * The demo's canary step: two canaries that the demo server's controller ramps on a fast clock,
 * over generated traffic whose every request asks the server's OFREP endpoint for its variant
 * (`src/cli/demo/traffic-driver.ts`). One variant is as healthy as control and ramps to 100%;
 * the other fails more requests and is rolled back to 0% at its first step. What is printed is
 * what `canary start`, `canary status` and `canary gate` print, through the same renderers.
 */
import type { CanaryView } from '../../api/canaries.js';
import { commandCanary, getCanary } from '../../client/canaries.js';
import { FlagscopeError } from '../../errors.js';
import { createFlag, getFlag } from '../../client/flags.js';
import { rolloutShare } from '../../flags/model.js';
import { createTrafficGenerator, type VariantOutcomes } from '../../demo/traffic.js';
import { formatCount } from '../../output/values.js';
import { createTrafficDriver } from '../demo/traffic-driver.js';
import type { DemoSession, DemoStep } from '../demo/step-types.js';
import { gateEvidence } from './render-gate.js';
import { formatGuardDifference, formatGuardValue, formatPercent } from './render-canary.js';

/** Simulated time one traffic slice covers: the demo advances its clock by this much at a time. */
const SLICE_MS = 2_000;
/** The dataset the canary traffic goes to. */
export const CANARY_DEMO_DATASET = 'releases';
/** Simulated time after which the step stops and aborts what is still in flight. */
const SIMULATED_LIMIT_MS = 10 * 60_000;
/** Wall time after which the step stops and aborts what is still in flight (a slow machine). */
const WALL_LIMIT_MS = 120_000;
/** How often the step looks whether the controller has judged the latest slice (wall ms). */
const POLL_MS = 20;

interface DemoCanary {
  flag: string;
  description: string;
  /** How the variant's requests differ from control's. */
  on: VariantOutcomes;
  seed: number;
  /** The flag's service (a pressed kill switch of it would pause the canary). */
  service: string;
}

export const HEALTHY_CANARY: DemoCanary = {
  flag: 'search_autocomplete_v2',
  description: 'a new autocomplete, as healthy as the old one',
  on: {},
  seed: 11,
  service: 'search',
};
export const FAILING_CANARY: DemoCanary = {
  flag: 'checkout_tax_service',
  description: 'a new tax service that fails 5% of checkouts',
  on: { errorRate: 0.05 },
  seed: 12,
  service: 'checkout',
};

const PLAN = {
  steps: [10, 25, 50, 100],
  interval: '30s',
  minSample: 200,
  guards: ['RATE(error = true) <= +2pp', 'P95(duration_ms) <= +25%'],
};
const TRAFFIC = { ratePerSecond: 200, users: 4_000, baseline: { errorRate: 0.005, medianMs: 120, p95Ms: 320 } };

function startArgs(c: DemoCanary): string[] {
  return [
    ...['canary', 'start', c.flag, '--dataset', CANARY_DEMO_DATASET, '--steps', PLAN.steps.join(','), '--interval', PLAN.interval],
    ...['--min-sample', String(PLAN.minSample), ...PLAN.guards.flatMap((g) => ['--guard', g]), '--reason', `demo: ${c.description}`],
  ];
}

function ended(view: CanaryView): boolean {
  return view.status === 'completed' || view.status === 'rolled-back' || view.status === 'aborted';
}

const wallSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const canaryDemoStep: DemoStep = {
  id: 'canaries',
  title: 'Two releases go out as canaries: which one may ramp to everyone?',
  async run(session) {
    const { styler, clock } = session;
    session.intro(
      `Two release flags ramp ${PLAN.steps.map(formatPercent).join(' → ')}, holding each step ${PLAN.interval}, over generated traffic: ` +
        "every request asks the server (OFREP) for its variant. The server's canary controller compares the canary cohort with " +
        'control on every guard at every tick, with tests that stay valid however often they look. The demo runs the clock by ' +
        `hand, ${SLICE_MS / 1000} s of traffic at a time, so minutes of holds pass in seconds.`,
    );
    const canaries = [HEALTHY_CANARY, FAILING_CANARY];
    for (const c of canaries) {
      await createFlag(session.client, {
        key: c.flag,
        service: c.service,
        kind: 'release',
        description: c.description,
        variants: { on: true, off: false },
        defaultVariant: 'off',
        reason: 'demo: a release behind a flag',
      });
    }

    clock.hold();
    let sliceEnd = clock.now();
    const views = new Map<string, CanaryView>();
    const isEnded = (flag: string | undefined): boolean => {
      const view = flag === undefined ? undefined : views.get(flag);
      return view !== undefined && ended(view);
    };
    const drivers = canaries.map((c) =>
      createTrafficDriver({
        http: session.client,
        dataset: CANARY_DEMO_DATASET,
        generator: createTrafficGenerator(
          { flag: c.flag, userPrefix: c.flag, variants: { on: c.on }, ...TRAFFIC },
          { seed: session.seed + c.seed, startMs: clock.now() },
        ),
        now: () => sliceEnd,
      }),
    );
    // A slice's traffic is sent before the server's clock reaches its end: a tick in the
    // meantime measures up to the slice's start, so no decision is made on half a slice.
    const sendSlice = async (): Promise<void> => {
      sliceEnd = clock.now() + SLICE_MS;
      await Promise.all(drivers.map((d, i) => (isEnded(canaries[i]?.flag) ? undefined : d.tick())));
      clock.advance(SLICE_MS);
    };
    try {
      // The guards are checked against the dataset: it exists once the first slice is in.
      await sendSlice();
      for (const c of canaries) {
        const run = await session.command(startArgs(c));
        if (run.exitCode !== 0)
          throw new FlagscopeError('internal', `the demo could not start the canary of ${c.flag}`, 'report this as a bug');
        views.set(c.flag, await getCanary(session.client, c.flag));
        session.print('\n');
      }

      const began = clock.now();
      const deadline = Date.now() + WALL_LIMIT_MS;
      const seen = new Map<string, number>();
      while (!canaries.every((c) => ended(views.get(c.flag) as CanaryView))) {
        if (clock.now() - began > SIMULATED_LIMIT_MS || Date.now() > deadline) {
          for (const c of canaries) {
            if (!ended(views.get(c.flag) as CanaryView)) {
              views.set(c.flag, await commandCanary(session.client, c.flag, 'abort', { reason: 'the demo ran out of time' }));
            }
          }
          break;
        }
        await sendSlice();
        // Lockstep: the next slice goes out once the controller has judged this one.
        for (const c of canaries) views.set(c.flag, await judged(session, c.flag, clock.now(), views.get(c.flag) as CanaryView, deadline));
        for (const c of canaries) {
          const view = views.get(c.flag) as CanaryView;
          for (const entry of view.timeline.slice(seen.get(c.flag) ?? 0)) {
            session.note(
              `${new Date(entry.at).toISOString().slice(11, 19)}  ${c.flag}: ${entry.kind} ${formatPercent(entry.from)} → ${formatPercent(entry.to)}`,
            );
          }
          seen.set(c.flag, view.timeline.length);
        }
      }
    } finally {
      clock.release();
    }

    const totals = drivers.map((d) => d.totals());
    session.note(
      `canary traffic: ${totals.map((t, i) => `${formatCount(t.arrivals)} requests for ${canaries[i]?.flag}`).join(', ')}, each user's variant from OFREP`,
    );
    for (const c of canaries) {
      session.print('\n');
      await session.command(['canary', 'status', c.flag]);
    }
    const failing = views.get(FAILING_CANARY.flag) as CanaryView;
    if (failing.status === 'rolled-back') {
      session.print(`\n${styler.dim('In CI, the gate of the failing canary exits 10 (regression):')}\n`);
      const gate = await session.command(['canary', 'gate', FAILING_CANARY.flag]);
      session.print(styler.dim(`(exit ${gate.exitCode})\n`));
    }
    session.print(`\n${summary(views.get(HEALTHY_CANARY.flag) as CanaryView, failing, session)}`);
  },
};

/**
 * The canary once the controller has ticked at `at` (or it has ended) and the flag serves what
 * that tick decided, or once the wall deadline has passed. The controller saves a decision
 * before it changes the flag: traffic sent between the two would be split by the old rollout.
 */
async function judged(session: DemoSession, flag: string, at: number, last: CanaryView, deadline: number): Promise<CanaryView> {
  if (ended(last)) return last;
  for (;;) {
    const view = await getCanary(session.client, flag);
    const ticked = ended(view) || (view.evidence !== null && Date.parse(view.evidence.at) >= at);
    if (ticked && (await serves(session, view))) return view;
    if (Date.now() > deadline) return view;
    await wallSleep(POLL_MS);
  }
}

/** True when the canary's flag serves the canary's variant to the canary's percentage. */
async function serves(session: DemoSession, view: CanaryView): Promise<boolean> {
  const { flag } = await getFlag(session.client, view.flag);
  const share = rolloutShare(flag.rollout, view.plan.variant) ?? 0;
  return Math.abs(share - view.percent) < 0.001;
}

function summary(healthy: CanaryView, failing: CanaryView, session: DemoSession): string {
  const { styler } = session;
  const lines: string[] = [];
  if (healthy.status === 'completed') {
    const steps = healthy.timeline.filter((e) => e.kind === 'advance' || e.kind === 'complete').length;
    lines.push(
      `${styler.bold(`→ ${healthy.flag} ramped to 100%`)}: ${steps} steps passed, each only once every guard was shown within its tolerance on its minimum sample.`,
    );
  } else {
    lines.push(`${styler.bold(`→ ${healthy.flag} ended ${healthy.status}`)} at ${formatPercent(healthy.percent)}: ${healthy.reason ?? ''}`);
  }
  const evidence = gateEvidence(failing, 'regression');
  const rate = evidence?.guards.find((g) => g.verdict === 'fail');
  if (failing.status === 'rolled-back' && rate !== undefined) {
    const from = failing.timeline.find((e) => e.kind === 'rollback')?.from ?? failing.plan.steps[0] ?? 0;
    lines.push(
      `${styler.bold(`→ ${failing.flag} rolled back to 0%`)} at ${formatPercent(from)}: ${rate.guard} measured ${formatGuardValue(rate.canary, rate.scale)} ` +
        `in the canary against ${formatGuardValue(rate.control, rate.scale)} in control (${formatGuardDifference(rate.difference, rate.scale)}), ` +
        `on ${formatCount(rate.units.canary)} canary users; everyone is served off again.`,
    );
  } else {
    lines.push(`${styler.bold(`→ ${failing.flag} ended ${failing.status}`)} at ${formatPercent(failing.percent)}: ${failing.reason ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}
