/**
 * Small measuring helpers shared by the benchmark's modules: percentiles, how figures are printed,
 * the process tree read from /proc, and regular activities' spans read from a run's history.
 */
import type { Client } from '@temporalio/client';
import { readFileSync } from 'node:fs';

/** The `p`th percentile of `values` (nearest rank); NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

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
