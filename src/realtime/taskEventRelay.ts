/**
 * API-side relay: LISTENs on Postgres for task event notices (see ../db/notifier.ts), reads each event and
 * the task as it stands from Postgres, and emits `task.event` to the task's and the workspace's
 * Socket.IO rooms. Every API process runs one, so several API processes can serve clients of the same
 * tasks without a Socket.IO adapter.
 *
 * Notices are handled one at a time in arrival order (Postgres delivers them in commit order), so a
 * client sees a task's events in sequence order.
 *
 * Outages: the LISTEN connection (./pgListener.ts) comes back by itself after any outage of Postgres.
 * Notices committed while it was down are lost by Postgres, so each time it is back the relay catches
 * up from Postgres (./relayCatchUp.ts): every socket subscribed at that moment gets the events it
 * missed, by seq, each once. Reading one notice's event is retried with backoff; if it still fails, a
 * catch-up replaces it. Catch-ups run on the same serial chain as the live notices, before any notice
 * that arrives after the outage, so the per-task order holds.
 */
import type { Server } from 'socket.io';
import type { PrismaClient } from '../generated/prisma/client';
import { taskRoom, toTaskEventRecord, toTaskRecord, workspaceRoom, type TaskEventMessage } from '../domain/records';
import type { Logger } from '../logger';
import { retryWithBackoff, RetryAbortedError } from './backoff';
import { deliver } from './delivery';
import { TASK_EVENTS_CHANNEL, type TaskEventNotice } from '../db/notifier';
import { startPgListener, type PgListenerOptions } from './pgListener';
import { catchUpSubscribers, type CatchUpResult } from './relayCatchUp';

/**
 * Safety margin of a catch-up window, ms: an event's `created_at` is its transaction's start on the
 * database clock, which may precede the moment its notice was due (long transaction, clock skew).
 */
const CATCH_UP_MARGIN_MS = 5_000;
/** Retries of reading one notice's event before a catch-up replaces it (waits 0.1 + 0.2 + 0.4 + 0.8 s). */
const NOTICE_READ_RETRIES = 4;
/** Failed catch-up attempts after which a database that answers `SELECT 1` means a bug, not an outage. */
const CATCH_UP_ATTEMPTS_BEFORE_PROBE = 3;

export interface TaskEventRelay {
  /**
   * Resolves once LISTEN is first active; until Postgres answers it keeps trying (with backoff), so it
   * may take as long as an outage at start. Rejects only if `close()` comes first.
   */
  ready: Promise<void>;
  /**
   * True only while LISTEN is active on a live connection: false before the first connect and during
   * an outage (from when it is noticed: at once for a lost connection, within about 15 s for one that
   * died silently). For readiness checks.
   */
  readonly listening: boolean;
  /** When the current LISTEN outage was noticed; null while listening. */
  readonly downSince: Date | null;
  /**
   * The latest failure of the LISTEN connection (connect, LISTEN, connection lost). Kept after the
   * connection is back (compare `listening`); null if there was none.
   */
  readonly lastError: Error | null;
  /** Stops listening and every retry and timer, and waits for the notice or catch-up in progress to end. */
  close(): Promise<void>;
}

/**
 * Starts the relay: connects (retrying until Postgres answers) and LISTENs on `task_events`.
 * @param deps.listener tuning of the LISTEN connection (defaults: paranoid check 10 s, timeouts 5 s,
 *        reconnect backoff 0.1 s doubling to 5 s).
 */
