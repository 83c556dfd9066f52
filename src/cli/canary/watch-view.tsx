/**
 * The live view of `canary status --watch` on a terminal (ink): progress over
 * the steps, the next decision, the guard table, sample and sample ratio, and
 * the latest timeline entries, refreshed until the canary ends or Ctrl-C.
 * Loaded only by that command; the text comes from `render-canary.ts`.
 */
import { Box, render, Text } from 'ink';
import type { CanaryView } from '../../api/canaries.js';
import type { Styler } from '../../output/style.js';
import type { CommandEnv } from '../command-env.js';
import {
  nextDecisionText,
  renderGuardTable,
  renderStepProgress,
  renderTimeline,
  sampleLine,
  sampleRatioLine,
  stepText,
  styleStatus,
} from './render-canary.js';

export interface CanaryWatchProps {
  view: CanaryView;
  now: number;
  styler: Styler;
  width: number;
  /** The last refresh's failure, shown until one succeeds. */
  error?: string | undefined;
}

/** How many timeline entries the live view keeps. */
const TIMELINE_TAIL = 5;

/** One frame of the live view. */
export function CanaryWatch({ view, now, styler, width, error }: CanaryWatchProps): React.JSX.Element {
  const options = { now, styler, tty: true, width };
  const tail = view.timeline.slice(-TIMELINE_TAIL);
  return (
    <Box flexDirection="column">
      <Text>
        {styler.bold(`canary ${view.flag}`)} {styleStatus(view.status, styler)} {stepText(view)}
      </Text>
      <Text>{renderStepProgress(view, styler)}</Text>
      <Text>{nextDecisionText(view, now)}</Text>
      {view.pause !== null ? <Text>{styler.yellow(`paused (${view.pause.cause}): ${view.pause.reason}`)}</Text> : null}
      <Text> </Text>
      <Text>{renderGuardTable(view.evidence, view.plan, options).trimEnd()}</Text>
      {view.evidence !== null ? <Text>{sampleLine(view.evidence, styler)}</Text> : null}
      {view.evidence !== null ? <Text>{sampleRatioLine(view.evidence, styler)}</Text> : null}
      {tail.length > 0 ? <Text> </Text> : null}
      {tail.length > 0 ? <Text>{renderTimeline(tail, options).trimEnd()}</Text> : null}
      {error !== undefined ? <Text>{styler.red(`refresh failed: ${error}`)}</Text> : null}
      <Text>{styler.dim('ctrl-c to stop watching (the canary goes on in the server)')}</Text>
    </Box>
  );
}

/**
 * Renders the live view and refreshes it every `intervalMs` (on the context's
 * clock) until the canary ends or a signal; resolves to the last view.
 */
export async function watchLive(
  env: CommandEnv,
  first: CanaryView,
  poll: () => Promise<CanaryView>,
  intervalMs: number,
): Promise<CanaryView> {
  const stop = new AbortController();
  const unregister = env.ctx.onSignal(() => stop.abort());
  let view = first;
  let error: string | undefined;
  const frame = (): React.JSX.Element => (
    <CanaryWatch view={view} now={env.ctx.now()} styler={env.styler} width={env.width} error={error} />
  );
  const instance = render(frame(), {
    stdout: env.ctx.stdout as NodeJS.WriteStream,
    stderr: env.ctx.stderr as NodeJS.WriteStream,
    stdin: env.ctx.stdin as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  try {
    while (view.endedAt === null && !stop.signal.aborted) {
      await env.ctx.sleep(intervalMs, stop.signal);
      if (stop.signal.aborted) break;
      try {
        view = await poll();
        error = undefined;
      } catch (e) {
        // A refresh that fails is shown and retried; the canary does not depend on this view.
        error = e instanceof Error ? e.message : String(e);
      }
      instance.rerender(frame());
    }
  } finally {
    unregister();
    instance.unmount();
    await instance.waitUntilExit();
  }
  return view;
}
