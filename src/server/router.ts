/**
 * A small hand-written router: routes are method + path segments with `:name`
 * parameters. Paths without parameters are found in a map by their exact text;
 * the rest (and paths written with extra slashes) by a scan of a short table.
 * Unknown paths are 404, known paths with another method 405 with `Allow`. The scan's answers
 * for paths with parameters are remembered by exact path text (a bounded map), so a hot path
 * such as `POST /ofrep/v1/evaluate/flags/{key}` is one map lookup, as static paths are.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError } from '../errors.js';
import type { ApiKeyRecord } from '../store/types.js';
import type { ApiKeyScope } from '../api/keys.js';

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters by name. */
  params: Record<string, string>;
  /** Raw query string without `?` ('' when none). */
  query: string;
  /** The authorised key; undefined on routes that need none. */
  key: ApiKeyRecord | undefined;
  /**
   * Answers `res` with the response of `error` (logging it when internal), as a
   * rejected returned promise would: for handlers that finish in an event callback.
   */
  fail: (req: IncomingMessage, res: ServerResponse, error: unknown) => void;
}

export type RouteHandler = (request: RouteRequest) => Promise<void> | void;

export interface Route {
  method: string;
  /** Path segments; `:name` matches one non-empty segment. */
  segments: string[];
  /** Scope the caller's key must grant (one of them, for a list); null for open routes. */
  scope: ApiKeyScope | readonly ApiKeyScope[] | null;
  handler: RouteHandler;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'wrong-method'; allow: string[] }
  | { kind: 'not-found' };

/** Parameters of a route without any; shared and frozen so no match allocates one. */
const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Distinct paths with parameters whose scan answers are remembered (bounded: paths come from clients). */
const SCANNED_PATHS_SIZE = 1024;

export class Router {
  private readonly routes: Route[] = [];
  /** Routes by their number of segments, in the order they were added (only these can match). */
  private readonly routesByLength = new Map<number, Route[]>();
  /** Canonical path (`/a/b`) of a route without parameters → its match for each method. */
  private readonly staticPaths = new Map<string, Map<string, RouteMatch>>();
  /**
   * Raw path → method → what the scan answered for it (frozen, params included): emptied when a
   * route is added, and when full. Only answers that name a route or list methods are kept.
   */
  private readonly scannedPaths = new Map<string, Map<string, RouteMatch>>();

  /** Adds a route, e.g. `add('POST', '/1/batch/:dataset', 'ingest', handler)`. */
  add(method: string, pattern: string, scope: ApiKeyScope | readonly ApiKeyScope[] | null, handler: RouteHandler): this {
    const route: Route = { method, segments: splitPath(pattern), scope, handler };
    this.routes.push(route);
    const sameLength = this.routesByLength.get(route.segments.length);
    if (sameLength === undefined) this.routesByLength.set(route.segments.length, [route]);
    else sameLength.push(route);
    this.rebuildStaticPaths();
    this.scannedPaths.clear();
    return this;
  }

  /**
   * Finds the route for a method and raw path (without query string). The answer is shared
   * between requests and frozen: a handler reads its `params`, never changes them.
   */
  match(method: string, path: string): RouteMatch {
    const byMethod = this.staticPaths.get(path);
    if (byMethod !== undefined) return byMethod.get(method) ?? (byMethod.get('') as RouteMatch);
    const scanned = this.scannedPaths.get(path);
    const known = scanned?.get(method);
    if (known !== undefined) return known;
    // A path that is not valid percent-encoding throws here, before anything is remembered.
    const found = this.scan(method, path);
    if (found.kind === 'not-found') return found;
    freezeMatch(found);
    if (scanned !== undefined) scanned.set(method, found);
    else {
      if (this.scannedPaths.size >= SCANNED_PATHS_SIZE) this.scannedPaths.clear();
      this.scannedPaths.set(path, new Map([[method, found]]));
    }
    return found;
  }

  private scan(method: string, path: string): RouteMatch {
    const segments = splitPath(path);
    let allow: string[] | undefined;
    for (const route of this.routesByLength.get(segments.length) ?? []) {
      const params = matchSegments(route.segments, segments);
      if (params === undefined) continue;
      if (route.method === method) return { kind: 'found', route, params };
      (allow ??= []).push(route.method);
    }
    return allow === undefined ? { kind: 'not-found' } : { kind: 'wrong-method', allow };
  }

  /**
   * Precomputes the answers for the canonical text of every parameterless path
   * (what the scan would return), keyed by method; '' holds the 405 answer.
   */
  private rebuildStaticPaths(): void {
    this.staticPaths.clear();
    const paths = new Set<string>();
    for (const route of this.routes) {
      if (route.segments.some((segment) => segment.charCodeAt(0) === 58)) continue;
      paths.add(`/${route.segments.join('/')}`);
    }
    // A parametrised route added earlier may match a static path too; taking the answers from
    // the scan itself keeps the map exactly what the scan would say.
    const methods = new Set(this.routes.map((route) => route.method));
    for (const path of paths) {
      const byMethod = new Map<string, RouteMatch>();
      for (const method of methods) {
        const found = this.scan(method, path);
        if (found.kind === 'found') byMethod.set(method, freezeMatch(found));
      }
      byMethod.set('', freezeMatch(this.scan('', path)));
      this.staticPaths.set(path, byMethod);
    }
  }
}

/** Freezes a match to be shared between requests (its params, or its list of methods). */
function freezeMatch(match: RouteMatch): RouteMatch {
  if (match.kind === 'found') Object.freeze(match.params);
  else if (match.kind === 'wrong-method') Object.freeze(match.allow);
  return Object.freeze(match);
}

function splitPath(path: string): string[] {
  const parts = path.split('/');
  const out: string[] = [];
  for (const part of parts) if (part.length > 0) out.push(part);
  return out;
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  let params: Record<string, string> | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] as string;
    const actual = segments[i] as string;
    if (expected.charCodeAt(0) === 58 /* : */) {
      (params ??= {})[expected.slice(1)] = actual.includes('%') ? decodeSegment(actual) : actual;
    } else if (expected !== actual) return undefined;
  }
  return params ?? NO_PARAMS;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new FlagscopeError(
      'invalid_input',
      `path segment "${segment}" is not valid percent-encoding`,
      'URL-encode names with encodeURIComponent',
    );
  }
}
