/**
 * The live side of the typed client: one Socket.IO connection (handshake `auth: { token }`) on which
 * {@link RealtimeClient.watchTask} and {@link RealtimeClient.watchWorkspace} keep a current view.
 *
 * watchTask: subscribes with `{ taskId, afterSeq: view.lastSeq }` on every (re)connect, so the first
 * subscribe replays the whole history and a resubscribe after socket.io-client's reconnect replays
 * exactly what was missed; the ack is applied as the snapshot. Pushed messages go through
 * reduceTaskView (./taskView.ts), which orders them by seq, drops duplicates and what the snapshot
 * covers, and reports a gap; a gap is closed from `GET /v1/tasks/:id/events?after=`.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { ClientToServerEvents, RealtimeError, ServerToClientEvents, SubscribeAck, SubscribeRequest, TaskEventMessage } from './realtimeContract';
import { createTaskServiceClient, type TaskServiceClient } from './rest';
import { createTaskView, createWorkspaceView, reduceTaskView, reduceWorkspaceView, resumePayload, type TaskView, type TaskViewInput, type WorkspaceView } from './taskView';

/** A failed `subscribe` ack's error (docs/REALTIME.md lists the codes), or `ack_timeout` / `subscribe_failed` / `history_failed` from the client itself. */
export type SubscribeError = Omit<RealtimeError, 'code'> & { code: RealtimeError['code'] | 'ack_timeout' | 'subscribe_failed' | 'history_failed' };

/** The client's end of the Socket.IO connection, typed by the shared contract (./realtimeContract.ts). */
export type RealtimeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A live view: read it, be told when it changes, stop. */
export interface Watch<V> {
  /** The current view (a new object after each change). */
  getView(): V;
  /** Calls `listener` with the view after every change; returns the function that removes it. */
  subscribe(listener: (view: V) => void): () => void;
  /** Resolves with the first view (current or future) for which `predicate` holds; rejects after `timeoutMs` (default 60 s) or on close. */
  until(predicate: (view: V) => boolean, timeoutMs?: number): Promise<V>;
  /** The last subscribe or history error, null once a later subscribe succeeded. */
  readonly error: SubscribeError | null;
  /** Counters: `subscribes` acked, events `replayed` by the server on those, `historyReads` made to fill gaps. */
  readonly stats: { subscribes: number; replayed: number; historyReads: number };
  /** Stops: unsubscribes (when connected) and drops the listeners. The socket stays open. */
  close(): void;
}

/** Options of {@link createRealtimeClient}. */
export interface RealtimeClientOptions {
  /** Origin of the API, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Bearer token bound to one workspace. */
  token: string;
  /** REST client for gap filling and task lists (default: one made from baseUrl and token). */
  rest?: TaskServiceClient;
  /**
   * Extra socket.io-client options (e.g. reconnection delays). The transport is WebSocket only unless
   * these say otherwise: then several API processes behind one address need no sticky sessions
   * (docs/DEPLOYMENT.md#api-processes-and-the-load-balancer).
   */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /** How long to wait for a `subscribe` ack before asking again, in ms (default 10 000). */
  ackTimeoutMs?: number;
}

/** The live client: one socket, any number of watches. */
export interface RealtimeClient {
  /** The Socket.IO connection (e.g. to observe `connect_error`, whose message is `unauthorized` for a bad token). */
  readonly socket: RealtimeSocket;
  /** Follows one task of the token's workspace; see the module comment. */
  watchTask(taskId: string): Watch<TaskView>;
  /** Follows the task list of the token's workspace: a first page of `GET /v1/tasks` (≤ 100, newest first) as the snapshot, then every pushed record. */
  watchWorkspace(workspaceId: string): Watch<WorkspaceView>;
  /** Closes every watch and the socket. */
  close(): void;
}

/** A watch plus what its owner needs to drive it. */
type InternalWatch<V> = Watch<V> & { dispatch: (f: (v: V) => V) => void; fail: (e: SubscribeError | null) => void; isClosed: () => boolean };

/** A subscribe's outcome: the server's ack, or an error the client made (timeout, send failure). */
type SubscribeOutcome = Extract<SubscribeAck, { ok: true }> | { ok: false; error: SubscribeError };
/** A successful ack (with `task` when a task was subscribed). */
type OkAck = Extract<SubscribeAck, { ok: true }>;

/** What every watch of one client shares. */
interface WatchHost {
  socket: RealtimeSocket;
  rest: TaskServiceClient;
  ackTimeoutMs: number;
  watches: Set<Watch<unknown>>;
}

