/**
 * Harness of the workflow tests: the real workflow code (the run's prebuilt bundle) on the run's real
 * Temporal dev server, with in-memory activity stubs instead of Postgres, sandboxes and agents. Each
 * test gets its own worker on its own task queue; the stubs record every call, in order, so a test
 * asserts what the workflow asked for and in which order, never how long anything took.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { readStack } from '../../src/dev/stack/stackFile';
import { workflowTracingSinks } from '../../src/worker/tracing';

/** One activity call as a stub saw it. */
export interface StubCall {
  /** Activity name, or a stub's own marker (e.g. `createSandbox:cancelled`). */
  name: string;
  input: any;
  workflowId: string;
  runId: string;
}

/** The calls the stubs of one test saw, in the order they were made; tests wait on them. */
export class StubCalls {
  readonly all: StubCall[] = [];
  private waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  /** Records a call made from inside an activity (the workflow run is the activity's). */
  record(name: string, input: unknown): void {
    const { workflowExecution } = Context.current().info;
    this.all.push({ name, input, workflowId: workflowExecution?.workflowId ?? '', runId: workflowExecution?.runId ?? '' });
    this.waiters = this.waiters.filter((w) => (w.ready() ? (w.resolve(), false) : true));
  }

  /** Calls named `name`, in order. */
  of(name: string): StubCall[] {
    return this.all.filter((c) => c.name === name);
  }

  /** Names of every call, in order. */
  names(): string[] {
    return this.all.map((c) => c.name);
  }

  /** Resolves with the `count`-th call (1-based) matching `pred`, once it was made (at once if it was). */
  async waitFor(pred: (c: StubCall) => boolean, count = 1): Promise<StubCall> {
    const matching = () => this.all.filter(pred);
    if (matching().length < count) await new Promise<void>((resolve) => this.waiters.push({ ready: () => matching().length >= count, resolve }));
    return matching()[count - 1]!;
  }
}

/** Installs the Temporal runtime once per test process (another suite may have done it). */
export function installRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger((process.env.TEST_TEMPORAL_LOG_LEVEL ?? 'ERROR') as 'ERROR') });
  } catch {
    // already installed by another suite in this process
  }
}

/**
 * Placement stubs every test gets unless it brings its own: every sandbox lives on a "host" whose task
 * queue is the test's own, so the sandbox activities reach the same stubs. They record nothing: what
 * the tests assert is the workflow's order of provider calls (routing is asserted by
 * test/hosts/multiHost.test.ts on real hosts).
 */
const sameQueuePlacement = {
  async placeSandbox({ taskId }: { taskId: string }) {
    return { sandboxId: `sandbox-of-${taskId}`, hostId: 'stub-host', taskQueue: Context.current().info.taskQueue };
  },
  async tryPlaceSandbox({ taskId }: { taskId: string }) {
    return { sandboxId: `sandbox-of-${taskId}`, hostId: 'stub-host', taskQueue: Context.current().info.taskQueue };
  },
  async locateSandbox({ sandboxId }: { sandboxId: string }) {
    return { sandboxId, hostId: 'stub-host', taskQueue: Context.current().info.taskQueue };
  },
};

/**
 * Runs `body` while a worker with `activities` (the stubs) serves a new task queue on the run's
 * Temporal server; stops the worker and closes the connections afterwards.
 * Heartbeats are sent at least every 100 ms (not throttled to 80 % of the heartbeat timeout), so a
 * stub that heartbeats learns of a cancellation at once.
 * @returns what `body` returns; rejects with what it throws.
 */
export async function withStubWorker<T>(activities: object, body: (env: { client: Client; taskQueue: string }) => Promise<T>): Promise<T> {
  const stack = readStack();
  const connection = await NativeConnection.connect({ address: stack.temporalAddress });
  const clientConnection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: stack.namespace });
  const taskQueue = `workflow-test-${randomUUID()}`;
  try {
    const worker = await Worker.create({
      connection,
      namespace: stack.namespace,
      taskQueue,
      workflowBundle: { codePath: stack.workflowBundlePath },
      sinks: workflowTracingSinks(), // the bundle's tracing interceptors export through it (spans dropped here)
      activities: { ...sameQueuePlacement, ...activities },
      maxHeartbeatThrottleInterval: '100 ms',
    });
    return await worker.runUntil(body({ client, taskQueue }));
  } finally {
    await clientConnection.close();
    await connection.close();
  }
}
