/**
 * API-side relay: LISTENs on Postgres for task event notices (see ../db/notifier.ts), reads each event and
 * the task as it stands from Postgres, and emits `task.event` to the task's and the workspace's
 * Socket.IO rooms. Every API process runs one, so several API processes can serve clients of the same
 * tasks without a Socket.IO adapter.
 *
 * Notices are handled one at a time in arrival order (Postgres delivers them in commit order), so a
 * client sees a task's events in sequence order.
 *
 * Outages: the LISTEN connection (./pgListener.ts, shared with the log relay: ./realtimeRelays.ts) comes
 * back by itself after any outage of Postgres.
 * Notices committed while it was down are lost by Postgres, so each time it is back the relay catches
 * up from Postgres (./relayCatchUp.ts): every socket subscribed at that moment gets the events it
 * missed, by seq, each once. Reading one notice's event is retried with backoff; if it still fails, a
 * catch-up replaces it. Catch-ups run on the same serial chain as the live notices, before any notice
 * that arrives after the outage, so the per-task order holds.
 */
import type { RealtimeServer } from './contract';
import type { PrismaClient } from '../generated/prisma/client';
import { taskRoom, toTaskRecord, workspaceRoom } from '../domain/records';
import { toTaskEventRecord, type TaskEventMessage } from '../domain/events';
import type { Logger } from '../logger';
import { retryWithBackoff, RetryAbortedError } from './backoff';
import { deliver } from './delivery';
import { TASK_EVENTS_CHANNEL, type TaskEventNotice } from '../db/notifier';
import type { ListenOutage, ListenRecovery } from './pgListener';
import type { ChannelRelay } from './realtimeRelays';
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

/** What the relay's phases share: its dependencies, its serial chain, and what it may have missed. */
interface RelayState {
  readonly prisma: PrismaClient;
  readonly io: RealtimeServer;
  readonly logger: Logger;
  /** Called with each live message's delivery lag (its event's commit to its emit), seconds. */
  readonly onLiveDelivery?: (lagSeconds: number) => void;
  /** Whether LISTEN is active now (the listener's `listening`). */
  readonly listening: () => boolean;
  /** Aborted by `close()`: ends every retry and its wait. */
  readonly abort: AbortController;
  closed: boolean;
  /** The serial chain: each notice and catch-up runs after the one before it. */
  chain: Promise<void>;
  /** Earliest instant (database clock) whose events may not have been relayed; null when none. */
  missedSince: Date | null;
  /** Bumped by every new possible miss, so a catch-up that overlapped one does not clear it. */
  missEpoch: number;
  catchUpQueued: boolean;
  /** An outage that ended and whose catch-up has not run (and been logged) yet. */
  recovered: { downMs: number } | null;
}

/**
 * The relay of `task_events` notices, for the API's shared LISTEN connection (./realtimeRelays.ts):
 * nothing runs until a notice or an outage reaches it.
 */
export function createTaskEventRelay(deps: {
  prisma: PrismaClient;
  io: RealtimeServer;
  logger: Logger;
  /** Whether the shared LISTEN connection is active now. */
  listening: () => boolean;
  /** Called with each live message's delivery lag (its event's commit to its emit), seconds: the API's metric. */
  onLiveDelivery?: (lagSeconds: number) => void;
}): ChannelRelay {
  const state = newRelayState(deps, deps.listening);
  return {
    channel: TASK_EVENTS_CHANNEL,
    onNotification: (payload) => onNotice(state, payload),
    onDown: (outage) => onListenDown(state, outage),
    onUp: (recovery) => onListenUp(state, recovery),
    close: () => closeRelay(state),
  };
}

/** Configure: a relay with an empty chain and nothing missed yet. */
function newRelayState(deps: { prisma: PrismaClient; io: RealtimeServer; logger: Logger; onLiveDelivery?: (lagSeconds: number) => void }, listening: () => boolean): RelayState {
  return {
    prisma: deps.prisma,
    io: deps.io,
    logger: deps.logger,
    onLiveDelivery: deps.onLiveDelivery,
    listening,
    abort: new AbortController(),
    closed: false,
    chain: Promise.resolve(),
    missedSince: null,
    missEpoch: 0,
    catchUpQueued: false,
    recovered: null,
  };
}

/** A notice arrived: parsed, then relayed on the chain (behind a catch-up, if one is owed). */
function onNotice(state: RelayState, payload: string): void {
  let notice: TaskEventNotice;
  try {
    notice = JSON.parse(payload) as TaskEventNotice;
  } catch (err) {
    state.logger.error({ err, payload }, 'ignoring a task event notice that is not JSON');
    return;
  }
  // A notice can arrive just before the "back" signal: the catch-up still goes first.
  if (state.missedSince) queueCatchUp(state);
  const receivedAt = Date.now();
  enqueue(state, () => relayNotice(state, notice, receivedAt), 'relaying task event', { notice });
}

/** Outage start: what follows may be missed; logged once per outage. */
function onListenDown(state: RelayState, { missedSince, error }: ListenOutage): void {
  markMissed(state, new Date(missedSince.getTime() - CATCH_UP_MARGIN_MS));
  state.logger.debug({ err: error }, 'task events may be missed until LISTEN is back');
}