/** How one kind of watch subscribes and applies what arrives. */
interface WatchSpec<V> {
  initial: V;
  /** The subscribe (and unsubscribe) payload, read at each subscribe. */
  payload: () => SubscribeRequest;
  /** Applies a successful ack (the snapshot). */
  onAck: (ack: OkAck, dispatch: (f: (v: V) => V) => void) => void | Promise<void>;
  /** Applies a pushed message. */
  onMessage: (m: TaskEventMessage, dispatch: (f: (v: V) => V) => void) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Connects (asynchronously: watches subscribe once the socket is up, and again after each reconnect). */
export function createRealtimeClient(opts: RealtimeClientOptions): RealtimeClient {
  const socket: RealtimeSocket = io(opts.baseUrl, { transports: ['websocket'], ...opts.socket, auth: { token: opts.token } });
  const host: WatchHost = {
    socket,
    rest: opts.rest ?? createTaskServiceClient({ baseUrl: opts.baseUrl, token: opts.token }),
    ackTimeoutMs: opts.ackTimeoutMs ?? 10_000,
    watches: new Set(),
  };
  return {
    socket,
    watchTask: (taskId) => watchTask(host, taskId),
    watchWorkspace: (workspaceId) => watchWorkspace(host, workspaceId),
    close() {
      for (const w of [...host.watches]) w.close();
      socket.close();
    },
  };
}

/**
 * Sends one `subscribe` and waits up to `ackTimeoutMs` for its ack. A timeout or a failed send becomes
 * an error outcome; null when the connection dropped meanwhile (the next `connect` subscribes again, so
 * there is nothing to report).
 */
async function requestSubscribe(host: WatchHost, payload: SubscribeRequest): Promise<SubscribeOutcome | null> {
  try {
    return await host.socket.timeout(host.ackTimeoutMs).emitWithAck('subscribe', payload);
  } catch (err) {
    if (!host.socket.connected) return null;
    const timedOut = err instanceof Error && /timed out/i.test(err.message);
    return timedOut
      ? { ok: false, error: { code: 'ack_timeout', message: `no subscribe ack within ${host.ackTimeoutMs} ms`, retryAfterSeconds: 0 } }
      : { ok: false, error: { code: 'subscribe_failed', message: `the subscribe could not be sent: ${err instanceof Error ? err.message : String(err)}` } };
  }
}

/** The machinery both watches share: view, listeners, `until`, subscribe on every connect, close. */
function createWatch<V>(host: WatchHost, spec: WatchSpec<V>): InternalWatch<V> {
  const { socket } = host;
  let view = spec.initial;
  let closed = false;
  let generation = 0;
  let error: SubscribeError | null = null;
  const stats = { subscribes: 0, replayed: 0, historyReads: 0 };
  const listeners = new Set<(v: V) => void>();
  // `until` predicates: run after every view change and after every subscribe ack (they may read `stats`).
  const checkers = new Set<() => void>();
  const closers = new Set<(err: Error) => void>();
  const dispatch = (f: (v: V) => V) => {
    if (closed) return;
    const next = f(view);
    if (next === view) return;
    view = next;
    for (const l of [...listeners]) l(view);
    for (const c of [...checkers]) c();
  };
  const onEvent = (m: TaskEventMessage) => {
    if (!closed && m?.event && m.task) spec.onMessage(m, dispatch);
  };
  /** Subscribes until acked, refused for good, superseded by a newer subscribe, or disconnected. */
  const subscribeNow = async (): Promise<void> => {
    const gen = ++generation;
    for (;;) {
      if (closed || gen !== generation || !socket.connected) return;
      const ack = await requestSubscribe(host, spec.payload());
      if (ack === null || closed || gen !== generation) return;
      if (ack.ok) {
        stats.subscribes++;
        stats.replayed += ('replayed' in ack ? ack.replayed : undefined) ?? 0;
        watch.fail(null);
        await spec.onAck(ack, dispatch);
        for (const c of [...checkers]) c();
        return;
      }
      watch.fail(ack.error);
      // Only a passing condition is worth asking again for; a refusal (task_not_found, ...) stays in `error`.
      if (ack.error.retryAfterSeconds === undefined) return;
      await sleep(Math.max(ack.error.retryAfterSeconds, 1) * 1000);
    }
  };
  const onConnect = () => void subscribeNow();
  socket.on('task.event', onEvent);
  socket.on('connect', onConnect);
  const watch: InternalWatch<V> = {
    getView: () => view,
    subscribe(listener: (v: V) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    until(predicate: (v: V) => boolean, timeoutMs = 60_000) {
      if (predicate(view)) return Promise.resolve(view);
      return new Promise<V>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          checkers.delete(check);
          closers.delete(onClose);
        };
        const check = () => {
          if (!predicate(view)) return;
          done();
          resolve(view);
        };
        const onClose = (err: Error) => {
          done();
          reject(err);
        };
        const timer = setTimeout(() => onClose(new Error(`view did not reach the expected state within ${timeoutMs} ms`)), timeoutMs);
        checkers.add(check);
        closers.add(onClose);
      });
    },
    get error() {
      return error;
    },
    stats,
    close() {
      if (closed) return;
      closed = true;
      socket.off('task.event', onEvent);
      socket.off('connect', onConnect);
      if (socket.connected) socket.emit('unsubscribe', spec.payload(), () => undefined);
      listeners.clear();
      for (const c of [...closers]) c(new Error('watch closed'));
      host.watches.delete(watch as Watch<unknown>);
    },
    dispatch,
    fail(e: SubscribeError | null) {
      const changed = e !== error;
      error = e;
      if (changed && e) for (const l of [...listeners]) l(view);
    },
    isClosed: () => closed,
  };
  host.watches.add(watch as Watch<unknown>);
  // In a microtask: the caller's `payload` may read the watch it is still being assigned to (watchTask's
  // resume payload), and the subscribe must not find it uninitialised.
  if (socket.connected) queueMicrotask(() => void subscribeNow());
  return watch;
}

