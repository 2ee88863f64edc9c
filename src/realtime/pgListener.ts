/**
 * A Postgres LISTEN connection that outlives any database outage, built on `pg-listen`: one
 * connection for every channel its owner names (the API LISTENs on `task_events` and `task_logs` on one).
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
 * Notices are passed on as raw payload strings to their channel's handler, in arrival order across channels.
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
  /** The channels to LISTEN on, each with the handler of its notices' payloads (in arrival order, only while LISTEN is active; must not throw). */
  channels: Record<string, (payload: string) => void>;
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

/** A promise with its resolve and reject functions at hand. */
interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** A pending promise and the functions that settle it. */
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
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
  /** Settles `failed`. */
  resolveFailed: (err: Error) => void;
  /** Settles `loopEnded`. */
  resolveLoopEnded: () => void;
}

/** What every phase of one listener shares: its settings (defaults applied) and its state. */
interface ListenerState {
  readonly opts: PgListenerOptions;
  readonly paranoidCheckMs: number;
  readonly timeoutMs: number;
  readonly backoff: { baseMs: number; maxMs: number };
  /** Aborted by `close()`: ends every retry and its wait. */
  readonly abort: AbortController;
  /** Resolves (with null) once `abort` is aborted. */
  readonly closing: Promise<null>;
  closed: boolean;
  /** As in PgListener. */
  listening: boolean;
  /** As in PgListener. */
  downSince: Date | null;
  /** As in PgListener. */
  lastError: Error | null;
  /** The established subscriber (the only one whose notices and losses count); null between subscribers. */
  current: Attempt | null;
}

/**
 * Starts listening on `opts.channels` and keeps listening until `close()`.
 * @returns the listener; its `ready` settles on the first LISTEN (or rejects on close before it).
 */
export function startPgListener(opts: PgListenerOptions): PgListener {
  const state = newListenerState(opts);
  const ready = newReady();
  const supervising = supervise(state, ready.resolve).catch((err) => stopForGood(state, ready, err));
  return listenerHandle(state, ready, supervising);
}

/** Configure: the options with their defaults, and the state of a listener that has not connected yet. */
function newListenerState(opts: PgListenerOptions): ListenerState {
  const abort = new AbortController();
  return {
    opts,
    paranoidCheckMs: opts.paranoidCheckMs ?? 10_000,
    timeoutMs: opts.timeoutMs ?? 5_000,
    backoff: { baseMs: opts.retryBaseMs ?? 100, maxMs: opts.retryMaxMs ?? 5_000 },
    abort,
    closing: new Promise<null>((resolve) => abort.signal.addEventListener('abort', () => resolve(null), { once: true })),
    closed: false,
    listening: false,
    downSince: null,
    lastError: null,
    current: null,
  };
}

/** The `ready` promise, settled by the first LISTEN or by close; never an unhandled rejection. */
function newReady(): Deferred<void> {
  const ready = deferred<void>();
  ready.promise.catch(() => undefined); // a caller that never awaits `ready` must not see an unhandled rejection
  return ready;
}

/**
 * Supervise: connects and LISTENs (retrying until it works), then follows that subscriber until
 * pg-listen gives up reconnecting it or we close; then lets it go and starts over with a fresh one.
 * @throws only a bug (a database failure is retried for as long as it lasts).
 */
async function supervise(state: ListenerState, onFirstListen: () => void): Promise<void> {
  while (!state.closed) {
    const attempt = await establish(state);
    if (!attempt) return;
    goLive(state, attempt);
    onFirstListen();
    await waitUntilGivenUp(state, attempt);
    await abandon(state, attempt);
  }
}

/**
 * Connect with backoff: a fresh subscriber per attempt, connected and LISTENing, retried until it
 * works; each failure marks LISTEN down.
 * @returns the attempt that LISTENs; null once closed.
 */
async function establish(state: ListenerState): Promise<Attempt | null> {
  try {
    return await retryWithBackoff(() => connectAndListen(state), {
      ...state.backoff,
      signal: state.abort.signal,
      retryTypeErrors: true, // every failure to connect is retried
      onFailedAttempt: (err, n) => {
        markDown(state, err);
        if (n > 1) state.opts.onDebug?.(`LISTEN connect attempt ${n} failed`, err);
      },
    });
  } catch (err) {
    if (err instanceof RetryAbortedError) return null;
    throw err;
  }
}

