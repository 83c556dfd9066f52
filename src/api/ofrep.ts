/**
 * OpenFeature Remote Evaluation Protocol (OFREP) answers, as open-feature/protocol's
 * `service/openapi.yaml` defines them. Shared by the server and the API client.
 */

/** OFREP flag metadata: flat string, number and boolean values. */
export type OfrepMetadata = Record<string, string | number | boolean>;

/** A successful evaluation (HTTP 200). */
export interface OfrepSuccess {
  key: string;
  /** Absent: the caller's own default applies (a disabled flag, a flag without a default variant). */
  value?: unknown;
  reason: string;
  variant?: string;
  metadata: OfrepMetadata;
  errorCode?: undefined;
  errorDetails?: undefined;
}

/** A failed evaluation (HTTP 400 or 404): `errorCode` says why, e.g. `FLAG_NOT_FOUND`. */
export interface OfrepFailure {
  key: string;
  errorCode: string;
  errorDetails: string;
  metadata?: OfrepMetadata;
  value?: undefined;
  reason?: undefined;
  variant?: undefined;
}

/** One flag's OFREP answer: success (`value`) or failure (`errorCode`). */
export type OfrepEvaluation = OfrepSuccess | OfrepFailure;

/** The body of `POST /ofrep/v1/evaluate/flags/{key}`. */
export interface OfrepRequest {
  context: Record<string, unknown>;
}