/** Follows one task: resumes after the view's last seq on every subscribe, fills gaps over REST. */
function watchTask(host: WatchHost, taskId: string): Watch<TaskView> {
  const id = taskId.toLowerCase();
  let filling = false;
  const apply = (input: TaskViewInput) => {
    watch.dispatch((v) => reduceTaskView(v, input));
    if (watch.getView().gap) void fillGaps();
  };
  // Reads the missing events over REST until no gap is left (a failed read is retried every second).
  const fillGaps = async () => {
    if (filling) return;
    filling = true;
    try {
      while (!watch.isClosed() && watch.getView().gap) {
        const { afterSeq } = watch.getView().gap!;
        watch.stats.historyReads++;
        const res = await host.rest
          .GET('/v1/tasks/{id}/events', { params: { path: { id }, query: { after: afterSeq, limit: 500 } } })
          .catch((err: unknown) => ({ data: undefined, error: err }));
        if (res.data) {
          watch.dispatch((v) => reduceTaskView(v, { kind: 'history', events: res.data.items }));
          if (watch.getView().gap?.afterSeq !== afterSeq) continue;
        } else {
          watch.fail({ code: 'history_failed', message: `GET /v1/tasks/${id}/events failed: ${JSON.stringify(res.error)}` });
        }
        await sleep(1000);
      }
    } finally {
      filling = false;
    }
  };
  const watch: InternalWatch<TaskView> = createWatch<TaskView>(host, {
    initial: createTaskView(id),
    payload: () => resumePayload(watch.getView()),
    onAck: (ack) => {
      if ('task' in ack) apply({ kind: 'snapshot', task: ack.task });
    },
    onMessage: (m) => {
      if (m.event.taskId.toLowerCase() === id) apply({ kind: 'event', message: m });
    },
  });
  return watch;
}

/** Follows a workspace's task list: subscribed first, listed second, so whatever changes after the list is pushed. */
function watchWorkspace(host: WatchHost, workspaceId: string): Watch<WorkspaceView> {
  const watch: InternalWatch<WorkspaceView> = createWatch<WorkspaceView>(host, {
    initial: createWorkspaceView(workspaceId),
    payload: () => ({ workspaceId }),
    onAck: async (_ack, dispatch) => {
      const res = await host.rest.GET('/v1/tasks', { params: { query: { workspaceId, limit: 100 } } }).catch((err: unknown) => ({ data: undefined, error: err }));
      if (res.data) dispatch((v) => reduceWorkspaceView(v, { kind: 'snapshot', tasks: res.data.items }));
      else watch.fail({ code: 'history_failed', message: `GET /v1/tasks failed: ${JSON.stringify(res.error)}` });
    },
    onMessage: (m, dispatch) => dispatch((v) => reduceWorkspaceView(v, { kind: 'event', message: m })),
  });
  return watch;
}
