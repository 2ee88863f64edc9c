/**
 * The report of `npm run bench`: the machine, the method and each scenario's section. A full run
 * rewrites docs/BENCHMARKS.md with it, followed by the hand-written docs/BENCHMARKS.analysis.md; a run
 * of some scenarios (`--only`) prints it and leaves docs/ alone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** One scenario's section of the report. */
export interface ReportSection {
  scenario: number;
  lines: string[];
}

/** Where each scenario's section goes: in order, but memory (6, sampled during scenario 1) closes the report. */
const REPORT_ORDER = [1, 2, 3, 4, 5, 7, 8, 9, 6];

export interface ReportOptions {
  /** When the run started. */
  started: Date;
  /** Duration of each load run (`--seconds`). */
  seconds: number;
  /** Whether scenario 1 ran in the pinned CPU layout. */
  pinned: boolean;
  /** Some scenarios only (`--only`): the report goes to stdout, docs/ are left alone. */
  partial: boolean;
}

/** Writes docs/BENCHMARKS.md, or prints the report of a partial run. */
export function writeReport(sections: ReportSection[], opts: ReportOptions): void {
  const report = [...header(opts), ...[...sections].sort((a, b) => REPORT_ORDER.indexOf(a.scenario) - REPORT_ORDER.indexOf(b.scenario)).flatMap((s) => s.lines)];
  if (opts.partial) {
    process.stdout.write(`${report.join('\n')}\n`);
    return;
  }
  const analysis = path.join(ROOT, 'docs/BENCHMARKS.analysis.md');
  let notes = '';
  try {
    notes = readFileSync(analysis, 'utf8');
  } catch {
    // no written analysis yet
  }
  writeFileSync(path.join(ROOT, 'docs/BENCHMARKS.md'), `${report.join('\n')}\n${notes ? `\n${notes}` : ''}`);
  process.stderr.write('wrote docs/BENCHMARKS.md\n');
}

/** The title, the machine and the method. */
function header({ started, seconds, pinned }: ReportOptions): string[] {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${started.toISOString()}. Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}.`,
    '',
    '## Method',
    '',
    '- The stack as `scripts/start.sh` runs it: Temporal dev server (in memory here), Postgres (a fresh database), worker and API as separate processes; this script is a third process on the same 2 cores, so every figure includes its own load.',
    pinned
      ? '- CPU layout in scenario 1 (`--pin`, the default): the API and Postgres on core 0, the worker and the Temporal dev server on core 1 (util-linux `taskset` on every thread; scripts/bench/pinning.ts), as production would run them apart; this script is not pinned. The other scenarios give every process both cores.'
      : '- CPU layout: none (`--no-pin`): every process may run on every core.',
    '- Load: autocannon, POSTs with a keep-alive connection per client, ' + `${seconds} s per run; latency per response, percentiles over all responses of the run.`,
    '- The floor is `POST /v1/bench/floor` (benchmark-only, enabled by ENABLE_BENCHMARK_PROVIDERS=1): the same Prisma insert of a task row and nothing else, behind the same HTTP, JSON and auth layers. Floor and createTask runs alternate, floor first, at each concurrency.',
    '- Providers: `instant` and `slow` are benchmark-only and make no sandbox (steps take 0 s and 5 s); `local` is the real provider (git clone, sandbox-agent, ACP session).',
    '- Every create also provisions a task on the same cores: a load run of 8 s queues thousands of runs. After each load run the script waits until the API has started every run it answered for (`provisionStartsPending` in /healthz), terminates the provisionTask runs still open and archives their tasks, so the next run starts on an idle stack; scenario 5 measures provisioning on its own.',
    "- Realtime: the repository's typed client (`client/`): `createRealtimeClient` over one WebSocket connection, with a `watchWorkspace` watch on the workspace (a fresh one after each load run, once its backlog is discarded); times are taken when a message changes a task's record in the client's view. A step's time is that of the first record covering its event's seq (a record may be newer than its event); the event types are read from the task's history afterwards.",
    '- CPU: user + system time of each process and its children read from /proc before and after a run (10 ms ticks); "Postgres" is every postgres process on the machine, "bench" is this script with autocannon and the Socket.IO client.',
    '- The machine is noisy: read ratios measured side by side in this run, not absolute times.',
    '',
  ];
}
