/**
 * Compare and explain: `POST /api/v1/compare/{dataset}` and
 * `POST /api/v1/explain/{dataset}` (docs/api.md). Both only read, so both are
 * retried like reads.
 */
import type { CompareReport, ExplainReport } from '../api/analysis.js';
import { type HttpClient, unexpectedShape } from './http.js';

/** Flag cohorts compared on metrics. */
export async function compareCohorts(http: HttpClient, dataset: string, request: Record<string, unknown>): Promise<CompareReport> {
  const path = `/api/v1/compare/${encodeURIComponent(dataset)}`;
  const report = await http.requestJson<CompareReport | undefined>('POST', path, request, { idempotent: true, sendDeadline: true });
  if (typeof report !== 'object' || report === null || !Array.isArray(report.results)) throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return report;
}

/** What sets a selection of events apart from the rest. */
export async function explainSelection(http: HttpClient, dataset: string, request: Record<string, unknown>): Promise<ExplainReport> {
  const path = `/api/v1/explain/${encodeURIComponent(dataset)}`;
  const report = await http.requestJson<ExplainReport | undefined>('POST', path, request, { idempotent: true, sendDeadline: true });
  if (typeof report !== 'object' || report === null || !Array.isArray(report.findings)) throw unexpectedShape(`POST ${path}`, http.baseUrl);
  return report;
}
