/**
 * `flagscope canary start|status|ramp|promote|pause|resume|abort` and
 * `flagscope canaries`: thin verbs over `src/client/canaries.ts`; the text is
 * rendered by `render-canary.ts`.
 */
import type { CanaryView } from '../../api/canaries.js';
import { commandCanary, dryRunCanary, getCanary, listCanaries, rampCanary, startCanary } from '../../client/canaries.js';
import { FlagscopeError } from '../../errors.js';
import { renderCsv, renderJson, renderNdjson } from '../../output/serialize.js';
import type { CommandEnv } from '../command-env.js';
import type { Verb } from '../registration.js';
import { buildRampRequest, buildStartRequest, durationOption, requiredReason, type StartOptions } from './parse-options.js';
import { renderCanaryList, renderDryRun, renderStarted, renderStatus, stepText, statusLine } from './render-canary.js';

/** Single-canary commands print a table or one JSON document (ndjson: one line); csv has no shape for them. */
function refuseCsv(env: CommandEnv): void {
  if (env.format === 'csv') {
    throw new FlagscopeError(
      'usage',
      `\`--format csv\` does not fit \`${env.command.parent?.name()} ${env.command.name()}\``,
      'use --json, or `flagscope canaries --format csv` for a list',
    );
  }
}

function printDocument(env: CommandEnv, value: unknown): boolean {
  if (env.format === 'json') env.out(renderJson(value));
  else if (env.format === 'ndjson') env.out(renderNdjson([value]));
  else return false;
  return true;
}

function renderOptions(env: CommandEnv) {
  return { now: env.ctx.now(), styler: env.styler, tty: true, ...(env.stdoutIsTTY ? { width: env.width } : {}) };
}

/** `canary start FLAG --dataset D …` (`--dry-run`: the checked plan and schedule only). */
export const startCanaryVerb: Verb = async (env, args, options) => {
  refuseCsv(env);
  const flag = String(args[0]);
  const request = buildStartRequest(flag, options as StartOptions);
  const client = await env.client();
  if (options.dryRun === true) {
    const answer = await dryRunCanary(client, request);
    if (!printDocument(env, answer)) env.out(renderDryRun(answer, renderOptions(env)));
    return;
  }
  const view = await startCanary(client, request);
  if (!printDocument(env, view)) env.out(renderStarted(view, renderOptions(env)));
};

/** `canary status FLAG [--watch]`. */
export const statusCanaryVerb: Verb = async (env, args, options) => {
  refuseCsv(env);
  const flag = String(args[0]);
  const intervalMs = options.interval === undefined ? 2000 : durationOption(String(options.interval), '--interval');
  if (options.interval !== undefined && options.watch !== true) {
    throw new FlagscopeError('usage', '`--interval` is the refresh of `--watch`', 'add `--watch`, or leave `--interval` out');
  }
  const client = await env.client();
  const view = await getCanary(client, flag);
  if (options.watch !== true) {
    if (!printDocument(env, view)) env.out(renderStatus(view, renderOptions(env)));
    return;
  }
  const poll = async (): Promise<CanaryView> => getCanary(client, flag);
  const live = env.stdoutIsTTY && env.format === 'table' && (env.ctx.env.CI === undefined || env.ctx.env.CI === '');
  if (live) {
    const { watchLive } = await import('./watch-view.js');
    // The live view's last frame stays on the terminal: nothing more to print.
    await watchLive(env, view, poll, intervalMs);
    return;
  }
  await watchPlain(env, view, poll, intervalMs);
};

/** `status --watch` off a terminal: one line (or one JSON document per line) per refresh, until the canary ends or a signal. */
async function watchPlain(env: CommandEnv, first: CanaryView, poll: () => Promise<CanaryView>, intervalMs: number): Promise<void> {
  const stop = new AbortController();
  const unregister = env.ctx.onSignal(() => stop.abort());
  try {
    let view = first;
    for (;;) {
      if (env.format === 'json' || env.format === 'ndjson') env.out(renderNdjson([view]));
      else env.out(statusLine(view, env.ctx.now()));
      if (view.endedAt !== null) return;
      await env.ctx.sleep(intervalMs, stop.signal);
      if (stop.signal.aborted) return;
      view = await poll();
    }
  } finally {
    unregister();
  }
}

function changedLine(env: CommandEnv, verb: string, view: CanaryView): string {
  const s = env.styler;
  const what = `${verb} canary of ${view.flag}`;
  return `${verb === 'aborted' ? s.red(s.bold(what)) : s.bold(what)}: ${view.status}, ${stepText(view)}${view.reason === null ? '' : ` (${view.reason})`}\n`;
}

/** `canary ramp FLAG --to N [--force --reason TEXT]`. */
export const rampCanaryVerb: Verb = async (env, args, options) => {
  refuseCsv(env);
  const flag = String(args[0]);
  const request = buildRampRequest(options as { to?: string; force?: boolean; reason?: string });
  const view = await rampCanary(await env.client(), flag, request);
  if (!printDocument(env, view)) env.out(changedLine(env, 'ramped', view));
};

const PAST: Record<'promote' | 'pause' | 'resume' | 'abort', string> = {
  promote: 'promoted',
  pause: 'paused',
  resume: 'resumed',
  abort: 'aborted',
};

/** `canary promote|pause|resume FLAG [--reason]` and `canary abort FLAG --reason TEXT`. */
export function commandCanaryVerb(command: 'promote' | 'pause' | 'resume' | 'abort'): Verb {
  return async (env, args, options) => {
    refuseCsv(env);
    const flag = String(args[0]);
    let reason: string | undefined;
    if (command === 'abort') reason = requiredReason(options.reason, 'an abort');
    else if (typeof options.reason === 'string') reason = requiredReason(options.reason, `--reason of ${command}`);
    const view = await commandCanary(await env.client(), flag, command, reason === undefined ? {} : { reason });
    if (printDocument(env, view)) return;
    env.out(changedLine(env, PAST[command], view));
    if (command === 'abort') env.info(`the flag serves ${view.plan.variant} to 0% now; start a new canary to try again`);
  };
}

/** `flagscope canaries [--all]`. */
export const listCanariesVerb: Verb = async (env, _args, options) => {
  const { canaries } = await listCanaries(await env.client(), { all: options.all === true });
  if (env.format === 'json') {
    env.out(renderJson({ canaries }));
    return;
  }
  if (env.format === 'ndjson') {
    env.out(renderNdjson(canaries));
    return;
  }
  if (env.format === 'csv') {
    env.out(
      renderCsv(
        ['flag', 'service', 'status', 'step', 'steps', 'percent', 'next_decision_at', 'id'],
        canaries.map((c) => [c.flag, c.service, c.status, c.stepIndex + 1, c.plan.steps.join(' '), c.percent, c.nextDecisionAt, c.id]),
      ),
    );
    return;
  }
  if (canaries.length === 0) {
    env.info(
      options.all === true
        ? 'no canaries yet; start one with `flagscope canary start FLAG --dataset D`'
        : 'no canary in flight; `flagscope canaries --all` lists ended ones',
    );
    return;
  }
  env.out(renderCanaryList(canaries, { now: env.ctx.now(), styler: env.styler, tty: env.stdoutIsTTY, width: env.width }));
};
