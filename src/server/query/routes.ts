/**
 * The query endpoints (docs/api.md), all with scope `query`: `POST /api/v1/query/{dataset}`
 * runs a query spec and `GET /api/v1/datasets/{dataset}/columns` a dataset's columns; and, with scope `admin`,
 * `POST /api/v1/datasets/{dataset}/columns/{column}/type` changes a column's type.
 */
import type { EventStore } from '../../store/types.js';
import { type AnalysisGate, parseTimeoutHeader, TIMEOUT_HEADER } from '../admission.js';
import { clientGone, readJsonObject, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import { datasetColumns, prepareQuery, setColumnType } from './query-service.js';

/** What the query endpoints need from the server. */
export interface QueryDependencies {
  events: EventStore;
  now: () => number;
  /** The request body limit of the body policy (src/server/http-io.ts). */
  limits: { maxBodyBytes: number };
  /** Admission control of analyses (src/server/admission.ts). */
  analyses: AnalysisGate;
}

/** Adds the query and dataset routes to the server's router. */
export function registerQueryRoutes(router: Router, deps: QueryDependencies): void {
  router.add('POST', '/api/v1/query/:dataset', 'query', async ({ req, res, params }) => {
    const timeoutMs = parseTimeoutHeader(req.headers[TIMEOUT_HEADER]);
    const spec = await readJsonObject(req, deps.limits.maxBodyBytes, 'query spec', {
      hint: 'see docs/query.md for the query specification',
    });
    const query = await prepareQuery(deps.events, params.dataset as string, spec, deps.now());
    sendJson(res, 200, await deps.analyses.run((signal) => query.run(signal), { clientGone: clientGone(res), timeoutMs }));
  });
  router.add('GET', '/api/v1/datasets/:dataset/columns', 'query', async ({ res, params }) => {
    sendJson(res, 200, await datasetColumns(deps.events, params.dataset as string));
  });
  router.add('POST', '/api/v1/datasets/:dataset/columns/:column/type', 'admin', async ({ req, res, params }) => {
    const body = await readJsonObject(req, deps.limits.maxBodyBytes, 'column type', { hint: 'send {"type": "string"}' });
    sendJson(res, 200, await setColumnType(deps.events, params.dataset as string, params.column as string, body));
  });
}
