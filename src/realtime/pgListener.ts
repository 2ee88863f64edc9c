/**
 * A Postgres LISTEN connection that outlives any database outage, built on `pg-listen`.
 *
 * pg-listen keeps one connection, notices its loss (connection error or end, or a failed "paranoid"
 * check query every `paranoidCheckMs`), reconnects with our backoff for as long as it takes, LISTENs
 * again and emits `connected`. Around it this module adds what pg-listen lacks:
 * - the first connect retries too (pg-listen's `connect()` tries once): each attempt is a fresh
 *   subscriber, retried with backoff until Postgres answers;
 * - if pg-listen's reconnection itself fails (its LISTEN after reconnecting fails, after which it
 *   stops), the subscriber is replaced by a fresh one, again with backoff;
 * - `close()` stops everything: pg-listen's `close()` does not stop a reconnection loop in progress,
 *   so an abandoned subscriber's loop is ended from its own hooks (the `reconnect` event and the
 *   retry interval throw once it is abandoned; a connection it still opens is closed on `connected`);
 * - state for readiness (`listening`, `downSince`, `lastError`) and one callback per outage start and
 *   end, so the owner logs once per outage and catches up on what the outage hid.
 *
 * Notices are passed on as raw payload strings, in arrival order.
 */
import createSubscriber, { type Subscriber } from 'pg-listen';
import { backoffMs, retryWithBackoff, RetryAbortedError } from './backoff';

/** What the owner learns when LISTEN becomes active again after an outage (or a slow first connect). */
export interface ListenRecovery {
  /** When the outage was noticed. */
  downSince: Date;
  /** How long LISTEN was not active, in ms. */
  downMs: number;
  /**
   * Earliest instant whose notices may have been lost: when the outage was noticed, minus the time a
   * silently dead connection can go unnoticed (paranoid check interval plus its timeout).
   */
  missedSince: Date;
}

export interface ListenOutage {
  downSince: Date;
  /** As in ListenRecovery. */
  missedSince: Date;
  error: Error;
}

export interface PgListenerOptions {
  databaseUrl: string;
  channel: string;
  /** Each notice's payload, in arrival order, only while LISTEN is active. Must not throw. */
  onNotification: (payload: string) => void;
  /** Once per outage, when LISTEN is first found not active (also for a first connect that fails). */
  onDown?: (outage: ListenOutage) => void;
  /** Each time LISTEN is active again after `onDown`. Not called for a first connect that succeeds at once. */
  onUp?: (recovery: ListenRecovery) => void;
  /** A bug that stopped the listener for good (it never stops for a database failure). */
  onFatal?: (err: Error) => void;
  /** Any other failure worth a debug line (a failed reconnect attempt, a replaced subscriber). */
  onDebug?: (msg: string, err?: unknown) => void;
  /** Interval of the check query that notices a silently dead connection, ms. Default 10 000. */
  paranoidCheckMs?: number;
  /** Timeout of connecting and of each query on the LISTEN connection, ms. Default 5000. */
  timeoutMs?: number;
  /** Backoff between reconnect attempts: first wait and cap, ms. Default 100 and 5000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface PgListener {
  /** Resolves once LISTEN is first active; rejects if closed before. */
  readonly ready: Promise<void>;
  /** True only while LISTEN is active on a live connection (as far as the last check knows). */
  readonly listening: boolean;
  /** When the current outage was noticed; null while listening (and before the first attempt ends). */
  readonly downSince: Date | null;
  /** The latest failure of the connection (connect, LISTEN, loss); kept after recovery; null if none yet. */
  readonly lastError: Error | null;
  /** Stops listening and every retry and timer; resolves when no connection or attempt is left. */
  close(): Promise<void>;
}

/** Settles when `promise` settles or after `ms`, whichever is first; never rejects; clears its timer. */
function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    () => undefined,
    () => undefined,
  );
  const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([settled, timedOut]).finally(() => clearTimeout(timer));
}

/** One pg-listen subscriber and the hooks that let us abandon it. */
interface Attempt {
  sub: Subscriber;
  /** Set once abandoned: its reconnection loop ends at the next hook. */
  abandoned: boolean;
  /** True between its `reconnect` event and the `connected`/`error` that ends that reconnection. */
  reconnecting: boolean;
  /** Resolves when pg-listen gave up reconnecting (its `error` event) while not abandoned. */
  failed: Promise<Error>;
  /** Resolves when the reconnection loop of an abandoned attempt has ended. */
  loopEnded: Promise<void>;
}

/**
 * Starts listening on `channel` and keeps listening until `close()`.
 * @returns the listener; its `ready` settles on the first LISTEN (or rejects on close before it).
 */
