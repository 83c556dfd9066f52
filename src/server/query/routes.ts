/**
 * The query endpoints (docs/api.md), all with scope `query`: `POST /api/v1/query/{dataset}`
 * runs a query spec, `GET /api/v1/datasets` lists the datasets and
 * `GET /api/v1/datasets/{dataset}/columns` a dataset's columns; and, with scope `admin`,
 * `POST /api/v1/datasets/{dataset}/columns/{column}/type` changes a column's type.
 */
import type { EventStore } from '../../store/types.js';
import { readJsonObject, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import { datasetColumns, listDatasets, runQuery, setColumnType } from './query-service.js';

/** What the query endpoints need from the server. */
export interface QueryDependencies {
  events: EventStore;
  now: () => number;
  /** The request body limit of the body policy (src/server/http-io.ts). */
  limits: { maxBodyBytes: number };
}

/** Adds the query and dataset routes to the server's router. */
export function registerQueryRoutes(router: Router, deps: QueryDependencies): void {
  router.add('POST', '/api/v1/query/:dataset', 'query', async ({ req, res, params }) => {
    const spec = await readJsonObject(req, deps.limits.maxBodyBytes, 'query spec', {
      hint: 'see docs/query.md for the query specification',
    });
    sendJson(res, 200, await runQuery(deps.events, params.dataset as string, spec, deps.now()));
  });
  router.add('GET', '/api/v1/datasets', 'query', async ({ res }) => {
    sendJson(res, 200, { datasets: await listDatasets(deps.events) });
  });
  router.add('GET', '/api/v1/datasets/:dataset/columns', 'query', async ({ res, params }) => {
    sendJson(res, 200, await datasetColumns(deps.events, params.dataset as string));
  });
  router.add('POST', '/api/v1/datasets/:dataset/columns/:column/type', 'admin', async ({ req, res, params }) => {
    const body = await readJsonObject(req, deps.limits.maxBodyBytes, 'column type', { hint: 'send {"type": "string"}' });
    sendJson(res, 200, await setColumnType(deps.events, params.dataset as string, params.column as string, body));
  });
}
