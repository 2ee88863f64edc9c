/**
 * The typed client against the real stack (REST, Postgres, Temporal, the real local provider, Socket.IO):
 * a watched task ends `running` with every step timed and every event once, also when the socket is
 * cut mid-provisioning.
 */
import path from 'node:path';
import { createRealtimeClient, createTaskServiceClient, PROVISION_STEPS, type RealtimeClient, type TaskServiceClient, type TaskView } from '../../client';
import { tokenFor } from '../../src/dev/stack/auth';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { getJson, startServices, type TestServices } from '../../src/dev/stack/services';

const WORKSPACE = 'ws-client';

describe('the typed client on the real stack', () => {
  let services: TestServices;
  let repo: string;
  // Swapped per test: gatedProvider reads the gate at call time.
  const gates: { createSandbox?: Gate; ensureAgent?: Gate } = {};
  const allGates: Gate[] = [];
  const gate = () => {
    const g = new Gate();
    allGates.push(g);
    return g;
  };
  let rest: TaskServiceClient;
  let live: RealtimeClient;

  beforeAll(async () => {
    services = await startServices({ wrapProvider: (local) => gatedProvider(local, gates) });
    repo = await createTestRepo(path.join(services.repoRoot, `repo-client-${Date.now()}`));
    rest = createTaskServiceClient({ baseUrl: services.baseUrl, token: tokenFor(WORKSPACE) });
  });

  beforeEach(() => {
    live = createRealtimeClient({
      baseUrl: services.baseUrl,
      token: tokenFor(WORKSPACE),
      socket: { transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 500 },
    });
  });

  afterEach(() => live.close());

  afterAll(async () => {
    for (const g of allGates) g.open(); // a failed test must not leave a run held (the worker would not stop)
    await services?.stop();
  });

  async function createTask(prompt: string): Promise<string> {
    const { data, error, response } = await rest.POST('/v1/tasks', { body: { workspaceId: WORKSPACE, repository: repo, prompt } });
    expect(error).toBeUndefined();
    expect(response.status).toBe(201);
    return data!.id;
  }

  /** The view is final: running, and every event up to the record's lastEventSeq applied. */
  const settled = (v: TaskView) => (v.task?.status === 'running' || v.task?.status === 'error') && v.lastSeq === v.task.lastEventSeq && !v.gap;

  async function expectCompleteHistory(taskId: string, view: TaskView): Promise<void> {
    expect(view.task?.status).toBe('running');
    const history = await getJson(`${services.baseUrl}/v1/tasks/${taskId}/events?limit=500`);
    const rows = history.body.items as Array<{ seq: number; type: string }>;
    expect(rows.length).toBe(view.task!.lastEventSeq);
    expect(view.events.map((e) => e.seq)).toEqual(rows.map((_, i) => i + 1)); // 1..N, each once, in order
    expect(view.events.map((e) => e.type)).toEqual(rows.map((r) => r.type));
    expect(view.steps.map((s) => s.step)).toEqual([...PROVISION_STEPS]);
    for (const s of view.steps) {
      expect(s).toMatchObject({ state: 'completed', attempt: 1 });
      expect(s.startedAt).toEqual(expect.any(String));
      expect(s.endedAt).toEqual(expect.any(String));
      expect(s.durationMs).toBeGreaterThanOrEqual(0);
    }
  }

  it('follows a task from provisioning to running: snapshot, every event once, every step timed', async () => {
    gates.createSandbox = gate();
    const taskId = await createTask('Watch me\nfrom the typed client');
    await gates.createSandbox.entered;

    const watch = live.watchTask(taskId);
    const seen: number[] = [];
    watch.subscribe((v) => seen.push(v.lastSeq));
    const held = await watch.until((v) => v.task !== null);
    expect(held.task?.status).toBe('init_create_sandbox');
    expect(held.steps.find((s) => s.step === 'init_create_sandbox')?.state).toBe('running');
    expect(held.steps.find((s) => s.step === 'init_ensure_name')?.state).toBe('completed');

    gates.createSandbox.open();
    const final = await watch.until(settled);
    await expectCompleteHistory(taskId, final);
    expect(seen).toEqual([...seen].sort((a, b) => a - b)); // the view never went back
    expect(watch.error).toBeNull();
    watch.close();
  });

  it('a watch opened on a connected client subscribes at once: the first subscribe is acknowledged, no error ever set', async () => {
    await new Promise<void>((resolve) => (live.socket.connected ? resolve() : live.socket.once('connect', () => resolve())));
    const taskId = await createTask('Watch me at once');
    const watch = live.watchTask(taskId);
    const errors: string[] = [];
    watch.subscribe(() => void (watch.error && errors.push(watch.error.code)));
    await watch.until(() => watch.stats.subscribes > 0, 10_000); // `until` is checked after every ack too
    expect(watch.stats.subscribes).toBe(1);
    expect(watch.error).toBeNull();
    await watch.until(settled);
    expect(errors).toEqual([]);
    watch.close();
  });

  it('ends with every event once, in order, when the socket is cut and restored mid-provisioning', async () => {
    gates.createSandbox = gate();
    gates.ensureAgent = gate();
    const taskId = await createTask('Survive a reconnect');
    await gates.createSandbox.entered;
    const watch = live.watchTask(taskId);
    await watch.until((v) => v.task !== null && watch.stats.subscribes === 1);
    const before = watch.getView().lastSeq;
    const replayedBefore = watch.stats.replayed;

    // Cut the connection; while it is down the sandbox step completes and the agent step starts.
    live.socket.disconnect();
    gates.createSandbox.open();
    await gates.ensureAgent.entered;
    await new Promise((r) => setTimeout(r, 300)); // let the step's events be written and relayed (to nobody)
    expect(watch.getView().lastSeq).toBe(before);

    live.socket.connect();
    await watch.until((v) => watch.stats.subscribes === 2 && v.lastSeq > before);
    expect(watch.stats.replayed - replayedBefore).toBeGreaterThanOrEqual(2); // sandbox completed, agent started: missed, then replayed
    gates.ensureAgent.open();

    // And once more through socket.io-client's own reconnect: the engine closes under the socket.
    live.socket.io.engine.close();
    const final = await watch.until(settled);
    await expectCompleteHistory(taskId, final);
    watch.close();
  });

  it('keeps the workspace task list current', async () => {
    gates.createSandbox = undefined;
    gates.ensureAgent = undefined;
    const list = live.watchWorkspace(WORKSPACE);
    await watch(list);
    const taskId = await createTask('Listed live');
    const v = await list.until((w) => w.tasks.some((t) => t.id === taskId && t.status === 'running'));
    expect(v.tasks[0].id).toBe(taskId);
    expect(v.tasks.length).toBeGreaterThanOrEqual(3);
    list.close();
  });
});

/** Resolves once the workspace watch has applied its first snapshot. */
async function watch(list: ReturnType<RealtimeClient['watchWorkspace']>): Promise<void> {
  await list.until((w) => w.tasks.length > 0 && list.stats.subscribes > 0);
}