export function startPgListener(opts: PgListenerOptions): PgListener {
  const paranoidCheckMs = opts.paranoidCheckMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const backoff = { baseMs: opts.retryBaseMs ?? 100, maxMs: opts.retryMaxMs ?? 5_000 };
  const abort = new AbortController();
  let closed = false;
  let listening = false;
  let downSince: Date | null = null;
  let lastError: Error | null = null;
  let current: Attempt | null = null;

  const markDown = (error: Error) => {
    lastError = error;
    if (!listening && downSince) return; // same outage
    listening = false;
    downSince = new Date();
    if (!closed) opts.onDown?.({ downSince, missedSince: new Date(downSince.getTime() - paranoidCheckMs - timeoutMs), error });
  };

  const markUp = () => {
    listening = true;
    const since = downSince;
    downSince = null;
    if (since && !closed) {
      opts.onUp?.({ downSince: since, downMs: Date.now() - since.getTime(), missedSince: new Date(since.getTime() - paranoidCheckMs - timeoutMs) });
    }
  };

  const newAttempt = (): Attempt => {
    let resolveFailed!: (err: Error) => void;
    let resolveLoopEnded!: () => void;
    const attempt: Attempt = {
      sub: createSubscriber(
        // connectionTimeoutMillis bounds a connect to a host that does not answer; query_timeout bounds
        // LISTEN and the paranoid check on a connection that died silently.
        { connectionString: opts.databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs },
        {
          retryLimit: Infinity,
          // Any truthy retryTimeout makes pg-listen give up reconnecting after that many ms.
          retryTimeout: 0,
          retryInterval: (failed: number) => {
            if (attempt.abandoned) throw new RetryAbortedError(); // ends an abandoned reconnection loop
            return backoffMs(failed + 1, backoff);
          },
          paranoidChecking: paranoidCheckMs,
          parse: (payload: string) => payload, // passed on raw: a bad payload is the owner's to report
        },
      ),
      abandoned: false,
      reconnecting: false,
      failed: new Promise((r) => (resolveFailed = r)),
      loopEnded: new Promise((r) => (resolveLoopEnded = r)),
    };
    /** Ends an abandoned attempt's reconnection: closes whatever connection it may hold by now. */
    const endLoop = () => void withinMs(attempt.sub.close(), timeoutMs).then(resolveLoopEnded);
    attempt.sub.events.on('reconnect', (n: number) => {
      // Throwing here ends pg-listen's reconnection loop before it opens another connection.
      if (attempt.abandoned) throw new RetryAbortedError();
      attempt.reconnecting = true;
      if (n === 1 && attempt === current) markDown(new Error('the LISTEN connection to Postgres was lost'));
      else opts.onDebug?.(`LISTEN reconnect attempt ${n}`);
    });
    attempt.sub.events.on('connected', () => {
      attempt.reconnecting = false;
      if (attempt.abandoned) return endLoop(); // a reconnection that succeeded after we let go
      // pg-listen emits `connected` also on the first connect, before we LISTEN: only a reconnect of
      // the current, established subscriber counts (it has re-issued LISTEN by now).
      if (attempt === current) markUp();
    });
    attempt.sub.events.on('error', (err: Error) => {
      attempt.reconnecting = false;
      if (attempt.abandoned) return endLoop();
      resolveFailed(err);
    });
    attempt.sub.notifications.on(opts.channel, (payload: unknown) => {
      if (attempt === current && listening && typeof payload === 'string') opts.onNotification(payload);
    });
    return attempt;
  };

  /**
   * Lets go of `attempt` and waits until its reconnection loop (if any) has stopped: at its next hook,
   * after the wait it is in (<= retryMaxMs) and the connect it is trying (<= timeoutMs). Bounded, so
   * a stuck close never stops the supervisor; a loop still running then stops at its next hook anyway.
   */
  const abandon = async (attempt: Attempt) => {
    attempt.abandoned = true;
    const looping = attempt.reconnecting;
    await withinMs(attempt.sub.close(), timeoutMs);
    if (looping) await withinMs(attempt.loopEnded, backoff.maxMs + 2 * timeoutMs);
  };

  /** Connects a fresh subscriber and LISTENs, retrying with backoff until it works or we close. */
  const establish = () =>
    retryWithBackoff(
      async () => {
        const attempt = newAttempt();
        try {
          await attempt.sub.connect();
          await attempt.sub.listenTo(opts.channel);
        } catch (err) {
          await abandon(attempt);
          throw err;
        }
        if (closed) {
          await abandon(attempt);
          throw new RetryAbortedError();
        }
        return attempt;
      },
      {
        ...backoff,
        signal: abort.signal,
        retryTypeErrors: true, // every failure to connect is retried
        onFailedAttempt: (err, n) => {
          markDown(err);
          if (n > 1) opts.onDebug?.(`LISTEN connect attempt ${n} failed`, err);
        },
      },
    );

  const closing = new Promise<null>((resolve) => abort.signal.addEventListener('abort', () => resolve(null), { once: true }));

  const supervise = async (onFirstListen: () => void) => {
    while (!closed) {
      let attempt: Attempt;
      try {
        attempt = await establish();
      } catch (err) {
        if (err instanceof RetryAbortedError) return;
        throw err;
      }
      current = attempt;
      markUp();
      onFirstListen();
      const err = await Promise.race([attempt.failed, closing]);
      current = null;
      if (err) {
        markDown(err);
        opts.onDebug?.('pg-listen gave up reconnecting; starting a fresh subscriber', err);
      }
      await abandon(attempt);
    }
  };

  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined); // a caller that never awaits `ready` must not see an unhandled rejection
  const supervising = supervise(resolveReady).catch((err) => {
    lastError = err instanceof Error ? err : new Error(String(err));
    listening = false;
    rejectReady(lastError);
    opts.onFatal?.(lastError);
  });

  return {
    ready,
    get listening() {
      return listening;
    },
    get downSince() {
      return downSince;
    },
    get lastError() {
      return lastError;
    },
    async close() {
      if (closed) return supervising;
      closed = true;
      listening = false;
      abort.abort();
      rejectReady(new Error('the LISTEN connection was closed before it was first active'));
      await supervising;
    },
  };
}
