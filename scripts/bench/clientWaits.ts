/**
 * Scenarios 3 and 4 of `npm run bench` (docs/BENCHMARKS.md), read from one set of sequential tasks:
 * 30 with the `instant` provider, then 10 with the real `local` one, each created once the previous
 * one is `running`, watched through the typed client's workspace view (scripts/bench/stack.ts).
 *
 * - 3: what the client waited before: the time to the create response against the time until the
 *   client saw the task `running` (what a synchronous create made users wait).
 * - 4: for the instant tasks, the time from the create response to the first Socket.IO event and to
 *   each event up to the record that was running, at the first arrival of a record covering its seq
 *   (the events' types are read from the tasks' histories after the timed part).
 *
 * Either number runs both (`--only 3` reports 4 too).
 */
import { median, ms, percentile, ratio } from './measure';
import { oncePerStack, type BenchStack } from './stack';

interface SequentialTasks {
  /** Per provider: each task's time to the create response and to `running`, ms. */
  s3: Record<string, { response: number[]; running: number[] }>;
  /** Instant tasks: create response to the first message, ms. */
  firstEvent: number[];
  /** Instant tasks: create response to each event (a step's start or end, or another event type), ms. */
  stepDelay: Map<string, number[]>;
}

/** The sequential tasks, made once per stack whether scenario 3 or 4 asks first. */
const sequentialTasks = oncePerStack(measureSequentialTasks);

/** 3 and 4. What the client waited before; time to first event and to each step (sequential tasks). */
async function measureSequentialTasks(stack: BenchStack): Promise<SequentialTasks> {
  const { seen, rest } = stack;
  stack.startRecording();
  const s3: Record<string, { response: number[]; running: number[] }> = {};
  const firstEvent: number[] = [];
  const stepDelay = new Map<string, number[]>();
  const instant: Array<{ id: string; t1: number; upToSeq: number }> = [];
  for (const [provider, n] of [
    ['instant', 30],
    ['local', 10],
  ] as const) {
    s3[provider] = { response: [], running: [] };
    for (let i = 0; i < n; i++) {
      const { id, t0, t1 } = await stack.createOne(provider);
      const done = await stack.waitRunning(id);
      s3[provider]!.response.push(t1 - t0);
      s3[provider]!.running.push(done.at - t0);
      if (provider === 'instant') {
        firstEvent.push(seen.get(id)!.reached[0]!.at - t1);
        instant.push({ id, t1, upToSeq: done.seq });
      }
    }
  }
  // Each event up to the record that was running, at the first arrival of a record covering its seq
  // (the histories are read after the timed part).
  for (const { id, t1, upToSeq } of instant) {
    const { data: history, error } = await rest.GET('/v1/tasks/{id}/events', { params: { path: { id }, query: { limit: 500 } } });
    if (!history) throw new Error(`GET /v1/tasks/${id}/events failed: ${JSON.stringify(error)}`);
    const reached = seen.get(id)!.reached;
    for (const e of history.items) {
      if (e.seq > upToSeq) break;
      const at = reached.find((r) => r.seq >= e.seq)!.at;
      const key = e.type === 'task.step' ? `${(e.payload as { step: string }).step} ${(e.payload as { status: string }).status}` : e.type;
      stepDelay.set(key, [...(stepDelay.get(key) ?? []), at - t1]);
    }
  }
  process.stderr.write('scenarios 3-4 done\n');
  return { s3, firstEvent, stepDelay };
}

/** Scenario 3: what the client waited before. */
export async function clientWaits(stack: BenchStack): Promise<string[]> {
  const { s3 } = await sequentialTasks(stack);
  return [
    '## 3. What the client waited before',
    '',
    '| provider | tasks | median time to the create response | median time to `running` (what a synchronous create made users wait) | ratio |',
    '| --- | --- | --- | --- | --- |',
    ...Object.entries(s3).map(
      ([p, v]) => `| ${p} | ${v.response.length} | ${ms(median(v.response))} | ${ms(median(v.running))} | ${ratio(median(v.running), median(v.response))}× |`,
    ),
    '',
  ];
}

/** Scenario 4: time to the first event and to each step (instant provider, sequential tasks). */
export async function timeToEachStep(stack: BenchStack): Promise<string[]> {
  const { firstEvent, stepDelay } = await sequentialTasks(stack);
  return [
    '## 4. Time to first event and to each step (instant provider, sequential tasks)',
    '',
    '| from the create response to | p50 | p99 |',
    '| --- | --- | --- |',
    `| first Socket.IO event | ${ms(percentile(firstEvent, 50))} | ${ms(percentile(firstEvent, 99))} |`,
    ...[...stepDelay.entries()].map(([k, v]) => `| ${k} | ${ms(percentile(v, 50))} | ${ms(percentile(v, 99))} |`),
    '',
    `Target: first event within 50 ms p50 of the response — measured ${ms(percentile(firstEvent, 50))}: ${percentile(firstEvent, 50) <= 50 ? 'met' : 'missed'}.`,
    '',
  ];
}