export function startTaskEventRelay(deps: {
  databaseUrl: string;
  prisma: PrismaClient;
  io: Server;
  logger: Logger;
  listener?: Pick<PgListenerOptions, 'paranoidCheckMs' | 'timeoutMs' | 'retryBaseMs' | 'retryMaxMs'>;
}): TaskEventRelay {
  const { prisma, io, logger } = deps;
  const abort = new AbortController();
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  /** Earliest instant (database clock) whose events may not have been relayed; null when none. */
  let missedSince: Date | null = null;
  /** Bumped by every new possible miss, so a catch-up that overlapped one does not clear it. */
  let missEpoch = 0;
  let catchUpQueued = false;
  /** An outage that ended and whose catch-up has not run (and been logged) yet. */
  let recovered: { downMs: number } | null = null;

  const enqueue = (job: () => Promise<unknown>, what: string, context: object = {}) => {
    chain = chain.then(job).then(
      () => undefined,
      (err) => {
        if (!closed && !(err instanceof RetryAbortedError)) logger.error({ err, ...context }, `${what} failed`);
      },
    );
  };

  const markMissed = (since: Date) => {
    if (!missedSince || since < missedSince) missedSince = since;
    missEpoch++;
  };

  const databaseAnswers = () =>
    prisma.$queryRaw`SELECT 1`.then(
      () => true,
      () => false,
    );

  const relayLive = async (notice: TaskEventNotice) => {
    const [task, event] = await Promise.all([
      prisma.task.findUnique({ where: { id: notice.taskId } }),
      prisma.taskEvent.findUnique({ where: { taskId_seq: { taskId: notice.taskId, seq: notice.seq } } }),
    ]);
    if (!task || !event) return;
    const message: TaskEventMessage = { task: toTaskRecord(task), event: toTaskEventRecord(event) };
    // Per socket rather than a room broadcast, so a socket replaying missed events gets each event once.
    for (const socket of await io.in([taskRoom(task.id), workspaceRoom(task.workspaceId)]).fetchSockets()) deliver(socket, message);
  };

  /**
   * Replays to the subscribed sockets what they may have missed since `missedSince`, retrying while
   * Postgres does not answer (until it does, or close). Gives up, throwing, when Postgres answers but
   * reading still fails (a bug: waiting would stall every live event behind it).
   */
  const catchUpNow = async (): Promise<CatchUpResult | null> => {
    const since = missedSince;
    if (!since) return null;
    const epoch = missEpoch;
    const listeningAtStart = listener.listening;
    const result = await retryWithBackoff(() => catchUpSubscribers({ io, prisma }, since), {
      signal: abort.signal,
      onFailedAttempt: async (err, attempt) => {
        if (attempt === 1) logger.warn({ err }, 'catching up on task events failed; retrying until Postgres answers');
        if (attempt >= CATCH_UP_ATTEMPTS_BEFORE_PROBE && (await databaseAnswers())) throw err;
      },
    });
    // Only a catch-up that ran entirely while LISTEN was active, with no new miss meanwhile, covers it.
    if (listeningAtStart && listener.listening && missEpoch === epoch) missedSince = null;
    if (recovered && listeningAtStart) {
      logger.info({ downMs: recovered.downMs, caughtUpEvents: result.events, caughtUpMessages: result.messages }, 'task event LISTEN is back; missed events caught up');
      recovered = null;
    }
    return result;
  };

  const queueCatchUp = () => {
    if (catchUpQueued) return;
    catchUpQueued = true;
    enqueue(() => {
      catchUpQueued = false;
      return catchUpNow();
    }, 'catching up on task events');
  };

  const relayNotice = async (notice: TaskEventNotice, receivedAt: number) => {
    try {
      await retryWithBackoff(() => relayLive(notice), { signal: abort.signal, retries: NOTICE_READ_RETRIES });
    } catch (err) {
      if (err instanceof RetryAbortedError) throw err;
      logger.warn({ err, notice }, 'relaying a task event failed; catching up from Postgres instead');
      markMissed(new Date(receivedAt - CATCH_UP_MARGIN_MS));
      await catchUpNow(); // in place, so no later notice overtakes the missed one
    }
  };

  const listener = startPgListener({
    databaseUrl: deps.databaseUrl,
    channel: TASK_EVENTS_CHANNEL,
    ...deps.listener,
    onNotification: (payload) => {
      let notice: TaskEventNotice;
      try {
        notice = JSON.parse(payload) as TaskEventNotice;
      } catch (err) {
        logger.error({ err, payload }, 'ignoring a task event notice that is not JSON');
        return;
      }
      // A notice can arrive just before the "back" signal: the catch-up still goes first.
      if (missedSince) queueCatchUp();
      const receivedAt = Date.now();
      enqueue(() => relayNotice(notice, receivedAt), 'relaying task event', { notice });
    },
    onDown: ({ missedSince: since, error }) => {
      markMissed(new Date(since.getTime() - CATCH_UP_MARGIN_MS));
      logger.warn({ err: error }, 'task event LISTEN connection is down; reconnecting with backoff, events are caught up once it is back');
    },
    onUp: ({ missedSince: since, downMs }) => {
      markMissed(new Date(since.getTime() - CATCH_UP_MARGIN_MS));
      recovered = { downMs };
      queueCatchUp();
    },
    onFatal: (err) => logger.error({ err }, 'task event LISTEN stopped for good: no realtime events until the API restarts'),
    onDebug: (msg, err) => logger.debug({ err }, msg),
  });

  return {
    ready: listener.ready,
    get listening() {
      return listener.listening;
    },
    get downSince() {
      return listener.downSince;
    },
    get lastError() {
      return listener.lastError;
    },
    async close() {
      closed = true;
      abort.abort();
      await listener.close();
      await chain;
    },
  };
}
