/**
 * Scenario 5 of `npm run bench` (docs/BENCHMARKS.md): provisioning throughput on its own. 200 tasks
 * with the `instant` provider, created by 20 clients at once; the time until all are created and
 * until the client has seen every one `running`, the CPU each process used meanwhile, and where the
 * time goes: each regular activity's time waiting in the task queue and running, from the Temporal
 * histories of 25 of those runs.
 */
import { cpuDuring, median, ms, regularActivitySpans } from './measure';
import { CPU_LABELS, type BenchStack } from './stack';

/** 5. Provisioning throughput: 200 tasks with the instant provider, then where the time goes. */
export async function provisioningThroughput(stack: BenchStack): Promise<string[]> {
  stack.startRecording();
  const t5 = performance.now();
  const ids: string[] = [];
  let next = 0;
  let createdAt5 = 0;
  const { cpu: cpu5 } = await cpuDuring(stack.probe, async () => {
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 200) {
          next++;
          ids.push((await stack.createOne('instant')).id);
        }
      }),
    );
    createdAt5 = performance.now() - t5;
    await Promise.all(ids.map((id) => stack.waitRunning(id)));
  });
  const elapsed5 = performance.now() - t5;
  const spans = new Map<string, { queue: number[]; run: number[] }>();
  for (const id of ids.slice(0, 25)) {
    for (const span of await regularActivitySpans(stack.client, `provision-task-${id}`)) {
      const s = spans.get(span.name) ?? { queue: [], run: [] };
      s.queue.push(span.queue);
      s.run.push(span.run);
      spans.set(span.name, s);
    }
  }
  const cpuTotal = Object.values(cpu5).reduce((a, b) => a + b, 0);
  return [
    '## 5. Provisioning throughput (200 tasks, instant provider, 20 creating clients)',
    '',
    `All 200 created in ${ms(createdAt5)}; all running after ${ms(elapsed5)}: ${(200 / (elapsed5 / 1000)).toFixed(1)} tasks reaching \`running\` per second.`,
    '',
    `CPU used from the first create until all 200 were running (user + system, from /proc), per task: ${(cpuTotal / 200).toFixed(1)} ms in all, of ${((2 * elapsed5) / 200).toFixed(1)} ms of CPU the 2 cores offered per task.`,
    '',
    '| process | CPU ms per task | share |',
    '| --- | --- | --- |',
    ...Object.entries(cpu5).map(([k, v]) => `| ${CPU_LABELS[k] ?? k} | ${(v / 200).toFixed(1)} | ${((100 * v) / cpuTotal).toFixed(0)} % |`),
    '',
    'Where the time goes, from the Temporal histories of 25 of those runs (ms, median per activity call):',
    '',
    '| activity | calls | waiting in the task queue (scheduled → started) | running (started → completed) |',
    '| --- | --- | --- | --- |',
    ...[...spans.entries()].map(([k, v]) => `| ${k} | ${v.run.length} | ${ms(median(v.queue))} | ${ms(median(v.run))} |`),
    '',
  ];
}
