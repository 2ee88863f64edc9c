/**
 * Waiting in tests by polling what a test can read (the database, a process list), never by timing:
 * {@link until} returns the last value read, and the test asserts on it.
 */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` every 100 ms until `done` holds (or `timeoutMs` pass, default 90 s) and returns the last value. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
  }
}

/** The offline agent's whole reply to `text` (agent/offline-acp-agent.js). */
export const offlineReply = (text: string) => `offline agent: received ${text.length} characters: ${text.split('\n')[0]}`;
