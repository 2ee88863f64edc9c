/**
 * Replays histories recorded from real runs (test/fixtures/histories, written by
 * `npm run record-histories`) against the current workflow code: a change that would break runs
 * already in flight fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { readStack } from '../support/stackFile';

const DIR = path.join(__dirname, '../fixtures/histories');

interface HistoryJson {
  events: Array<{ eventType: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } }; activityTaskStartedEventAttributes?: { attempt: number } }>;
}

const load = (name: string): HistoryJson => JSON.parse(readFileSync(path.join(DIR, `${name}.json`), 'utf8'));
const activities = (h: HistoryJson) => h.events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
const lastType = (h: HistoryJson) => h.events[h.events.length - 1]!.eventType;

describe('replay of recorded provisionTask histories', () => {
  const options = () => ({ workflowBundle: { codePath: readStack().workflowBundlePath } });

  beforeAll(() => {
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR') });
    } catch {
      // already installed by another suite in this process
    }
  });

  it('has fixtures for every recorded path, each a real run of that path', () => {
    const names = readdirSync(DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
    expect(names).toEqual(['error-branch-taken', 'error-repository-not-found', 'running', 'running-after-agent-retry']);
    const steps = ['ensureName', 'createSandbox', 'ensureAgent', 'createSession'];
    expect(activities(load('running')).filter((a) => a !== 'recordTransition')).toEqual(steps);
    expect(lastType(load('running'))).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const retried = load('running-after-agent-retry');
    expect(retried.events.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toBe(true);
    expect(lastType(retried)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    for (const failed of ['error-branch-taken', 'error-repository-not-found']) {
      expect(activities(load(failed)).filter((a) => a !== 'recordTransition')).toEqual(['ensureName']);
      expect(lastType(load(failed))).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
    }
  });

  it('replays every fixture with no error', async () => {
    const names = readdirSync(DIR).filter((f) => f.endsWith('.json'));
    const histories = names.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) }));
    const results: Array<{ workflowId: string; error?: unknown }> = [];
    for await (const result of Worker.runReplayHistories(options(), histories)) results.push({ workflowId: result.workflowId, error: result.error });
    expect(results.map((r) => r.workflowId).sort()).toEqual(names.map((f) => f.replace(/\.json$/, '')).sort());
    for (const r of results) expect({ workflowId: r.workflowId, error: r.error }).toEqual({ workflowId: r.workflowId, error: undefined });
  });

  it('detects a history the code would not produce (the check has teeth)', async () => {
    const history = load('running');
    const scheduled = history.events.find((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'ensureName')!;
    scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'createSandbox';
    await expect(Worker.runReplayHistory(options(), history, 'tampered')).rejects.toThrow(DeterminismViolationError);
  });
});
