/** Types of flagscope-beacons.js (docs/beacons.md). */

/** A column value: text, a finite number or a boolean. */
export type ColumnValue = string | number | boolean;

/** What the snippet reads of one `web-vitals` report. */
export interface VitalMetric {
  name: string;
  value: number;
  rating?: string;
  navigationType?: string;
  attribution?: object;
}

/** One `web-vitals` subscription, `onLCP` and the like. */
export type OnVital = (report: (metric: VitalMetric) => void, options?: Record<string, unknown>) => void;

/** The part of the `web-vitals` module the snippet uses (the attribution build gives the attribution columns). */
export interface WebVitalsModule {
  onLCP?: OnVital;
  onINP?: OnVital;
  onCLS?: OnVital;
  onFCP?: OnVital;
  onTTFB?: OnVital;
}

/** An OpenFeature client (or the OpenFeature API object): the snippet adds a hook that records each evaluation. */
export interface OpenFeatureHookTarget {
  addHooks(...hooks: unknown[]): unknown;
}

export interface BeaconOptions {
  /** The flagscope server, e.g. `https://flagscope.example.com`. */
  url: string;
  /** The dataset the executions go to. */
  dataset: string;
  /** An ingest-only API key, sent as `?key=` (sendBeacon cannot set headers). */
  key?: string;
  /** The `web-vitals` module (its attribution build for the attribution columns). */
  webVitals?: WebVitalsModule;
  /** Options given to every `web-vitals` `on…` call; `reportAllChanges` defaults to true. */
  webVitalsOptions?: Record<string, unknown>;
  /** Flag variants the page evaluated: `{key: variant}` becomes `flag.<key>` columns. */
  flags?: Record<string, unknown>;
  /** An OpenFeature web client (or `OpenFeature` itself): every evaluation through it becomes a `flag.<key>` column. */
  openFeature?: OpenFeatureHookTarget;
  /** The page's own columns, or a function returning them, called for every beacon. */
  fields?: Record<string, unknown> | (() => Record<string, unknown>);
  /** The execution-id field the dataset is configured with; default `execution_id`. */
  executionIdField?: string;
  /** Bytes one beacon may take; default 32768. */
  maxBytes?: number;
  /** Longer strings are cut to this many characters; default 1024. */
  maxValueLength?: number;
  /** Called after each beacon is handed to the browser (for the page's own diagnostics). */
  onBeacon?: (beacon: { phase: BeaconPhase; body: string; transport: Transport }) => void;
}

export type BeaconPhase = 'start' | 'update' | 'end';
export type Transport = 'beacon' | 'fetch' | 'none';

export interface Beacons {
  /** This execution's id (a page restored from the back/forward cache gets a new one). */
  readonly executionId: string;
  setField(name: string, value: unknown): void;
  setFields(values: Record<string, unknown>): void;
  /** Records a flag variant the page evaluated as `flag.<key>`. */
  setFlag(key: string, variant: unknown): void;
  /** Sends an `update` beacon now (nothing once the `end` beacon is sent, or once 98 updates leave only the `end` under the server's 100 beacons). */
  update(): Transport;
  /** Stops listening; no more beacons are sent. */
  stop(): void;
}

/** What the snippet needs of `window` and `document`. */
export interface EventTargetLike {
  addEventListener(type: string, listener: (event: { readonly type: string; persisted?: boolean }) => void, capture?: boolean): void;
  removeEventListener(type: string, listener: (event: { readonly type: string; persisted?: boolean }) => void, capture?: boolean): void;
}

/** The browser globals the snippet uses; tests pass their own. */
export interface BeaconEnvironment {
  window?: EventTargetLike;
  document?: EventTargetLike & { visibilityState?: string };
  navigator?: { sendBeacon?: (url: string, body: string) => boolean; userAgent?: string };
  fetch?: ((url: string, init: Record<string, unknown>) => Promise<unknown>) | undefined;
  crypto?: { randomUUID?: () => string; getRandomValues?: (bytes: Uint8Array) => Uint8Array };
  performance?: { now(): number };
  location?: { origin: string; pathname: string };
  now?: () => number;
}

export const DEFAULT_MAX_BYTES: number;
export const DEFAULT_MAX_VALUE_LENGTH: number;
export const MAX_BEACONS_PER_EXECUTION: number;

export function startBeacons(options: BeaconOptions, environment?: BeaconEnvironment): Beacons;
export function vitalColumns(metric: unknown): Record<string, string | number>;
export function flagColumns(key: string, variant: unknown, value?: unknown): Record<string, string>;
export function newExecutionId(crypto?: BeaconEnvironment['crypto'] | null, random?: () => number): string;
export function changedColumns(current: Record<string, unknown>, sent: Record<string, unknown>): Record<string, unknown>;
export function utf8Length(text: string): number;
export function fitBeacon(
  required: Record<string, unknown>,
  columns: Record<string, unknown>,
  limits?: { maxBytes?: number; maxValueLength?: number },
): { body: string; sent: Record<string, unknown> };
export function beaconUrl(url: string, dataset: string, key?: string): string;
export function sendBody(
  target: string,
  body: string,
  env?: { navigator?: BeaconEnvironment['navigator']; fetch?: BeaconEnvironment['fetch'] },
): Transport;
