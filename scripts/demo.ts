/**
 * Demo: creates a task against a real repository through the running service, prints each event as
 * it arrives over Socket.IO until the task is `running` or `error`, then prints the sandbox path,
 * agent endpoint, session id and the Temporal Web UI link of the run.
 *
 *   npm run demo -- [--api http://127.0.0.1:3000] [--repository <path or URL>] [--prompt "..."]
 *
 * Start the service first (scripts/start.sh). Exit code 0 when the task is running, 1 otherwise.
 */
import path from 'node:path';
import { Command } from 'commander';
import { io } from 'socket.io-client';
import type { TaskEventMessage, TaskRecord } from '../src/domain/records';

const program = new Command()
  .name('demo')
  .option('--api <url>', 'base URL of the API', process.env.API_URL ?? 'http://127.0.0.1:3000')
  .option('--repository <repo>', 'git repository path or URL', path.resolve(__dirname, '..'))
  .option('--prompt <text>', 'task prompt', 'Add a /version endpoint to the API')
  .option('--workspace <id>', 'workspace id', 'demo')
  .option('--agent <id>', 'agent id', 'claude')
  .option('--token <token>', 'bearer token bound to the workspace (API_TOKENS)', process.env.API_TOKEN ?? 'dev-token-change-me')
  .option('--timeout <seconds>', 'give up after this many seconds', '300')
  .parse();
const opts = program.opts<{ api: string; repository: string; prompt: string; workspace: string; agent: string; token: string; timeout: string }>();

const time = () => new Date().toISOString().slice(11, 23);

async function main(): Promise<number> {
  const socket = io(opts.api, { transports: ['websocket'], auth: { token: opts.token } });
  const auth = { authorization: `Bearer ${opts.token}` };
  const seen = new Set<number>();
  let taskId: string | undefined;
  let finish!: (m: TaskEventMessage) => void;
  const finished = new Promise<TaskEventMessage>((resolve) => (finish = resolve));
  const early: TaskEventMessage[] = [];

  const show = (m: TaskEventMessage) => {
    if (m.event.taskId !== taskId || seen.has(m.event.seq)) return;
    seen.add(m.event.seq);
    const { step, status, message, detail } = m.event.payload as Record<string, string | undefined>;
    const what = m.event.type === 'task.step' ? `${step} ${status}` : m.event.type;
    console.log(`${time()}  #${m.event.seq} ${what.padEnd(32)} status=${m.task.status}  ${message ?? detail ?? m.task.statusMessage}`);
    if (m.task.status === 'running' || m.task.status === 'error') finish(m);
  };
  socket.on('task.event', (m: TaskEventMessage) => (taskId ? show(m) : early.push(m)));

  // Join the workspace room before creating, so even the first event is pushed to us.
  const ack = await socket.timeout(5000).emitWithAck('subscribe', { workspaceId: opts.workspace });
  if (!ack.ok) throw new Error(`subscribe failed: ${JSON.stringify(ack.error)}`);

  const started = Date.now();
  const res = await fetch(`${opts.api}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ workspaceId: opts.workspace, repository: opts.repository, prompt: opts.prompt, agent: opts.agent }),
  });
  const created = (await res.json()) as TaskRecord & { temporalUiUrl: string; error?: unknown };
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${JSON.stringify(created)}`);
  taskId = created.id;
  console.log(`${time()}  created task ${created.id} in ${Date.now() - started} ms (status ${created.status}); following it over Socket.IO`);
  early.forEach(show);

  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no running/error within ${opts.timeout}s`)), Number(opts.timeout) * 1000).unref());
  const last = await Promise.race([finished, timeout]);
  socket.close();
  console.log(`\ntask ${last.task.id}: ${last.task.status} (${last.task.statusMessage}) after ${Date.now() - started} ms`);
  if (last.task.status === 'running') {
    const sandbox = (await (await fetch(`${opts.api}/v1/tasks/${last.task.id}/sandbox`, { headers: auth })).json()) as Record<string, string>;
    console.log(`  branch           ${last.task.branchName}`);
    console.log(`  sandbox path     ${sandbox.directory}`);
    console.log(`  agent endpoint   ${sandbox.agentEndpoint}`);
    console.log(`  session id       ${sandbox.sessionId}`);
  }
  console.log(`  Temporal Web UI  ${created.temporalUiUrl}`);
  return last.task.status === 'running' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
