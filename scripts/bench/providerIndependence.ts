/**
 * Scenario 2 of `npm run bench` (docs/BENCHMARKS.md): independence from the provider. The same
 * createTask load run at 16 connections with the benchmark-only `instant` provider (its steps take
 * 0 s) and then the `slow` one (5 s), each run's backlog discarded after it; createTask's p99 with the
 * slow provider should stay within 1.1× that with the instant one.
 */
import { ms, ratio } from './measure';
import { WORKSPACE, type BenchStack } from './stack';

/** 2. Independence from the provider: the same load with 0 s and 5 s steps, concurrency 16. */
export async function providerIndependence(stack: BenchStack): Promise<string[]> {
  const { base, repo } = stack;
  const instant = await stack.load(`${base}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider: 'instant' }, 16);
  await stack.discardBacklog();
  const slow = await stack.load(`${base}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Benchmark task', provider: 'slow' }, 16);
  process.stderr.write(`scenario 2: p99 instant ${ms(instant.p99)}, slow ${ms(slow.p99)}\n`);
  await stack.discardBacklog();
  return [
    '## 2. Independence from the provider (16 connections)',
    '',
    '| provider steps | p50 | p95 | p99 | throughput |',
    '| --- | --- | --- | --- | --- |',
    `| 0 s (instant) | ${ms(instant.p50)} | ${ms(instant.p95)} | ${ms(instant.p99)} | ${instant.rps.toFixed(0)} req/s |`,
    `| 5 s (slow) | ${ms(slow.p50)} | ${ms(slow.p95)} | ${ms(slow.p99)} | ${slow.rps.toFixed(0)} req/s |`,
    '',
    `createTask p99 slow / instant = ${ratio(slow.p99, instant.p99)} (target at most 1.1: ${slow.p99 <= 1.1 * instant.p99 ? 'met' : 'missed'}).`,
    '',
  ];
}