/**
 * Connect once: a fresh subscriber connects and LISTENs; on failure (or if closed meanwhile) it is
 * abandoned.
 * @throws the failure to connect or LISTEN; RetryAbortedError if closed meanwhile.
 */
async function connectAndListen(state: ListenerState): Promise<Attempt> {
  const attempt = newAttempt(state);
  try {
    await attempt.sub.connect();
    for (const channel of Object.keys(state.opts.channels)) await attempt.sub.listenTo(channel);
  } catch (err) {
    await abandon(state, attempt);
    throw err;
  }
  if (state.closed) {
    await abandon(state, attempt);
    throw new RetryAbortedError();
  }
  return attempt;
}

/** A pg-listen subscriber, not connected yet, with our hooks on its events and notices. */
function newAttempt(state: ListenerState): Attempt {
  const failed = deferred<Error>();
  const loopEnded = deferred<void>();
  const attempt: Attempt = {
    sub: newSubscriber(state, () => attempt.abandoned),
    abandoned: false,
    reconnecting: false,
    failed: failed.promise,
    loopEnded: loopEnded.promise,
    resolveFailed: failed.resolve,
    resolveLoopEnded: loopEnded.resolve,
  };
  attempt.sub.events.on('reconnect', (n: number) => onReconnect(state, attempt, n));
  attempt.sub.events.on('connected', () => onConnected(state, attempt));
  attempt.sub.events.on('error', (err: Error) => onGaveUp(state, attempt, err));
  for (const [channel, onNotification] of Object.entries(state.opts.channels)) {
    attempt.sub.notifications.on(channel, (payload: unknown) => {
      if (attempt === state.current && state.listening && typeof payload === 'string') onNotification(payload);
    });
  }
  return attempt;
}

/**
 * pg-listen's subscriber with our timeouts, backoff and paranoid check; it reconnects without limit,
 * and its reconnection loop ends at its next wait once `isAbandoned()`.
 */
function newSubscriber(state: ListenerState, isAbandoned: () => boolean): Subscriber {
  return createSubscriber(
    // connectionTimeoutMillis bounds a connect to a host that does not answer; query_timeout bounds
    // LISTEN and the paranoid check on a connection that died silently.
    { connectionString: state.opts.databaseUrl, connectionTimeoutMillis: state.timeoutMs, query_timeout: state.timeoutMs },
    {
      retryLimit: Infinity,
      // Any truthy retryTimeout makes pg-listen give up reconnecting after that many ms.
      retryTimeout: 0,
      retryInterval: (failed: number) => {
        if (isAbandoned()) throw new RetryAbortedError(); // ends an abandoned reconnection loop
        return backoffMs(failed + 1, state.backoff);
      },
      paranoidChecking: state.paranoidCheckMs,
      parse: (payload: string) => payload, // passed on raw: a bad payload is the owner's to report
    },
  );
}

/**
 * Reconnect (pg-listen's `reconnect` event, before its attempt `n`): the first attempt of the current
 * subscriber starts an outage; an abandoned subscriber's loop is ended here.
 */
function onReconnect(state: ListenerState, attempt: Attempt, n: number): void {
  // Throwing here ends pg-listen's reconnection loop before it opens another connection.
  if (attempt.abandoned) throw new RetryAbortedError();
  attempt.reconnecting = true;
  if (n === 1 && attempt === state.current) markDown(state, new Error('the LISTEN connection to Postgres was lost'));
  else state.opts.onDebug?.(`LISTEN reconnect attempt ${n}`);
}

/** Reconnected (pg-listen's `connected` event): LISTEN is back if this is the current subscriber. */
function onConnected(state: ListenerState, attempt: Attempt): void {
  attempt.reconnecting = false;
  if (attempt.abandoned) return endAbandonedLoop(state, attempt); // a reconnection that succeeded after we let go
  // pg-listen emits `connected` also on the first connect, before we LISTEN: only a reconnect of
  // the current, established subscriber counts (it has re-issued LISTEN by now).
  if (attempt === state.current) markUp(state);
}

