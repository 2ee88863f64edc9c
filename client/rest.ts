/**
 * The REST side of the typed client: openapi-fetch over the generated OpenAPI types (./schema.d.ts),
 * so paths, parameters, bodies and answers are checked by the compiler.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema';

/** A typed REST client: `client.GET('/v1/tasks/{id}', { params: { path: { id } } })` answers `{ data, error, response }`. */
export type TaskServiceClient = Client<paths>;

/** Options of {@link createTaskServiceClient}. */
export interface TaskServiceClientOptions {
  /** Origin of the API, e.g. `http://127.0.0.1:3000` (no trailing `/v1`). */
  baseUrl: string;
  /** Bearer token bound to one workspace; sent as `Authorization: Bearer <token>` on every call. */
  token: string;
  /** A fetch implementation (default: the global one). */
  fetch?: (input: Request) => Promise<Response>;
}

/**
 * Creates the REST client. Calls never throw for HTTP errors: a non-2xx answer comes back as
 * `{ error }` (the API's `{ error: { code, message, ... } }` body) with `response.status`; only
 * network failures reject.
 */
export function createTaskServiceClient(opts: TaskServiceClientOptions): TaskServiceClient {
  return createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${opts.token}` },
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
}
