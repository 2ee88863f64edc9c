/**
 * Telling "the database did not answer" apart from every other database error.
 *
 * An unavailable database is an infrastructure fault: it says nothing about the request or the task,
 * and waiting fixes it. Callers use this to answer 503 `database_unavailable` instead of 500 (REST),
 * and to keep a provisioning step's provider attempts for provider failures (activities).
 */

/** Prisma error codes that mean the server could not be reached or did not answer in time. */
const PRISMA_UNAVAILABLE_CODES = new Set([
  'P1001', // can't reach database server
  'P1002', // database server reached but timed out
  'P1008', // operations timed out
  'P1017', // server has closed the connection
  'P2024', // timed out fetching a new connection from the pool
  'P2028', // transaction API error: unable to start a transaction in time
]);

/** Kinds of Prisma's driver-adapter errors (`@prisma/adapter-pg`) with the same meaning. */
const ADAPTER_UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** Node socket error codes on the way to the server (counted only inside a database error: a provider's HTTP call can fail with the same codes). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * SQLSTATEs of a server that is going away or not accepting work: class 08 (connection exception),
 * 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up / shutting down),
 * 53300 too many connections.
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;

/** Messages of `pg` and Prisma that carry no code but the same meaning. */
const UNAVAILABLE_MESSAGE =
  /Can't reach database server|Connection terminated|timeout exceeded when trying to connect|Query read timeout|Server has closed the connection|the database system is (starting up|shutting down|in recovery mode)|terminating connection due to administrator command|Client has encountered a connection error and is not queryable/i;

/**
 * True when `err` (a Prisma or driver-adapter error, a `pg` error, possibly wrapped as a `cause`)
 * means the database did not answer: unreachable, connection lost, shutting down, or out of
 * connections. False for every error about the query or the data (constraint violations, missing
 * rows, ...), and for socket errors that did not come through a database client.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  return unavailableIn(err, false, new Set());
}

function unavailableIn(e: unknown, fromDatabase: boolean, seen: Set<unknown>): boolean {
  if (!e || typeof e !== 'object' || seen.has(e)) return false;
  seen.add(e);
  const o = e as { name?: unknown; code?: unknown; kind?: unknown; severity?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
  const prisma = typeof o.name === 'string' && /^(PrismaClient|DriverAdapterError)/.test(o.name);
  const database = fromDatabase || prisma || typeof o.severity === 'string'; // pg's DatabaseError has a severity
  if (prisma && typeof o.code === 'string' && PRISMA_UNAVAILABLE_CODES.has(o.code)) return true;
  if (database && typeof o.code === 'string' && (SOCKET_CODES.has(o.code) || UNAVAILABLE_SQLSTATE.test(o.code))) return true;
  if (typeof o.kind === 'string' && ADAPTER_UNAVAILABLE_KINDS.has(o.kind)) return true;
  if (typeof o.message === 'string' && UNAVAILABLE_MESSAGE.test(o.message)) return true;
  return unavailableIn(o.cause, database, seen) || unavailableIn(o.meta?.driverAdapterError, database, seen);
}

/** Seconds a client should wait before retrying a request that found the database unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
