/**
 * `flagscope canary gate FLAG [--wait D] [--step N] [--format table|json|junit|github]`:
 * looks at the canary until `decideGate` says pass, regression or inconclusive,
 * waiting between looks with `Context.sleep` (tests drive the clock), and exits
 * 0, 10 or 11.
 */
import { appendFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { getCanary } from '../../client/canaries.js';
import { FlagscopeError } from '../../errors.js';
import { renderJson } from '../../output/serialize.js';
import type { Verb } from '../registration.js';
import type { CanaryView } from '../../api/canaries.js';
import type { Sleep } from '../../scheduler.js';
import { decideGate, type GateOutcome, type GateResult, gateExitCode, gateTargetIndex, nextPollDelay } from './gate-decision.js';
import { durationOption, percentOption } from './parse-options.js';
import { CANARY_GATE_FORMATS } from '../global-options.js';
import { type GateReport, gateJson, renderGateGithub, renderGateJunit, renderGateMarkdown, renderGateTable } from './render-gate.js';

const DEFAULT_WAIT = '30m';

/** What the gate's loop needs: a look at the canary, the clock, a way to wait. */
export interface GateLoop {
  poll: () => Promise<CanaryView>;
  now: () => number;
  sleep: Sleep;
  waitMs: number;
  stepPercent?: number;
  /** Progress notes (stderr). */
  note?: (line: string) => void;
}

/**
 * Looks at the canary until the gate decides: at once, then before each of the
 * controller's decisions (at most every 5 s) until the deadline, and once more
 * at the deadline.
 */
export async function waitForGate(
  loop: GateLoop,
): Promise<{ view: CanaryView; outcome: GateOutcome & { result: GateResult }; target: number; started: number }> {
  const started = loop.now();
  const deadline = started + loop.waitMs;
  let view = await loop.poll();
  const target = gateTargetIndex(view, loop.stepPercent);
  let outcome = decideGate(view, target, loop.now(), deadline);
  let lastNote = '';
  while (outcome.result === 'keep-waiting') {
    if (outcome.reason !== lastNote) {
      loop.note?.(`${outcome.reason} (deadline in ${Math.max(0, Math.round((deadline - loop.now()) / 1000))}s)`);
      lastNote = outcome.reason;
    }
    await loop.sleep(nextPollDelay(view, loop.now(), deadline));
    view = await loop.poll();
    outcome = decideGate(view, target, loop.now(), deadline);
  }
  return { view, outcome: outcome as GateOutcome & { result: GateResult }, target, started };
}

export const gateCanaryVerb: Verb = async (env, args, options) => {
  const flag = String(args[0]);
  const requested = env.command.optsWithGlobals<{ format?: string; json?: boolean }>();
  const format = requested.json === true ? 'json' : (requested.format ?? 'table');
  if (!(CANARY_GATE_FORMATS as readonly string[]).includes(format)) {
    throw new FlagscopeError(
      'usage',
      `\`canary gate\` does not print ${format}`,
      `use --format ${CANARY_GATE_FORMATS.join(', ')} (or --json)`,
    );
  }
  const waitMs = durationOption(typeof options.wait === 'string' ? options.wait : DEFAULT_WAIT, '--wait', { zero: true });
  const stepPercent = typeof options.step === 'string' ? percentOption(options.step, '--step') : undefined;
  const client = await env.client();
  const { view, outcome, target, started } = await waitForGate({
    poll: () => getCanary(client, flag),
    now: env.ctx.now,
    sleep: env.ctx.sleep,
    waitMs,
    ...(stepPercent === undefined ? {} : { stepPercent }),
    note: (line) => env.info(line),
  });
  const result = outcome.result;
  const gate: GateReport = {
    result,
    exitCode: gateExitCode(result),
    step: view.plan.steps[target] ?? 100,
    waitedMs: Math.max(0, env.ctx.now() - started),
    reason: outcome.reason,
  };
  switch (format) {
    case 'json':
      env.out(renderJson(gateJson(view, gate)));
      break;
    case 'junit':
      env.out(renderGateJunit(view, gate, env.ctx.now()));
      break;
    case 'github': {
      env.out(renderGateGithub(view, gate));
      const summary = env.ctx.env.GITHUB_STEP_SUMMARY;
      if (summary !== undefined && summary !== '') {
        try {
          await appendFile(resolve(env.ctx.cwd, summary), renderGateMarkdown(view, gate));
        } catch (e) {
          env.warn(`could not append the job summary to ${summary}: ${(e as Error).message}`);
        }
      }
      break;
    }
    default:
      env.out(
        renderGateTable(view, gate, {
          now: env.ctx.now(),
          styler: env.styler,
          tty: true,
          ...(env.stdoutIsTTY ? { width: env.width } : {}),
        }),
      );
  }
  return gate.exitCode;
};
