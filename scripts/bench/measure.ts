/**
 * Small measuring helpers shared by the benchmark's modules: percentiles, how figures are printed,
 * and the process tree read from /proc.
 */
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
