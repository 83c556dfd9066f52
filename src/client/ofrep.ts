/**
 * Flag evaluation through OFREP (`POST /ofrep/v1/evaluate/flags/{key}`), as
 * an OpenFeature SDK sees it.
 */
import type { OfrepEvaluation } from '../api/ofrep.js';
import { type HttpClient, httpError } from './http.js';

/**
 * Evaluates one flag for `context`. OFREP answers a failed evaluation with 400
 * or 404 and its own body (`errorCode`, `errorDetails`): those resolve like a
 * success; any other failure throws. Evaluation changes nothing, so it is
 * retried like a read.
 */
export async function evaluateFlag(http: HttpClient, key: string, context: Record<string, unknown>): Promise<OfrepEvaluation> {
  const path = `/ofrep/v1/evaluate/flags/${encodeURIComponent(key)}`;
  const response = await http.request<OfrepEvaluation>('POST', path, { context }, { idempotent: true, answerStatuses: [400, 404] });
  if (response.status !== 200 && response.body.errorCode === undefined) {
    throw httpError(response.status, JSON.stringify(response.body), 'POST', path, http.baseUrl);
  }
  return response.body;
}
