/** What the page shows of a failed REST call: the API's one-sentence message, and the field it names. */
import type { ErrorBody } from '../../client';

/** A failed call as the page shows it. */
export interface ShownError {
  code: string;
  message: string;
  /** The request field at fault (`body.repository`, …), when the API named one. */
  field?: string;
}

/** The shown form of openapi-fetch's `error` (the API's ErrorBody) or of a network failure. */
export function shownError(error: unknown): ShownError {
  const body = error as Partial<ErrorBody> | undefined;
  if (body?.error?.code) return { code: body.error.code, message: body.error.message, field: body.error.field };
  if (error instanceof Error) return { code: 'network', message: `The service could not be reached (${error.message}).` };
  return { code: 'unknown', message: 'The service answered with an unexpected error.' };
}

/** Runs a typed-client call and throws its error as a {@link ShownError}; resolves with the data. */
export async function call<T>(request: Promise<{ data?: T; error?: unknown }>): Promise<T> {
  let answer: { data?: T; error?: unknown };
  try {
    answer = await request;
  } catch (err) {
    throw shownError(err);
  }
  if (answer.error !== undefined || answer.data === undefined) throw shownError(answer.error);
  return answer.data;
}
