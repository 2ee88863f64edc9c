/**
 * The API process's relays from Postgres notifications to Socket.IO rooms, on one LISTEN connection
 * (./pgListener.ts): task events (`task_events`, ./taskEventRelay.ts) and provisioning log lines
 * (`task_logs`, ./taskLogRelay.ts). One connection per API process whatever the number of channels;
 * each relay gets its channel's notices and hears of every outage of the connection and its end, so
 * each catches up on what the outage hid in its own way.
 */
import type { Logger } from '../logger';
import { startPgListener, type ListenOutage, type ListenRecovery, type PgListener, type PgListenerOptions } from './pgListener';

/** A relay on the shared LISTEN connection: its channel, what it does with a notice, an outage's start and end, and its stop. */
export interface ChannelRelay {
  channel: string;
  /** One notice's payload, in arrival order; must not throw. */
  onNotification(payload: string): void;
  /** The connection was found down (once per outage). */
  onDown(outage: ListenOutage): void;
  /** The connection LISTENs again after `onDown`. */
  onUp(recovery: ListenRecovery): void;
  /** Stops its retries and waits for its notice or catch-up in progress to end. */
  close(): Promise<void>;
}

/** The shared LISTEN connection's readiness state (as ./pgListener.ts states it, for `/readyz`); its `close()` also stops every relay and waits for their work in progress. */
export type RealtimeRelays = PgListener;

/**
 * Starts the LISTEN connection for `relays` (made with the connection's `listening` state, which they
 * read only once notices or outages reach them): connects, retrying until Postgres answers.
 * @param deps.listener tuning of the LISTEN connection (defaults: paranoid check 10 s, timeouts 5 s,
 *        reconnect backoff 0.1 s doubling to 5 s).
 */
export function startRealtimeRelays(deps: {
  databaseUrl: string;
  logger: Logger;
  relays: (listening: () => boolean) => ChannelRelay[];
  listener?: Pick<PgListenerOptions, 'paranoidCheckMs' | 'timeoutMs' | 'retryBaseMs' | 'retryMaxMs'>;
}): RealtimeRelays {
  const { logger } = deps;
  const relays = deps.relays(() => listener.listening);
  const listener = startPgListener({
    databaseUrl: deps.databaseUrl,
    ...deps.listener,
    channels: Object.fromEntries(relays.map((r) => [r.channel, (payload: string) => r.onNotification(payload)])),
    onDown: (outage) => {
      logger.warn(
        { err: outage.error, channels: relays.map((r) => r.channel) },
        'realtime LISTEN connection is down; reconnecting with backoff, what it misses is caught up once it is back',
      );
      for (const r of relays) r.onDown(outage);
    },
    onUp: (recovery) => {
      for (const r of relays) r.onUp(recovery);
    },
    onFatal: (err) => logger.error({ err }, 'realtime LISTEN stopped for good: no realtime events or log lines until the API restarts'),
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
      await Promise.all([listener.close(), ...relays.map((r) => r.close())]);
    },
  };
}
