/**
 * The benchmark's CPU layout (`npm run bench -- --pin`, the default): the API and Postgres on core 0,
 * the worker and the Temporal dev server on core 1, as production would run them apart
 * (docs/BENCHMARKS.md, method). Applied with util-linux `taskset` to every thread of each process and
 * of its descendants; Postgres backends forked later inherit the postmaster's affinity. Postgres is
 * the machine's shared server: `unpinPostgres` gives it every core back at the end.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { childPids } from './measure';

function descendants(pid: number): number[] {
  return childPids(pid).flatMap((k) => [k, ...descendants(k)]);
}

/** Every thread of `pid` and of its descendants onto `cpus` (a taskset list, e.g. `0` or `0-1`). */
export function pinTree(pid: number, cpus: string): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      execFileSync('taskset', ['-a', '-pc', cpus, String(p)], { stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
}

/** Every PostgreSQL server process on the machine (the server is shared; while the benchmark runs it is its only user). */
export function postgresProcesses(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
      } catch {
        return false;
      }
    });
}

export function pinPostgres(cpus: string): void {
  for (const pid of postgresProcesses()) pinTree(pid, cpus);
}
