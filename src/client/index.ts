export { createApiClient, httpError, transportError } from './api-client.js';
export type { ApiClient, ApiClientOptions, ApiResponse, BatchItem, BatchItemStatus, RequestOptions } from './api-client.js';
