/**
 * SIGTERM drains the API process: it stops accepting connections, finishes the requests in flight,
 * closes its sockets and exits 0.
 */
import path from 'node:path';
import { Client } from 'pg';
import { io } from 'socket.io-client';
import { apiProcessEnv } from '../../src/dev/stack/apiProcess';
import { tokenFor } from '../../src/dev/stack/auth';
import { readStack } from '../../src/dev/stack/stackFile';
import { findFreePort } from '../../src/net/freePort';
import { spawnService, waitForHealth } from '../../src/dev/serviceProcess';

describe('API shutdown', () => {
  it('finishes a request in flight, closes sockets, refuses new connections and exits 0 on SIGTERM', async () => {
    const stack = readStack();
    const port = await findFreePort();
    const api = spawnService('api', {
      env: apiProcessEnv(stack, { port, taskQueue: 'drain-test-no-worker', workspaceId: 'ws-drain', logLevel: process.env.DRAIN_LOG }),
      stdio: process.env.DRAIN_LOG ? 'inherit' : 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => api.once('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    await waitForHealth(base, 30_000);
    const socket = io(base, { transports: ['websocket'], reconnection: false, auth: { token: tokenFor('ws-drain') } });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));

    // Hold the tasks table so a create request stays in flight.
    const locker = new Client({ connectionString: stack.databaseUrl });
    locker.on('error', () => undefined); // dropped with the test database if this test fails midway
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE tasks IN EXCLUSIVE MODE');
    const inFlight = fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor('ws-drain')}` },
      body: JSON.stringify({ workspaceId: 'ws-drain', repository: path.join(stack.workDir, 'nothing'), prompt: 'In flight at shutdown' }),
    });
    // Wait until the request is really in flight: its insert waits on our lock.
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 50))) {
      // Statistics are a snapshot per transaction, and the locker is inside one: clear it first.
      await locker.query('SELECT pg_stat_clear_snapshot()');
      const waiting = await locker.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (waiting.rows[0].n > 0) break;
      if (Date.now() > deadline)
        throw new Error(
          `the create request never reached the database (${await Promise.race([inFlight.then(async (r) => `answered ${r.status} ${await r.text()}`), Promise.resolve('no answer yet')])})`,
        );
    }
    api.kill('SIGTERM');
    expect(['io server disconnect', 'transport close']).toContain(await disconnected); // closed by the server
    await new Promise((r) => setTimeout(r, 200));
    await expect(fetch(`${base}/healthz`)).rejects.toThrow(); // no longer accepting
    await locker.query('COMMIT');
    await locker.end();

    const res = await inFlight;
    expect(res.status).toBe(201);
    const task = (await res.json()) as { id: string; workflowId: string };
    expect(await exited).toBe(0);

    // The request completed fully: its row, its event and its (not yet polled) run exist.
    const check = new Client({ connectionString: stack.databaseUrl });
    await check.connect();
    const { rows } = await check.query('SELECT status, last_event_seq FROM tasks WHERE id = $1', [task.id]);
    expect(rows).toEqual([{ status: 'init_enqueue_provision', last_event_seq: 1 }]);
    await check.query('DELETE FROM tasks WHERE id = $1', [task.id]);
    await check.end();
    const { createTemporalClient } = await import('../../src/temporal/client');
    const temporal = await createTemporalClient({ address: stack.temporalAddress, namespace: stack.namespace });
    expect((await temporal.workflow.getHandle(task.workflowId).describe()).status.name).toBe('RUNNING');
    await temporal.workflow.getHandle(task.workflowId).terminate('test cleanup');
    await temporal.connection.close();
    socket.close();
  });
});
