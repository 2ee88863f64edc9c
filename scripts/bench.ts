/**
 * `npm run bench`: measures what the asynchronous design buys (docs/BENCHMARKS.md, method) and writes docs/BENCHMARKS.md.
 *
 * It brings the stack up the way the start command does — a Temporal dev server (in memory, free
 * ports), a fresh Postgres database with the migrations, the worker and the API as separate processes
 * (with ENABLE_BENCHMARK_PROVIDERS=1: the benchmark-only `instant` and `slow` providers and the floor
 * endpoint) — then runs every scenario in one run, side by side, and tears it all down.
 *
 * Load comes from autocannon; latencies are per response (its `response` event), percentiles computed
 * over all responses of a run. Realtime figures come from the repository's typed client (client/:
 * createRealtimeClient and its workspace watch, over a real Socket.IO connection); REST calls other
 * than the load use its REST client. These machines are noisy: the report gives medians and ratios
 * measured in the same run, never a lone absolute time.
 *
 * Each scenario is a function of scripts/bench/ (stack.ts is the stack they share, report.ts writes
 * the report); `main` below runs the selected ones in order.
 *
 *   npm run bench [-- --seconds 8]
 */
import { Command } from 'commander';
import { clientWaits, timeToEachStep } from './bench/clientWaits';
import { createTaskLatency, memory } from './bench/createTaskLatency';
import { providerIndependence } from './bench/providerIndependence';
import { localProvisioning, provisioningAgainstFloor, provisioningContext } from './bench/provisioning';
import { writeReport, type ReportSection } from './bench/report';
import { startStack, type BenchStack } from './bench/stack';
import { provisioningThroughput } from './bench/throughput';
import { warmPoolContext, warmPoolProvisioning } from './bench/warmPool';

const opts = new Command()
  .option('--seconds <n>', 'duration of each load run', '8')
  .option('--only <list>', 'comma-separated scenario numbers to run (then the report goes to stdout, docs/ are left alone)')
  .option('--profile-worker <dir>', "write the worker's V8 CPU profile (.cpuprofile) into <dir> when it exits")
  .option('--no-pin', 'leave every process on every core (default: API and Postgres on core 0, worker and Temporal on core 1)')
  .parse()
  .opts<{ seconds: string; only?: string; profileWorker?: string; pin: boolean }>();
const SECONDS = Number(opts.seconds);
const ONLY = opts.only ? new Set(opts.only.split(',').map(Number)) : undefined;
const runs = (scenario: number) => !ONLY || ONLY.has(scenario);

interface Scenario {
  /** Its number in the report. */
  scenario: number;
  /** The `--only` numbers that run it: its own, and those of the scenarios it shares its measurements with. */
  selectedBy: number[];
  /** Runs it on the stack and returns its section of the report. */
  run: (stack: BenchStack) => Promise<string[]>;
}

/**
 * The scenarios in the order they run. Scenario 6 reads the memory sampled during scenario 1's load
 * runs (with `--only 6` those run for it alone, right after the stack is up); 3 and 4 are read from
 * one set of sequential tasks.
 */
const SCENARIOS: Scenario[] = [
  { scenario: 1, selectedBy: [1], run: createTaskLatency },
  { scenario: 6, selectedBy: [1, 6], run: memory },
  { scenario: 2, selectedBy: [2], run: providerIndependence },
  { scenario: 3, selectedBy: [3, 4], run: clientWaits },
  { scenario: 4, selectedBy: [3, 4], run: timeToEachStep },
  { scenario: 5, selectedBy: [5], run: provisioningThroughput },
  // 7 and 8. Provisioning against Temporal's floor, and with the real local provider (scripts/bench/provisioning.ts).
  { scenario: 7, selectedBy: [7], run: async (stack) => (await provisioningAgainstFloor(provisioningContext(stack))).lines },
  { scenario: 8, selectedBy: [8], run: async (stack) => (await localProvisioning(provisioningContext(stack))).lines },
  // 9. A warm sandbox pool (scripts/bench/warmPool.ts).
  { scenario: 9, selectedBy: [9], run: async (stack) => (await warmPoolProvisioning(warmPoolContext(stack))).lines },
];

async function main(): Promise<void> {
  const started = new Date();
  const stack = await startStack({ seconds: SECONDS, pin: opts.pin, profileWorker: opts.profileWorker });
  const sections: ReportSection[] = [];
  try {
    for (const { scenario, selectedBy, run } of SCENARIOS) {
      if (selectedBy.some(runs)) sections.push({ scenario, lines: await run(stack) });
    }
  } finally {
    await stack.stop();
  }
  writeReport(sections, { started, seconds: SECONDS, pinned: stack.layout, partial: ONLY !== undefined });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
