/**
 * What a demo step is and what it gets, in a leaf module: the steps (in
 * `cli/{buttons,compare,explain}/`) and the list of them (`steps.ts`) both
 * import it, and nothing here imports them back.
 */
import type { ApiClient } from '../../client/api-client.js';
import type { GeneratedEvent } from '../../demo/generate.js';
import type { QueryResult, QuerySpec } from '../../query/spec.js';
import type { Styler } from '../../output/style.js';
import type { DemoClock } from './demo-clock.js';

/** What a step gets: the running demo server, its data and the output. */
export interface DemoSession {
  /** API client authenticated with the demo server's admin key. */
  client: ApiClient;
  serverUrl: string;
  /** The demo server's admin key (the demo's own clients use it). */
  apiKey: string;
  dataset: string;
  seed: number;
  /** Number of events sent. */
  eventCount: number;
  /** The generated events' time window, Unix milliseconds. */
  start: number;
  end: number;
  styler: Styler;
  /** The demo server's clock: the context's, until a step runs it fast (and slows it again). */
  clock: DemoClock;
  /** Terminal width for tables and charts. */
  width: number;
  /** Writes demo text to stdout. */
  print(text: string): void;
  /** Opens a step: what it shows, dimmed (the commands follow through `command`). */
  intro(description: string): void;
  /** A note on stderr (progress, timings); silent with `--quiet`. */
  note(message: string): void;
  /**
   * Sends more events to the demo dataset through the batch API (e.g. live
   * traffic after a kill-switch press: `generateEvents` with `overrides`).
   */
  sendEvents(events: Iterable<GeneratedEvent>): Promise<{ accepted: number; rejected: number }>;
  /**
   * Runs a flagscope command against the demo server, in this process, as a person would type it
   * (`args` without the leading `flagscope`): prints `$ flagscope …` and then exactly what the
   * command prints, on a terminal of the demo's width. What is printed is what ran.
   */
  command(args: readonly string[]): Promise<CommandRun>;
  /** Runs a command with `--json` and answers what it printed, parsed; prints nothing. */
  commandJson<T>(args: readonly string[]): Promise<T>;
  /** The demo data's time window as command options: `--start ISO --end ISO`. */
  window: readonly string[];
  /** Runs a query over the demo's whole time window unless the spec names one. */
  query(spec: QuerySpec): Promise<QueryResult>;
  /** The result as an aligned table (the same renderer as `flagscope query`). */
  table(result: QueryResult): string;
  /** Sparkline charts and heatmaps of a time-series result. */
  charts(result: QueryResult): string;
}

/** What a command run by the demo printed, and its exit code. */
export interface CommandRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface DemoStep {
  /** Stable identifier, e.g. `slowest-service`. */
  id: string;
  /** The question the step answers, printed as its heading. */
  title: string;
  run(session: DemoSession): Promise<void>;
}

/**
 * Work done after the events are in and before the walkthrough, without a
 * heading: e.g. creating the demo's flags and kill switches on the server.
 */
export interface DemoSetup {
  id: string;
  run(session: DemoSession): Promise<void>;
}
