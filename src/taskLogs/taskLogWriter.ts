/**
 * Writes a task's provisioning log (src/domain/taskLogs.ts) from inside a step activity. Output
 * arrives as chunks ({@link StepLog.write}: never throws, never waits), is split into lines
 * (./lineSplitter.ts), cleaned and redacted (./redaction.ts), rate-limited per task
 * (`rate-limiter-flexible`: TASK_LOG_LIMITS.rate; what is over is dropped and counted in one `service`
 * line), and written in batches every {@link FLUSH_INTERVAL_MS} (src/db/taskLogs.ts), each batch
 * notified on commit to the API's relay. The log is advisory: a write that fails (a database outage)
 * is logged and its lines are dropped; a step never fails because of its log.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { PrismaClient } from '../generated/prisma/client';
import { appendTaskLogLines, type NewTaskLogLine } from '../db/taskLogs';
import type { ProvisionStep } from '../domain/status';
import { TASK_LOG_LIMITS, type TaskLogLimits, type TaskLogSource } from '../domain/taskLogs';
import type { Logger } from '../logger';
import { LineSplitter } from './lineSplitter';
import { cleanLogLine } from './redaction';

/** How often buffered lines are written, ms: often enough to read as live, rarely enough to batch git's progress. */
export const FLUSH_INTERVAL_MS = 250;
/** Lines one step log holds while its writes wait (a slow or unavailable database); beyond it the oldest are dropped. */
const BUFFER_MAX_LINES = 1_000;

/** The log of one attempt of one step of one task. */
export interface StepLog {
  /** Appends output of `source` (a chunk: lines end at `\n`; a `\r` line is progress that the next one replaces). */
  write(source: TaskLogSource, text: string): void;
  /** Values that are secret in this step (tokens it handed out): replaced by `***` in every line written after. */
  addSecrets(...values: string[]): void;
  /** Writes what is buffered (unfinished lines too) and stops; later writes are ignored. Never rejects. */
  close(): Promise<void>;
}

/** Opens step logs; one per worker process (its rate limit is per task across the process's steps). */
export interface TaskLogWriter {
  open(taskId: string, step: ProvisionStep, attempt: number): StepLog;
}

/**
 * @param deps.limits default TASK_LOG_LIMITS (tests pass smaller bounds).
 */
export function createTaskLogWriter(deps: { prisma: Pick<PrismaClient, '$queryRaw'>; logger: Logger; limits?: TaskLogLimits }): TaskLogWriter {
  const limits = deps.limits ?? TASK_LOG_LIMITS;
  const limiter = new RateLimiterMemory({ points: limits.rate.lines, duration: limits.rate.perSeconds });
  return { open: (taskId, step, attempt) => new BufferedStepLog(taskId, step, attempt, limiter, limits, deps) };
}

class BufferedStepLog implements StepLog {
  private readonly splitters = new Map<TaskLogSource, LineSplitter>();
  private buffer: Array<{ source: TaskLogSource; line: string }> = [];
  private readonly secrets: string[] = [];
  /** Lines dropped (rate limit, or a full buffer during an outage) and not yet reported. */
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly taskId: string,
    private readonly step: ProvisionStep,
    private readonly attempt: number,
    private readonly limiter: RateLimiterMemory,
    private readonly limits: TaskLogLimits,
    private readonly deps: { prisma: Pick<PrismaClient, '$queryRaw'>; logger: Logger },
  ) {}

  write(source: TaskLogSource, text: string): void {
    if (this.closed) return;
    for (const line of this.splitter(source).push(text)) this.enqueue(source, line);
    this.schedule();
  }

  addSecrets(...values: string[]): void {
    this.secrets.push(...values.filter(Boolean));
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const [source, splitter] of this.splitters) {
        const rest = splitter.end();
        if (rest !== null) this.enqueue(source, rest);
      }
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.flush();
    }
    return this.flushing;
  }

  private splitter(source: TaskLogSource): LineSplitter {
    let splitter = this.splitters.get(source);
    if (!splitter) this.splitters.set(source, (splitter = new LineSplitter()));
    return splitter;
  }

  /** Cleans `raw` now (the secrets known now apply) and buffers it; a full buffer drops its oldest line. */
  private enqueue(source: TaskLogSource, raw: string): void {
    const line = cleanLogLine(raw, this.secrets);
    if (!line) return;
    if (this.buffer.length >= BUFFER_MAX_LINES) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push({ source, line });
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Chains one write of what is buffered now (plus each source's latest progress line) after the previous one. */
  private flush(): void {
    for (const [source, splitter] of this.splitters) {
      const progress = splitter.takeProgress();
      if (progress !== null) this.enqueue(source, progress);
    }
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(() => this.writeBatch(batch));
  }

  private async writeBatch(batch: Array<{ source: TaskLogSource; line: string }>): Promise<void> {
    const kept: NewTaskLogLine[] = [];
    for (const entry of batch) {
      if (await this.admit()) kept.push({ step: this.step, attempt: this.attempt, ...entry });
      else this.dropped++;
    }
    if (this.dropped > 0 && (kept.length > 0 || this.closed)) {
      const { lines, perSeconds } = this.limits.rate;
      kept.push({
        step: this.step,
        attempt: this.attempt,
        source: 'service',
        line: `${this.dropped} lines not kept (a task's log takes at most ${lines} lines per ${perSeconds} s)`,
      });
      this.dropped = 0;
    }
    if (kept.length === 0) return;
    try {
      await appendTaskLogLines(this.deps.prisma, this.taskId, kept, this.limits.maxLinesPerTask);
    } catch (err) {
      this.deps.logger.warn({ err, taskId: this.taskId, step: this.step, lines: kept.length }, 'could not write provisioning log lines; they are dropped');
    }
  }

  /** Takes one line's point from the task's budget; false when it is spent. */
  private admit(): Promise<boolean> {
    return this.limiter.consume(this.taskId, 1).then(
      () => true,
      () => false,
    );
  }
}
