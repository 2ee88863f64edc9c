/**
 * A Temporal frontend outage on the real stack: the worker and the API reach the run's Temporal dev
 * server through a fault proxy (../support/tcpProxy.ts) that the test cuts and restores.
 *
 * - While it is down, requests that need Temporal answer 503 `workflow_unavailable` with Retry-After,
 *   `/readyz` names Temporal, and a create still answers 201 (its run is started later).
 * - A step that finishes while Temporal is down is not lost: once it is back the task reaches
 *   `running` with one sandbox, one agent process and one session, and the client holds every event.
 */
import path from 'node:path';
import { provisionWorkflowId } from '../../src/workflows/provisionTask.contract';
import { Gate, gatedProvider } from '../../src/dev/stack/gate';
import { expectClientHasEveryEvent, expectOneOfEverything } from '../support/oneOfEverything';
import { createTestRepo } from '../../src/dev/stack/gitRepo';
import { runOf } from '../../src/dev/stack/runs';
import { getJson, postJson, startServices, type TestServices } from '../../src/dev/stack/services';
import { TaskEventClient } from '../../src/dev/stack/socketClient';
import { readStack } from '../../src/dev/stack/stackFile';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy';

const WORKSPACE = 'ws-temporal-outage';

describe('a Temporal frontend outage', () => {
  let proxy: TcpProxy;
  let services: TestServices;
  let repo: string;
  const gate = new Gate();

  beforeAll(async () => {
    const [host, port] = readStack().temporalAddress.split(':');
    proxy = await startTcpProxy({ host: host!, port: Number(port) });
    services = await startServices({ temporalAddress: `${proxy.host}:${proxy.port}`, wrapProvider: (local) => gatedProvider(local, { createSandbox: gate }) });
    repo = await createTestRepo(path.join(services.repoRoot, 'repo'));
  });
  afterAll(async () => {
    gate.open();
    await proxy?.restore();
    await services?.stop();
    await proxy?.close();
  });

  it('answers 503 workflow_unavailable meanwhile and loses no step', async () => {
    const created = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Survive a Temporal outage' });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    const client = new TaskEventClient(services.baseUrl, WORKSPACE);
    const ack = await client.subscribe({ taskId });
    const snapshot = ack.task!.lastEventSeq;
    await gate.entered;

    await proxy.cut();
    const live = await getJson(`${services.baseUrl}/v1/tasks/${taskId}/provisioning`);
    expect(live.status).toBe(503);
    expect(live.body.error.code).toBe('workflow_unavailable');
    const ready = await fetch(`${services.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await ready.json()).toMatchObject({ status: 'unavailable', checks: { database: { ok: true }, temporal: { ok: false }, realtime: { ok: true } } });
    // A create needs only Postgres: it answers at once; its run is started once Temporal answers.
    const queued = await postJson(`${services.baseUrl}/v1/tasks`, { workspaceId: WORKSPACE, repository: repo, prompt: 'Created while Temporal is down' });
    expect(queued.status).toBe(201);
    expect(queued.body.status).toBe('init_enqueue_provision');
    // The held step finishes while Temporal cannot hear of it.
    gate.open();
    await new Promise((r) => setTimeout(r, 3_000));
    await proxy.restore();

    await (await runOf(services.temporal, provisionWorkflowId(taskId), 60_000)).result();
    await client.waitFor((m) => m.event.taskId === taskId && m.task.status === 'running', 60_000);
    await expectOneOfEverything(services, taskId);
    await expectClientHasEveryEvent(services, client, taskId, snapshot);
    expect((await fetch(`${services.baseUrl}/readyz`)).status).toBe(200);
    client.close();
  });
});
