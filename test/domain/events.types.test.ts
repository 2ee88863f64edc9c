/**
 * History event types end to end, as the compiler sees them: `tsc` (in the test command) compiles this
 * file, so each `@ts-expect-error` below is a check that the wrong code does NOT compile (an unused
 * one fails the type check), and the functions that read payloads show that narrowing on `type` is all
 * a reader needs, with no cast: for the server's union (src/domain/events.ts) and for the typed
 * client's, generated from the OpenAPI document (client/types.ts).
 */
import type { TaskEventOf, TaskEventRecord as ClientEvent } from '../../client';
import type { NewTaskEvent, TaskEventRecord as DomainEvent } from '../../src/domain/events';

/** The step of a `task.step` event, read through the client's types. */
function clientStep(e: ClientEvent): string | null {
  return e.type === 'task.step' ? e.payload.step : null;
}

/** The same through the domain's types; a transcript event's entry text too. */
function domainRead(e: DomainEvent): string | null {
  if (e.type === 'task.step') return e.payload.step;
  if (e.type === 'session.transcript') return e.payload.entry.text;
  return null;
}

// @ts-expect-error a `task.step` payload has no `title` (that is `task.named`'s)
const wrongField = (e: TaskEventOf<'task.step'>): string => e.payload.title;

// @ts-expect-error without narrowing, `payload` is a union: `step` is not on every member
const unnarrowed = (e: ClientEvent): string => e.payload.step;

const named: NewTaskEvent = { type: 'task.named', payload: { title: 'Fix it', branchName: 'fix-it' } };
// @ts-expect-error an appender cannot write a `task.step` payload under `task.named`
const mismatched: NewTaskEvent = { type: 'task.named', payload: { step: 'init_ensure_name', status: 'started', message: 'naming task' } };

const base = { taskId: '6f1c1e0e-3c55-4c1a-9f4e-1d2b3c4d5e6f', seq: 2, createdAt: '2026-12-07T00:00:00.000Z' };

describe('history event types', () => {
  it('narrow on `type` to the payload of that type, in the client and in the domain', () => {
    const step: ClientEvent = { ...base, type: 'task.step', payload: { step: 'init_create_sandbox', status: 'completed', message: 'sandbox ready', sandboxId: 'sb' } };
    const retry: ClientEvent = { ...base, type: 'task.retry', payload: { previousStatusMessage: 'failed' } };
    expect(clientStep(step)).toBe('init_create_sandbox');
    expect(clientStep(retry)).toBeNull();
    const entry = { index: 1, role: 'agent' as const, text: 'done', replyTo: null, delivery: null, createdAt: base.createdAt };
    expect(domainRead({ ...base, type: 'session.transcript', payload: { sessionId: 'session-1', entry } })).toBe('done');
    expect(domainRead({ ...base, ...named })).toBeNull();
  });

  it('keeps the mistakes above out of the build (they exist only for the type check)', () => {
    expect([typeof wrongField, typeof unnarrowed, mismatched.type]).toEqual(['function', 'function', 'task.named']);
  });
});
