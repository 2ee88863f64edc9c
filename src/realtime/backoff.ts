/**
 * Retrying with exponential backoff that a `close()` can stop at once: aborting `signal` ends the
 * current wait at once and no further attempt starts, so nothing stays scheduled after the owner
 * closes.
 */

export interface BackoffOptions {
  /** Wait after the first failed attempt, in ms. Default 100. */
  baseMs?: number;
  /** Longest wait, in ms. Default 5000. */
  maxMs?: number;
}

/**
 * Wait before the retry that follows failed attempt `attempt` (1-based): `baseMs` doubled per attempt,
 * capped at `maxMs`, with ±20 % jitter so several processes do not retry in lockstep.
 * @returns milliseconds (integer, >= 0).
 */
export function backoffMs(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 100;
  const max = opts.maxMs ?? 5000;
  const exact = Math.min(max, base * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(Math.min(max, exact * (0.8 + Math.random() * 0.4)));
}

/** The error a wait or retry loop ends with once its signal is aborted. */
export class RetryAbortedError extends Error {
  constructor() {
    super('retrying stopped: closed');
    this.name = 'RetryAbortedError';
  }
}

/**
 * Resolves after `ms` milliseconds.
 * @throws RetryAbortedError as soon as `signal` is aborted (the timer is cleared).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new RetryAbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RetryAbortedError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions extends BackoffOptions {
  /** Stops retrying (the call rejects with RetryAbortedError). */
  signal: AbortSignal;
  /** Retries after the first attempt; default Infinity (until it succeeds or `signal` aborts). */
  retries?: number;
  /** Retry a TypeError too (by default it is taken for a programming error and thrown at once). */
  retryTypeErrors?: boolean;
  /**
   * Called after each failed attempt (1-based), before the wait. Throwing from it ends the retrying
   * with that error (e.g. when the failure is not one waiting can fix).
   */
  onFailedAttempt?: (err: Error, attempt: number) => void | Promise<void>;
}

/**
 * Calls `fn` until it resolves, waiting `backoffMs(attempt)` between attempts. A TypeError (a
 * programming error, not an outage) is not retried unless `retryTypeErrors`.
 * @returns what `fn` resolved with.
 * @throws the last error of `fn` once `retries` are spent, the error `onFailedAttempt` threw, or
 *         RetryAbortedError when `signal` aborts (also during a wait).
 */
export async function retryWithBackoff<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const retries = opts.retries ?? Infinity;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal.aborted) throw new RetryAbortedError();
    try {
      return await fn(attempt);
    } catch (caught) {
      if (opts.signal.aborted) throw new RetryAbortedError();
      const err = caught instanceof Error ? caught : new Error(String(caught), { cause: caught });
      if (err instanceof TypeError && !opts.retryTypeErrors) throw err;
      await opts.onFailedAttempt?.(err, attempt);
      if (attempt > retries) throw err;
      await sleep(backoffMs(attempt, opts), opts.signal);
    }
  }
}
