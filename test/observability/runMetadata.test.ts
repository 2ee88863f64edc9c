/**
 * What the Temporal Web UI shows of a task's runs before their history is opened
 * (src/temporal/runMetadata.ts), read back from the real dev server: every run of a task
 * (provisioning, its tab, its kill) is listed by `TaskId = "<id>"` and by its `WorkspaceId`, and each
 * carries a one-line summary naming what it is and the task, and details naming the task's repository,
 * provider, agent and where its record is. Its provisioning run's Current Details show the step table,
 * while a step runs and once all are done, and its `TaskStatus` search attribute lists it by the step
 * it is in, then as `running`, set once per status the run rested in.
 */
import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import path from 'node:path';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';

describe('run metadata in the Temporal Web UI', () => {
  let services: TestServices;
  let repo: string;
  const workspaceId = `ws-webui-${randomUUID().slice(0, 8)}`;

  const sandboxGate = new Gate();

  beforeAll(async () => {
    services = await startServices({ wrapProvider: (local) => gatedProvider(local, { createSandbox: sandboxGate }) });
    repo = await createTestRepo(path.join(services.repoRoot, 'webui-repo'));
  });
  afterAll(async () => {
    sandboxGate.open();
    await services?.stop();
  });

  /** The run's Current Details, as the Web UI reads them (the SDK's built-in metadata query). */
  const currentDetails = async (workflowId: string): Promise<string> =>
    ((await services.temporal.workflow.getHandle(workflowId).query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';

  const url = (p: string) => `${services.baseUrl}${p}`;

  /** Workflow ids the visibility store lists for `query`, once it lists at least `atLeast` (it is eventually consistent). */
  async function listed(query: string, atLeast: number): Promise<string[]> {
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
      const ids: string[] = [];
      for await (const run of services.temporal.workflow.list({ query })) ids.push(run.workflowId);
      if (ids.length >= atLeast || Date.now() > deadline) return ids.sort();
    }
  }

  it('lists every run of a task by TaskId and WorkspaceId, each with a summary and details', async () => {
    const created = await postJson(url('/v1/tasks'), { workspaceId, repository: repo, prompt: 'Show me in the Web UI\nwith details.', openSession: true });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    // Held in init_create_sandbox: Current Details say what the run is doing now.
    await sandboxGate.entered;
    const during = await currentDetails(created.body.workflowId);
    expect(during).toContain('**init_create_sandbox**');
    expect(during).toMatch(/\| init_ensure_name \| completed \| 1 \| [\d.]+ s \|/);
    expect(during).toMatch(/\| init_create_sandbox \| running \| 1 \| /);
    expect(during).toContain('| init_ensure_agent | pending |');
    const provisionRun = `provision-task-${taskId}`;
    expect(await listed(`TaskStatus = "init_create_sandbox" AND TaskId = "${taskId}" AND ExecutionStatus = "Running"`, 1)).toEqual([provisionRun]);
    sandboxGate.open();
    await (await runOf(services.temporal, created.body.workflowId)).result();
    const after = await currentDetails(created.body.workflowId);
    expect(after).toContain('**running**: session ready');
    for (const step of ['init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session'])
      expect(after).toMatch(new RegExp(`\\| ${step} \\| completed \\| 1 \\|`));
    expect(await listed(`TaskStatus = "running" AND TaskId = "${taskId}"`, 1)).toEqual([provisionRun]);
    // One upsert per status the run rested in, in the step list's order: init_ensure_name passed within
    // the first workflow task (naming is a local activity), so it was never the run's visible status.
    const { events: provisionEvents } = await services.temporal.workflow.getHandle(provisionRun).fetchHistory();
    const statusUpserts = (provisionEvents ?? []).flatMap((e) => {
      const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TaskStatus;
      return field ? [defaultPayloadConverter.fromPayload<string>(field)] : [];
    });
    expect(statusUpserts).toEqual(['init_create_sandbox', 'init_ensure_agent', 'init_create_session', 'running']);
    expect(provisionEvents!.length).toBeLessThanOrEqual(35);
    expect((await postJson(url(`/v1/tasks/${taskId}/kill`), {})).status).toBe(202);
    await (await runOf(services.temporal, `kill-task-${taskId}`)).result();

    const byTask = await listed(`TaskId = "${taskId}"`, 4); // provisioning, tab, kill, sandbox lifecycle
    expect(byTask).toEqual(expect.arrayContaining([`provision-task-${taskId}`, `kill-task-${taskId}`]));
    const tabs = byTask.filter((id) => id.startsWith('workbench-session-'));
    expect(tabs).toHaveLength(1);
    expect(byTask.filter((id) => id.startsWith('sandbox-'))).toHaveLength(1); // the sandbox's lifecycle run
    // Every run of the task, its sandbox's lifecycle run included, is its workspace's too.
    expect(await listed(`WorkspaceId = "${workspaceId}"`, byTask.length)).toEqual(byTask);

    const describe = async (workflowId: string) => {
      const d = await services.temporal.workflow.getHandle(workflowId).describe();
      return { summary: await d.staticSummary(), details: await d.staticDetails() };
    };
    const provisioning = await describe(`provision-task-${taskId}`);
    expect(provisioning.summary).toBe('Provisioning: Show me in the Web UI');
    for (const row of [
      `| task | \`${taskId}\` |`,
      `| workspace | ${workspaceId} |`,
      `| repository | ${repo} |`,
      '| provider | local |',
      '| agent | offline |',
      `| record | \`GET /v1/tasks/${taskId}\` |`,
    ]) {
      expect(provisioning.details).toContain(row);
    }
    // The kill starts after naming: its summary has the task's title.
    const { title } = (await getJson(url(`/v1/tasks/${taskId}`))).body;
    expect((await describe(`kill-task-${taskId}`)).summary).toBe(`Kill: ${title}`);
    expect((await describe(tabs[0]!)).summary).toBe(`Tab "${created.body.firstSession.name}": Show me in the Web UI`);

    // Every activity of the tab's and the kill's runs says in the timeline what it does, to what.
    const activitySummaries = async (workflowId: string): Promise<string[]> => {
      const { events } = await services.temporal.workflow.getHandle(workflowId).fetchHistory();
      return (events ?? [])
        .filter((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
        .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : '(none)'));
    };
    const { activeSandboxId } = (await getJson(url(`/v1/tasks/${taskId}`))).body;
    const tab = await activitySummaries(tabs[0]!);
    expect(tab).not.toContain('(none)');
    expect(tab).toEqual(
      expect.arrayContaining([
        'tab: find the task’s sandbox',
        `tab: open its agent session in ${activeSandboxId}`,
        'mirror: tab ready',
        `tab: end its agent session in ${activeSandboxId}`,
      ]),
    );
    const kill = await activitySummaries(`kill-task-${taskId}`);
    expect(kill).toEqual([
      'kill: cancel the provisioning run and wait until it has closed',
      'kill: close the task’s tabs',
      'kill: record the task’s sandboxes destroyed',
      expect.stringMatching(new RegExp(`^kill: remove sandbox ${activeSandboxId} on its host \\(.+\\)$`)),
      'kill: record the task killed',
    ]);
  });
});
