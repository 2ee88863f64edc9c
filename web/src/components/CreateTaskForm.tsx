/**
 * The create form: `POST /v1/tasks` with an Idempotency-Key per submission (a double click creates
 * one task), then straight to the task page on the 201, before any provisioning step has run
 * (seeds/01, Client Impact). A refused request shows the API's message on the field it names.
 */
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import type { operations } from '../../../client';
import { useConnection } from '../connection';
import { call, type ShownError } from '../errors';
import { agentLabel } from '../format';

type CreateTaskBody = NonNullable<operations['createTask']['requestBody']>['content']['application/json'];

/** The create body's agent values (the compiler checks them against the OpenAPI document's enum). */
const AGENTS = ['claude', 'codex', 'opencode', 'offline', 'amp', 'cursor'] as const satisfies ReadonlyArray<NonNullable<CreateTaskBody['agent']>>;

export function CreateTaskForm() {
  const { rest, workspaceId } = useConnection();
  const navigate = useNavigate();
  const [repository, setRepository] = useState('');
  const [prompt, setPrompt] = useState('');
  const [branchName, setBranchName] = useState('');
  // '' = the service's default agent (DEFAULT_AGENT): the body then names none.
  const [agent, setAgent] = useState<(typeof AGENTS)[number] | ''>('');
  const [openSession, setOpenSession] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const task = await call(
        rest.POST('/v1/tasks', {
          params: { header: { 'Idempotency-Key': crypto.randomUUID() } },
          body: { workspaceId, repository, prompt, openSession, ...(agent ? { agent } : {}), ...(branchName.trim() ? { branchName: branchName.trim() } : {}) },
        }),
      );
      void navigate(`/tasks/${task.id}`);
    } catch (err) {
      setError(err as ShownError);
      setBusy(false);
    }
  };
  const invalid = (field: string) => (error?.field === `body.${field}` ? 'invalid' : undefined);

  return (
    <section className="create">
      <h2>New task</h2>
      <form onSubmit={(e) => void submit(e)} data-testid="create-form">
        <label>
          Repository
          <input
            name="repository"
            className={invalid('repository')}
            value={repository}
            onChange={(e) => setRepository(e.target.value)}
            placeholder="/path/to/repo or git URL"
            required
          />
        </label>
        <label>
          Prompt
          <textarea
            name="prompt"
            className={invalid('prompt')}
            value={prompt}
            onChange={(e) => setPrompt(e.target.value)}
            rows={4}
            placeholder="What should the agent do? The first line names the task."
            required
          />
        </label>
        <div className="row">
          <label>
            Branch (optional)
            <input name="branchName" className={invalid('branchName')} value={branchName} onChange={(e) => setBranchName(e.target.value)} placeholder="named from the prompt" />
          </label>
          <label>
            Agent
            <select name="agent" value={agent} onChange={(e) => setAgent(e.target.value as (typeof AGENTS)[number] | '')}>
              <option value="">the service's default</option>
              {AGENTS.map((a) => (
                <option key={a} value={a}>
                  {agentLabel(a)}
                </option>
              ))}
            </select>
          </label>
        </div>
        <label className="check">
          <input name="openSession" type="checkbox" checked={openSession} onChange={(e) => setOpenSession(e.target.checked)} />
          Open a tab and send the prompt there once it is ready
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create task'}
        </button>
        {error && (
          <p className="error" role="alert" data-field={error.field}>
            {error.message}
          </p>
        )}
      </form>
    </section>
  );
}
