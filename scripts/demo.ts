/**
 * Demo: creates a task against a real repository through the running service, prints each event as
 * it arrives over Socket.IO until the task is `running` or `error`, then prints the sandbox path,
 * agent endpoint, session id and the Temporal Web UI link of the run. It uses the typed client
 * (client/): the REST client for the calls and `watchTask` for the events (snapshot, order, gaps and
 * reconnects are the client's job).
 *
 *   npm run demo -- [--api http://127.0.0.1:3000] [--repository <path or URL>] [--prompt "..."]
 *
 * Start the service first (scripts/start.sh). Exit code 0 when the task is running, 1 otherwise.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import { Command } from 'commander';
import { createRealtimeClient, createTaskServiceClient, type operations, type TaskView } from '../client';

/** The create body; `--agent` is checked by the API (400 `validation_failed` for an unknown one). */
type CreateTaskBody = operations['createTask']['requestBody']['content']['application/json'];

/**
 * The service refuses its own checkout as a repository (docs/SECURITY.md#repository-policy), so the
 * demo works on a bare copy of it beside the checkout: under the default REPOSITORY_ROOTS (the
 * checkout's parent), outside the checkout.
 */
const CHECKOUT = path.resolve(__dirname, '..');
const DEMO_REPOSITORY = path.join(path.dirname(CHECKOUT), `${path.basename(CHECKOUT)}-demo.git`);

/** Makes DEMO_REPOSITORY a bare copy of this checkout's branches, or brings it up to date. */
async function demoRepository(): Promise<string> {
  if (existsSync(DEMO_REPOSITORY)) await simpleGit({ baseDir: DEMO_REPOSITORY }).fetch(CHECKOUT, '+refs/heads/*:refs/heads/*');
  else await simpleGit().clone(CHECKOUT, DEMO_REPOSITORY, ['--bare', '--no-hardlinks']);
  return DEMO_REPOSITORY;
}

const program = new Command()
  .name('demo')
  .option('--api <url>', 'base URL of the API', process.env.API_URL ?? 'http://127.0.0.1:3000')
  .option('--repository <repo>', `git repository path or URL (default: a bare copy of this checkout at ${DEMO_REPOSITORY}, made or refreshed first)`)
  .option('--prompt <text>', 'task prompt', 'Add a /version endpoint to the API')
  .option('--workspace <id>', 'workspace id', 'demo')
  .option('--agent <id>', 'agent id', 'claude')
  .option('--token <token>', 'bearer token bound to the workspace (API_TOKENS)', process.env.API_TOKEN ?? 'dev-token-change-me')
  .option('--timeout <seconds>', 'give up after this many seconds', '300')
  .parse();
const opts = program.opts<{ api: string; repository?: string; prompt: string; workspace: string; agent: string; token: string; timeout: string }>();

const time = () => new Date().toISOString().slice(11, 23);

async function main(): Promise<number> {
  const rest = createTaskServiceClient({ baseUrl: opts.api, token: opts.token });
  const live = createRealtimeClient({ baseUrl: opts.api, token: opts.token, rest, socket: { transports: ['websocket'] } });
  try {
    const started = Date.now();
    const {
      data: created,
      error,
      response,
    } = await rest.POST('/v1/tasks', {
      body: { workspaceId: opts.workspace, repository: opts.repository ?? (await demoRepository()), prompt: opts.prompt, agent: opts.agent as CreateTaskBody['agent'] },
    });
    if (!created) throw new Error(`create answered ${response.status}: ${JSON.stringify(error)}`);
    console.log(`${time()}  created task ${created.id} in ${Date.now() - started} ms (status ${created.status}); following it over Socket.IO`);

    // The first subscribe replays the history from seq 1, so even the events before it are printed.
    const watch = live.watchTask(created.id);
    let printed = 0;
    const show = (v: TaskView) => {
      for (const e of v.events.slice(printed)) {
        const { step, status, message, detail } = e.payload as Record<string, string | undefined>;
        const what = e.type === 'task.step' ? `${step} ${status}` : e.type;
        console.log(`${time()}  #${e.seq} ${what.padEnd(32)} status=${v.task?.status}  ${message ?? detail ?? v.task?.statusMessage}`);
      }
      printed = v.events.length;
    };
    watch.subscribe(show);
    const done = (v: TaskView) => (v.task?.status === 'running' || v.task?.status === 'error') && v.lastSeq >= v.task.lastEventSeq;
    const last = await watch.until(done, Number(opts.timeout) * 1000).catch(() => {
      throw new Error(`no running/error within ${opts.timeout}s${watch.error ? ` (${watch.error.code}: ${watch.error.message})` : ''}`);
    });
    const task = last.task!;
    console.log(`\ntask ${task.id}: ${task.status} (${task.statusMessage}) after ${Date.now() - started} ms`);
    if (task.status === 'running') {
      const { data: sandbox } = await rest.GET('/v1/tasks/{id}/sandbox', { params: { path: { id: task.id } } });
      console.log(`  branch           ${task.branchName}`);
      console.log(`  sandbox path     ${sandbox?.directory}`);
      console.log(`  agent endpoint   ${sandbox?.agentEndpoint}`);
      console.log(`  session id       ${sandbox?.sessionId}`);
    }
    console.log(`  Temporal Web UI  ${created.temporalUiUrl}`);
    return task.status === 'running' ? 0 : 1;
  } finally {
    live.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
