/**
 * A query on the wire (`POST /api/v1/query/{dataset}`): a Honeycomb query
 * specification in, a `QueryResult` out. The types live with the query
 * engine; this module is where the server and the API client meet them.
 */
export type { QueryResult, QuerySpec } from '../query/spec.js';
