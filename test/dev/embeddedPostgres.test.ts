/**
 * The embedded PostgreSQL the start command falls back to (src/dev/embeddedPostgres.ts): it starts in
 * a fresh directory, takes the migrations, answers queries, stops leaving no process behind, and
 * starts again on the data it kept.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { applyMigrations, ensureDatabase } from '../../src/db/migrate';
import { postgresAnswers, startEmbeddedPostgres } from '../../src/dev/embeddedPostgres';

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  cmdline: string;
}

/** Live processes with their parent, process group and command line (from /proc). */
function processes(): Proc[] {
  const found: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      found.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(sql)).rows as T[];
  } finally {
    await db.end();
  }
}

describe('embedded PostgreSQL', () => {
  // PostgreSQL runs as the user `postgres` when the tests run as root: it must reach the data directory.
  const parent = mkdtempSync(path.join(os.tmpdir(), 'tps-embedded-pg-'));
  chmodSync(parent, 0o777);
  const dataDir = path.join(parent, 'data');
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('starts in a fresh directory, takes the migrations, stops leaving no process, and starts again on its data', async () => {
    const first = await startEmbeddedPostgres({ dataDir, port: 0 });
    const url = first.url('task_service');
    let serverPids: number[] = [];
    try {
      expect(first.initialised).toBe(true);
      expect(first.host).toBe('127.0.0.1');
      expect(first.port).not.toBe(5432);
      expect(await postgresAnswers(first.url())).toBe(true);
      expect(await postgresAnswers(first.url('no_such_database'))).toBe(true); // refused by the server: it answers
      expect(await ensureDatabase(url)).toBe(true);
      expect(await applyMigrations(url)).toContain('20261121000000_init');
      const [row] = await query<{ tasks: number; version: string; encoding: string }>(
        url,
        `SELECT (SELECT count(*) FROM tasks)::int AS tasks, current_setting('server_version') AS version, pg_encoding_to_char(encoding) AS encoding
           FROM pg_database WHERE datname = current_database()`,
      );
      expect(row).toEqual({ tasks: 0, version: expect.stringMatching(/^18\./), encoding: 'UTF8' });
      // The helper leads a process group with the postmaster in it; the postmaster's own children
      // (checkpointer, walwriter, …) each run in a session of their own.
      const postmasterPid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const running = processes();
      expect(running.find((p) => p.pid === postmasterPid)).toMatchObject({ ppid: first.pid, pgrp: first.pid });
      expect(running.find((p) => p.pid === first.pid)?.cmdline).toContain(dataDir);
      serverPids = [postmasterPid, ...running.filter((p) => p.ppid === postmasterPid).map((p) => p.pid)];
      expect(serverPids.length).toBeGreaterThan(3);
    } finally {
      await first.stop();
    }
    expect(await first.exited).toBe(0);
    const left = processes().filter((p) => p.pgrp === first.pid || serverPids.includes(p.pid) || p.cmdline.includes(dataDir));
    expect(left).toEqual([]);
    expect(await postgresAnswers(url, 1000)).toBe(false);
    expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);

    // The data stays: a second start finds the cluster, the database and its migrations.
    const second = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      expect(second.initialised).toBe(false);
      expect(await applyMigrations(second.url('task_service'))).toEqual([]);
    } finally {
      await second.stop();
    }
    expect(processes().filter((p) => p.pgrp === second.pid || p.cmdline.includes(dataDir))).toEqual([]);
  });

  it('finds no server on a port where nothing listens', async () => {
    expect(await postgresAnswers('postgresql://postgres@127.0.0.1:1/task_service', 1000)).toBe(false);
  });
});
