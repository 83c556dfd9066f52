/**
 * The analysis endpoints: `POST /api/v1/compare/{dataset}` (flag cohorts
 * compared on metrics) and `POST /api/v1/explain/{dataset}` (what sets a
 * selection of events apart), both with scope `query` (docs/api.md).
 */
import type { EventStore } from '../../store/types.js';
import { clientGone, readJsonBody, sendJson } from '../http-io.js';
import { scopesAllow } from '../../api/keys.js';
import { type AnalysisGate, parseTimeoutHeader, TIMEOUT_HEADER } from '../admission.js';
import { FLAGS_WITHHELD, prepareCompare, prepareExplain, type FlagLookup } from './analysis-service.js';
import type { Router } from '../router.js';

/** What the analysis endpoints need from the server. */
export interface AnalysisDependencies {
  events: EventStore;
  limits: { maxBodyBytes: number };
  now: () => number;
  /** The server's flag service, for each flag's configured split and default variant. */
  flags?: FlagLookup | undefined;
  /** Admission control of analyses (src/server/admission.ts). */
  analyses: AnalysisGate;
}

/** Adds the compare and explain routes to the server's router. */
export function registerAnalysisRoutes(router: Router, deps: AnalysisDependencies): void {
  router.add('POST', '/api/v1/compare/:dataset', 'query', async ({ req, res, params, key }) => {
    const timeoutMs = parseTimeoutHeader(req.headers[TIMEOUT_HEADER]);
    const { value: body } = await readJsonBody(req, deps.limits.maxBodyBytes, 'compare request');
    // A flag's configuration (split, default variant) is for keys that may read flags.
    const flags = deps.flags === undefined || (key !== undefined && scopesAllow(key.scopes, 'flags:read')) ? deps.flags : FLAGS_WITHHELD;
    const compare = await prepareCompare(deps.events, params.dataset as string, body, deps.now(), flags);
    sendJson(res, 200, await deps.analyses.run((signal) => compare.run(signal), { clientGone: clientGone(res), timeoutMs }));
  });
  router.add('POST', '/api/v1/explain/:dataset', 'query', async ({ req, res, params }) => {
    const timeoutMs = parseTimeoutHeader(req.headers[TIMEOUT_HEADER]);
    const { value: body } = await readJsonBody(req, deps.limits.maxBodyBytes, 'explain request');
    const explain = await prepareExplain(deps.events, params.dataset as string, body, deps.now());
    sendJson(res, 200, await deps.analyses.run((signal) => explain.run(signal), { clientGone: clientGone(res), timeoutMs }));
  });
}
