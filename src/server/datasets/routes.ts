/**
 * The dataset endpoints (docs/api.md): `GET /api/v1/datasets` (scope `query`) lists them with
 * size, time span and retention; with scope `admin`, `DELETE /api/v1/datasets/{dataset}` deletes
 * one (`?force=true` also when a canary in flight measures it: the canary is rolled back) and `PUT /api/v1/datasets/{dataset}/retention` sets its retention. Thin: parse, call, answer.
 */
import { invalidInput } from '../../errors.js';
import { discardBody, readJsonObject, sendJson } from '../http-io.js';
import type { Router } from '../router.js';
import type { DatasetService } from './dataset-service.js';

export interface DatasetRouteDependencies {
  datasets: DatasetService;
  /** The request body limit of the body policy (src/server/http-io.ts). */
  limits: { maxBodyBytes: number };
}

/** Adds the dataset routes to `router`. */
export function registerDatasetRoutes(router: Router, deps: DatasetRouteDependencies): void {
  router.add('GET', '/api/v1/datasets', 'query', async ({ res }) => {
    sendJson(res, 200, await deps.datasets.list());
  });
  router.add('DELETE', '/api/v1/datasets/:dataset', 'admin', async ({ req, res, params, key, query }) => {
    await discardBody(req);
    const force = new URLSearchParams(query).get('force');
    if (force !== null && force !== 'true' && force !== 'false') {
      throw invalidInput(
        `force must be true or false, got ${JSON.stringify(force)}`,
        'send ?force=true to delete a dataset a canary in flight measures',
      );
    }
    sendJson(res, 200, await deps.datasets.delete(params.dataset as string, key?.name, { force: force === 'true' }));
  });
  router.add('PUT', '/api/v1/datasets/:dataset/retention', 'admin', async ({ req, res, params }) => {
    const body = await readJsonObject(req, deps.limits.maxBodyBytes, 'retention', { hint: 'send {"retention": "30d"}' });
    sendJson(res, 200, await deps.datasets.setRetention(params.dataset as string, body));
  });
}
