/**
 * A terminated database connection is an outage, not a crash: `pg_terminate_backend` of every
 * connection of the service (what a failover, a restart, an idle-session timeout or a pooler does),
 * repeated during a burst of creates, ends no process, and every task reaches `running`.
 *
 * The worker and the API run as separate processes, as the start command runs them; tasks use the
 * benchmark-only `instant` provider (no sandbox), so the faults hit only the service's own
 * connections: Prisma's pool in both processes and the API's LISTEN connection. The processes' own
 * output (a crash's stack) is passed through, prefixed with their role; CONNECTION_KILL_LOG_LEVEL
 * (default `silent`) sets their log level.
 */
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { spawnService, waitForHealth } from '../../src/dev/serviceProcess';
import { stackServiceEnv } from '../../src/dev/stack/serviceEnv';
import { readStack } from '../../src/dev/stack/stackFile';
import { findFreePort } from '../../src/net/freePort';

const TOKEN = 'connection-kill-token';
const WORKSPACE = 'ws-connection-kill';
const TASKS = 40;
const ROUNDS = 5;

describe('terminated database connections', () => {
  const stack = readStack();
  const children = new Map<string, ChildProcess>();
  const exits: string[] = [];
  let baseUrl: string;
  let admin: Client;
  const dbName = new URL(stack.databaseUrl).pathname.slice(1);

  beforeAll(async () => {
    const port = await findFreePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const env = stackServiceEnv(stack, `connection-kill-${randomUUID()}`, {
      PORT: String(port),
      API_TOKENS: `${TOKEN}=${WORKSPACE}`,
      ENABLE_BENCHMARK_PROVIDERS: '1',
      INSTANT_PROVIDER_DELAY_MS: '150',
      SANDBOX_ISOLATION: 'none',
      REPOSITORY_ROOTS: stack.workDir,
      LOG_LEVEL: process.env.CONNECTION_KILL_LOG_LEVEL ?? 'silent',
    });
    for (const role of ['worker', 'api'] as const) {
      const child = spawnService(role, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child.stdout!.on('data', (d: Buffer) => process.stderr.write(`[${role}] ${d}`));
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${role}] ${d}`));
      child.once('exit', (code, signal) => exits.push(`${role} exited (code ${code}, signal ${signal})`));
      children.set(role, child);
    }
    admin = new Client({ connectionString: stack.databaseUrl });
    admin.on('error', () => undefined); // the test's own connection is never terminated, but never crash on it
    await admin.connect();
    await waitForHealth(baseUrl, 120_000);
  });

  afterAll(async () => {
    for (const child of children.values()) {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
    }
    await Promise.all([...children.values()].map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await admin?.end();
  });

  /** Terminates every connection to the test database but the admin's own; returns how many. */
  async function terminateAll(): Promise<number> {
    const { rows } = await admin.query('SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = $2', [
      dbName,
      'client backend',
    ]);
    return rows.length;
  }

  /** POST /v1/tasks until it answers 201 (503 while the database is away), with one Idempotency-Key. */
  async function create(n: number): Promise<string> {
    const key = randomUUID();
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${baseUrl}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ workspaceId: WORKSPACE, repository: `${stack.workDir}/any`, prompt: `Connection kill ${n}`, provider: 'instant' }),
      }).catch(() => null);
      if (res?.status === 201) return ((await res.json()) as { id: string }).id;
      if (res && res.status !== 503) throw new Error(`create ${n} answered ${res.status}: ${await res.text()}`);
      if (attempt > 200) throw new Error(`create ${n} never succeeded`);
      await sleep(100);
    }
  }

  it('ends no process, and every task created around the kills reaches running', async () => {
    const ids: string[] = [];
    let terminated = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const wave = Array.from({ length: TASKS / ROUNDS }, (_, i) => create(round * (TASKS / ROUNDS) + i));
      await sleep(100);
      terminated += await terminateAll();
      ids.push(...(await Promise.all(wave)));
      terminated += await terminateAll();
      await sleep(300);
    }
    expect(terminated).toBeGreaterThan(ROUNDS); // the kills really hit the service's connections
    const statuses = async () => (await admin.query('SELECT status FROM tasks WHERE id = ANY($1::uuid[])', [ids])).rows.map((r: { status: string }) => r.status);
    for (const deadline = Date.now() + 90_000; Date.now() < deadline && (await statuses()).some((s) => s !== 'running');) await sleep(250);
    expect(exits).toEqual([]);
    expect(await statuses()).toEqual(ids.map(() => 'running'));
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
  });
});
