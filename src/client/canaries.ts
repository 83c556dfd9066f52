/**
 * The canary endpoints (docs/api.md, "Canaries"): list, start (or check a plan
 * with `dryRun`), read one, and the commands ramp, promote, pause, resume and
 * abort. Errors come from `http.ts` as `FlagscopeError`s: 404 → exit 3, 409 →
 * exit 6, 400 → exit 2.
 */
import type {
  CanaryCommandRequest,
  CanaryDryRunResponse,
  CanaryListResponse,
  CanaryRampRequest,
  CanaryStartRequest,
  CanaryView,
} from '../api/canaries.js';
import type { HttpClient } from './http.js';

const canaryPath = (flag: string): string => `/api/v1/canaries/${encodeURIComponent(flag)}`;

/** The `If-Match` header for a command, when the caller knows the revision it acts on. */
function revisionHeaders(revision: number | undefined): Record<string, string> {
  return revision === undefined ? {} : { 'if-match': `"${revision}"` };
}

/** `GET /api/v1/canaries` (`all` includes ended canaries): in flight first, newest first. */
export async function listCanaries(http: HttpClient, options: { all?: boolean } = {}): Promise<CanaryListResponse> {
  return http.requestJson<CanaryListResponse>('GET', `/api/v1/canaries${options.all === true ? '?all=true' : ''}`);
}

/** `POST /api/v1/canaries`: starts a canary (201). Not repeated after a dropped connection: a second start would conflict. */
export async function startCanary(http: HttpClient, request: Omit<CanaryStartRequest, 'dryRun'>): Promise<CanaryView> {
  return http.requestJson<CanaryView>('POST', '/api/v1/canaries', { ...request, dryRun: false }, { idempotent: false });
}

/** `POST /api/v1/canaries` with `dryRun: true`: the checked plan and its schedule; nothing is stored, so it may be repeated. */
export async function dryRunCanary(http: HttpClient, request: Omit<CanaryStartRequest, 'dryRun'>): Promise<CanaryDryRunResponse> {
  return http.requestJson<CanaryDryRunResponse>('POST', '/api/v1/canaries', { ...request, dryRun: true }, { idempotent: true });
}

/** `GET /api/v1/canaries/{flag}`: the flag's canary in flight, else its latest. */
export async function getCanary(http: HttpClient, flag: string): Promise<CanaryView> {
  return http.requestJson<CanaryView>('GET', canaryPath(flag));
}

/** `POST /api/v1/canaries/{flag}/ramp`: 409 (exit 6) when a guard fails and not `force`. */
export async function rampCanary(http: HttpClient, flag: string, request: CanaryRampRequest, revision?: number): Promise<CanaryView> {
  return http.requestJson<CanaryView>('POST', `${canaryPath(flag)}/ramp`, request, {
    headers: revisionHeaders(revision),
    idempotent: false,
  });
}

/** The commands without arguments beyond a reason. */
export type CanaryCommand = 'promote' | 'pause' | 'resume' | 'abort';

/**
 * `POST /api/v1/canaries/{flag}/promote|pause|resume|abort`. Only an abort is
 * repeated after a dropped connection: getting it through matters more than the
 * conflict ("it has ended") a repeat may answer; a repeated promote could pass
 * two steps.
 */
export async function commandCanary(
  http: HttpClient,
  flag: string,
  command: CanaryCommand,
  request: CanaryCommandRequest = {},
  revision?: number,
): Promise<CanaryView> {
  return http.requestJson<CanaryView>('POST', `${canaryPath(flag)}/${command}`, request, {
    headers: revisionHeaders(revision),
    idempotent: command === 'abort',
  });
}
