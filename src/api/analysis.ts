/**
 * Compare and explain on the wire (`POST /api/v1/compare/{dataset}`,
 * `POST /api/v1/explain/{dataset}`): the request and report types of
 * `src/compare`, gathered where the server and the API client both find them.
 */
import type { ExplainReport } from '../compare/explain/report.js';
import type { CompareReport } from '../compare/report.js';

export type { CompareRequest } from '../compare/request.js';
export type { ExplainRequest } from '../compare/explain/request.js';
export type { CompareReport, ExplainReport };

/** The answer to `POST /api/v1/compare/{dataset}`: the report and the server's time for it. */
export type CompareResponse = CompareReport & { duration_ms: number };

/** The answer to `POST /api/v1/explain/{dataset}`: the report and the server's time for it. */
export type ExplainResponse = ExplainReport & { duration_ms: number };
