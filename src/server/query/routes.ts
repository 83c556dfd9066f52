/**
 * The query endpoints (docs/api.md), all with scope `query`: `POST /api/v1/query/{dataset}`
 * runs a query spec, `GET /api/v1/datasets` lists the datasets and
 * `GET /api/v1/datasets/{dataset}/columns` a dataset's columns.
 */
import type { IncomingMessage } from 'node:http';
import { invalidInput } from '../../errors.js';
import type { EventStore } from '../../store/types.js';
import { sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import { datasetColumns, listDatasets, runQuery } from './query-service.js';

/** What the query endpoints need from the server. */
export interface QueryDependencies {
  events: EventStore;
  now: () => number;
  /** Reads a request's JSON body under the server's content-type and size policy; `what` names it in errors. */
  readJson: (req: IncomingMessage, what: string) => Promise<unknown>;
}

/** Adds the query and dataset routes to the server's router. */
export function registerQueryRoutes(router: Router, deps: QueryDependencies): void {
  router.add('POST', '/api/v1/query/:dataset', 'query', async ({ req, res, params }) => {
    const spec = await deps.readJson(req, 'query spec');
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw invalidInput('query spec must be a JSON object', 'see docs/query.md for the query specification');
    }
    sendJson(res, 200, await runQuery(deps.events, params.dataset as string, spec, deps.now()));
  });
  router.add('GET', '/api/v1/datasets', 'query', async ({ res }) => {
    sendJson(res, 200, { datasets: await listDatasets(deps.events) });
  });
  router.add('GET', '/api/v1/datasets/:dataset/columns', 'query', async ({ res, params }) => {
    sendJson(res, 200, await datasetColumns(deps.events, params.dataset as string));
  });
}
