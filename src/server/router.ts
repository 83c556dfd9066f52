/**
 * A small hand-written router: routes are method + path segments with `:name`
 * parameters, matched by a scan of a short table. Unknown paths are 404, known
 * paths with another method 405 with `Allow`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlagscopeError } from '../errors.js';
import type { ApiKeyRecord, ApiKeyScope } from '../store/control.js';

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters by name. */
  params: Record<string, string>;
  /** Raw query string without `?` ('' when none). */
  query: string;
  /** The authorised key; undefined on routes that need none. */
  key: ApiKeyRecord | undefined;
}

export type RouteHandler = (request: RouteRequest) => Promise<void> | void;

export interface Route {
  method: string;
  /** Path segments; `:name` matches one non-empty segment. */
  segments: string[];
  /** Scope the caller's key must grant; null for open routes. */
  scope: ApiKeyScope | null;
  handler: RouteHandler;
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'wrong-method'; allow: string[] }
  | { kind: 'not-found' };

export class Router {
  private readonly routes: Route[] = [];

  /** Adds a route, e.g. `add('POST', '/1/batch/:dataset', 'ingest', handler)`. */
  add(method: string, pattern: string, scope: ApiKeyScope | null, handler: RouteHandler): this {
    this.routes.push({ method, segments: splitPath(pattern), scope, handler });
    return this;
  }

  /** Finds the route for a method and raw path (without query string). */
  match(method: string, path: string): RouteMatch {
    const segments = splitPath(path);
    let allow: string[] | undefined;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (params === undefined) continue;
      if (route.method === method) return { kind: 'found', route, params };
      (allow ??= []).push(route.method);
    }
    return allow === undefined ? { kind: 'not-found' } : { kind: 'wrong-method', allow };
  }
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
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        throw new FlagscopeError('invalid_input', `path segment "${actual}" is not valid percent-encoding`, 'URL-encode names with encodeURIComponent');
      }
      (params ??= {})[expected.slice(1)] = decoded;
    } else if (expected !== actual) return undefined;
  }
  return params ?? {};
}