/** Outage end: a catch-up goes on the chain, ahead of any later notice. */
function onListenUp(state: RelayState, { missedSince, downMs }: ListenRecovery): void {
  markMissed(state, new Date(missedSince.getTime() - CATCH_UP_MARGIN_MS));
  state.recovered = { downMs };
  queueCatchUp(state);
}

/** Appends `job` to the serial chain; its failure is logged (unless closed) and the chain goes on. */
function enqueue(state: RelayState, job: () => Promise<unknown>, what: string, context: object = {}): void {
  state.chain = state.chain.then(job).then(
    () => undefined,
    (err) => {
      if (!state.closed && !(err instanceof RetryAbortedError)) state.logger.error({ err, ...context }, `${what} failed`);
    },
  );
}

/** Records that events since `since` may not have been relayed. */
function markMissed(state: RelayState, since: Date): void {
  if (!state.missedSince || since < state.missedSince) state.missedSince = since;
  state.missEpoch++;
}

/**
 * Deliver one notice: reads its event (retried with backoff); if that keeps failing, a catch-up
 * replaces it, in place.
 */
async function relayNotice(state: RelayState, notice: TaskEventNotice, receivedAt: number): Promise<void> {
  try {
    await retryWithBackoff(() => relayLive(state, notice), { signal: state.abort.signal, retries: NOTICE_READ_RETRIES });
  } catch (err) {
    if (err instanceof RetryAbortedError) throw err;
    state.logger.warn({ err, notice }, 'relaying a task event failed; catching up from Postgres instead');
    markMissed(state, new Date(receivedAt - CATCH_UP_MARGIN_MS));
    await catchUpNow(state); // in place, so no later notice overtakes the missed one
  }
}

/** Reads the notice's event and its task and delivers them to every socket of the task's and the workspace's rooms. */
async function relayLive({ prisma, io, onLiveDelivery }: RelayState, notice: TaskEventNotice): Promise<void> {
  const [task, event] = await Promise.all([
    prisma.task.findUnique({ where: { id: notice.taskId } }),
    prisma.taskEvent.findUnique({ where: { taskId_seq: { taskId: notice.taskId, seq: notice.seq } } }),
  ]);
  if (!task || !event) return;
  const message: TaskEventMessage = { task: toTaskRecord(task), event: toTaskEventRecord(event) };
  // Per socket rather than a room broadcast, so a socket replaying missed events gets each event once.
  for (const socket of await io.in([taskRoom(task.id), workspaceRoom(task.workspaceId)]).fetchSockets()) deliver(socket, message);
  onLiveDelivery?.((Date.now() - event.createdAt.getTime()) / 1000);
}

/** Queues one catch-up on the chain, unless one is queued and has not started yet. */
function queueCatchUp(state: RelayState): void {
  if (state.catchUpQueued) return;
  state.catchUpQueued = true;
  enqueue(
    state,
    () => {
      state.catchUpQueued = false;
      return catchUpNow(state);
    },
    'catching up on task events',
  );
}

/**
 * Catch up: replays to the subscribed sockets what they may have missed since `missedSince`; clears
 * the miss if the catch-up covered it, and logs the recovery it completes.
 */
async function catchUpNow(state: RelayState): Promise<CatchUpResult | null> {
  const since = state.missedSince;
  if (!since) return null;
  const epoch = state.missEpoch;
  const listeningAtStart = state.listening();
  const result = await catchUpUntilDone(state, since);
  // Only a catch-up that ran entirely while LISTEN was active, with no new miss meanwhile, covers it.
  if (listeningAtStart && state.listening() && state.missEpoch === epoch) state.missedSince = null;
  if (state.recovered && listeningAtStart) {
    state.logger.info({ downMs: state.recovered.downMs, caughtUpEvents: result.events, caughtUpMessages: result.messages }, 'task event LISTEN is back; missed events caught up');
    state.recovered = null;
  }
  return result;
}

/**
 * Catch up with backoff: retries while Postgres does not answer (until it does, or close). Gives up,
 * throwing, when Postgres answers but reading still fails (a bug: waiting would stall every live
 * event behind it).
 */
function catchUpUntilDone(state: RelayState, since: Date): Promise<CatchUpResult> {
  const { io, prisma, logger } = state;
  return retryWithBackoff(() => catchUpSubscribers({ io, prisma }, since), {
    signal: state.abort.signal,
    onFailedAttempt: async (err, attempt) => {
      if (attempt === 1) logger.warn({ err }, 'catching up on task events failed; retrying until Postgres answers');
      if (attempt >= CATCH_UP_ATTEMPTS_BEFORE_PROBE && (await databaseAnswers(prisma))) throw err;
    },
  });
}

/** Whether Postgres answers `SELECT 1`; never rejects. */
function databaseAnswers(prisma: PrismaClient): Promise<boolean> {
  return prisma.$queryRaw`SELECT 1`.then(
    () => true,
    () => false,
  );
}

/** Stop: aborts every retry and wait, then waits for the chain's job in progress to end. */
async function closeRelay(state: RelayState): Promise<void> {
  state.closed = true;
  state.abort.abort();
  await state.chain;
}
