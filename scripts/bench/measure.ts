/**
 * Small measuring helpers shared by the benchmark's modules: percentiles, how figures are printed,
 * the process tree and its CPU time and memory read from /proc, and regular activities' spans read
 * from a run's history.
 */
import type { Client } from '@temporalio/client';
import { readFileSync } from 'node:fs';

/** The `p`th percentile of `values` (nearest rank); NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const median = (values: number[]) => percentile(values, 50);

/** `a / b` with 2 decimals, or `n/a` when `b` is not positive. */
export const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');

/** `v` ms with `digits` decimals, or `n/a`. */
export const ms = (v: number, digits = 1) => (Number.isFinite(v) ? `${v.toFixed(digits)} ms` : 'n/a');

export const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** The pids of `pid`'s children (none when it is gone). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `read(pid)` summed over a process and all its descendants (tsx runs the service in a child node process). */
function overProcessTree(pid: number, read: (pid: number) => number): number {
  return childPids(pid).reduce((total, child) => total + overProcessTree(child, read), read(pid));
}

/** RSS in MiB of a process and its children. */
export const rssMiB = (pid: number) =>
  overProcessTree(pid, (p) => {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      return kb ? Number(kb) / 1024 : 0;
    } catch {
      return 0;
    }
  });

/**
 * CPU time (user + system) in ms of one process, from /proc (clock ticks of 10 ms). With
 * `reapedChildren`, plus that of its children that have exited (how the Postgres server keeps the
 * time of backends that closed during a run: each live backend is in the list on its own).
 */
export function ownCpuMs(pid: number, opts: { reapedChildren?: boolean } = {}): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    // fields 14-17 of stat: utime, stime, cutime, cstime
    const own = Number(fields[11]) + Number(fields[12]);
    return (opts.reapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) * 10;
  } catch {
    return 0;
  }
}

/** CPU time in ms of a process and its children. */
export const cpuMs = (pid: number) => overProcessTree(pid, ownCpuMs);

/** CPU ms so far of each named process. */
export type CpuProbe = () => Record<string, number>;

/** Runs `work` and returns the CPU ms each named process used meanwhile (postgres: all its processes; bench: this process). */
export async function cpuDuring<T>(probe: CpuProbe, work: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = probe();
  const result = await work();
  const after = probe();
  return { result, cpu: Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)])) };
}

/** One regular activity of a run, from its history (ms). */
export interface ActivitySpan {
  name: string;
  /** Waiting in the task queue: scheduled → started. */
  queue: number;
  /** Running: started → completed. */
  run: number;
  /** The run resumed: completed → the next workflow task completed. */
  resume: number;
}

/** Temporal's share of each completed regular activity of run `workflowId`, read from its history. */
export async function regularActivitySpans(client: Client, workflowId: string): Promise<ActivitySpan[]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const at = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round(Number(e.eventTime?.nanos ?? 0) / 1e6);
  const spans: ActivitySpan[] = [];
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (!name) continue;
    const started = events.find((x) => String(x.activityTaskStartedEventAttributes?.scheduledEventId) === String(e.eventId));
    const completed = events.find((x) => String(x.activityTaskCompletedEventAttributes?.scheduledEventId) === String(e.eventId));
    if (!started || !completed) continue;
    const resumed = events.find((x) => Number(x.eventId) > Number(completed.eventId) && x.workflowTaskCompletedEventAttributes);
    spans.push({ name, queue: at(started) - at(e), run: at(completed) - at(started), resume: resumed ? at(resumed) - at(completed) : NaN });
  }
  return spans;
}