/** pg-listen gave up reconnecting (its `error` event): the supervisor replaces the subscriber. */
function onGaveUp(state: ListenerState, attempt: Attempt, err: Error): void {
  attempt.reconnecting = false;
  if (attempt.abandoned) return endAbandonedLoop(state, attempt);
  attempt.resolveFailed(err);
}

/** Ends an abandoned attempt's reconnection: closes whatever connection it may hold by now. */
function endAbandonedLoop(state: ListenerState, attempt: Attempt): void {
  void withinMs(attempt.sub.close(), state.timeoutMs).then(attempt.resolveLoopEnded);
}

/** Listen: `attempt` is now the subscriber whose notices count, and LISTEN is active. */
function goLive(state: ListenerState, attempt: Attempt): void {
  state.current = attempt;
  markUp(state);
}

/**
 * Follow: waits until pg-listen gives up reconnecting `attempt` (an outage, not a crash) or we close;
 * then it is no longer the current subscriber.
 */
async function waitUntilGivenUp(state: ListenerState, attempt: Attempt): Promise<void> {
  const err = await Promise.race([attempt.failed, state.closing]);
  state.current = null;
  if (err) {
    markDown(state, err);
    state.opts.onDebug?.('pg-listen gave up reconnecting; starting a fresh subscriber', err);
  }
}

/**
 * Lets go of `attempt` and waits until its reconnection loop (if any) has stopped: at its next hook,
 * after the wait it is in (<= retryMaxMs) and the connect it is trying (<= timeoutMs). Bounded, so
 * a stuck close never stops the supervisor; a loop still running then stops at its next hook anyway.
 */
async function abandon(state: ListenerState, attempt: Attempt): Promise<void> {
  attempt.abandoned = true;
  const looping = attempt.reconnecting;
  await withinMs(attempt.sub.close(), state.timeoutMs);
  if (looping) await withinMs(attempt.loopEnded, state.backoff.maxMs + 2 * state.timeoutMs);
}

/** Earliest instant whose notices may have been lost, for an outage noticed at `downSince` (see ListenRecovery). */
function earliestMissed(state: ListenerState, downSince: Date): Date {
  return new Date(downSince.getTime() - state.paranoidCheckMs - state.timeoutMs);
}

/** Outage start: records `error`; the first failure of an outage sets `downSince` and calls `onDown`. */
function markDown(state: ListenerState, error: Error): void {
  state.lastError = error;
  if (!state.listening && state.downSince) return; // same outage
  state.listening = false;
  state.downSince = new Date();
  if (!state.closed) state.opts.onDown?.({ downSince: state.downSince, missedSince: earliestMissed(state, state.downSince), error });
}

/** Outage end: LISTEN is active; after an outage, calls `onUp`. */
function markUp(state: ListenerState): void {
  state.listening = true;
  const since = state.downSince;
  state.downSince = null;
  if (since && !state.closed) {
    state.opts.onUp?.({ downSince: since, downMs: Date.now() - since.getTime(), missedSince: earliestMissed(state, since) });
  }
}

/** Stop for good on a bug in the supervisor: not listening, `ready` rejects, `onFatal` is told. */
function stopForGood(state: ListenerState, ready: Deferred<void>, err: unknown): void {
  state.lastError = err instanceof Error ? err : new Error(String(err));
  state.listening = false;
  ready.reject(state.lastError);
  state.opts.onFatal?.(state.lastError);
}

/** The owner's view of the listener: readiness state, and `close()`. */
function listenerHandle(state: ListenerState, ready: Deferred<void>, supervising: Promise<void>): PgListener {
  return {
    ready: ready.promise,
    get listening() {
      return state.listening;
    },
    get downSince() {
      return state.downSince;
    },
    get lastError() {
      return state.lastError;
    },
    close: () => closeListener(state, ready, supervising),
  };
}

/** Stop: aborts every retry and wait, rejects `ready` if still pending, and waits for the supervisor to end. */
async function closeListener(state: ListenerState, ready: Deferred<void>, supervising: Promise<void>): Promise<void> {
  if (state.closed) return supervising;
  state.closed = true;
  state.listening = false;
  state.abort.abort();
  ready.reject(new Error('the LISTEN connection was closed before it was first active'));
  await supervising;
}
