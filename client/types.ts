/**
 * Record shapes the client hands out, taken from the generated OpenAPI types (./schema.d.ts) so a
 * frontend needs nothing from the server's source tree. They are the shapes of src/domain/records.ts
 * as the API serves them.
 */
import type { components } from './schema';

type Schemas = components['schemas'];

/** A task as `GET /v1/tasks/:id` and every `task.event` message carry it. */
export type TaskRecord = Schemas['TaskRecord'];
/** One history event; `seq` is dense per task from 1. */
export type TaskEventRecord = Schemas['TaskEventRecord'];
/** A workbench tab. */
export type SessionRecord = Schemas['SessionRecord'];
/** One transcript entry of a tab. */
export type TranscriptEntryRecord = Schemas['TranscriptEntryRecord'];
/** Timing of one provisioning step (ISO-8601 times). */
export type StepTiming = Schemas['StepTiming'];
/** A task status. */
export type TaskStatus = Schemas['TaskStatus'];
/** A provisioning step name. */
export type ProvisionStep = Schemas['ProvisionStep'];
/** Whether a workspace has a key for one model provider (`GET /v1/workspaces/{workspaceId}/credentials`); never the key. */
export type CredentialRecord = Schemas['CredentialRecord'];
/** A workspace's egress policy (`GET /v1/workspaces/{workspaceId}/egress-policy`). */
export type EgressPolicy = Schemas['EgressPolicy'];
/** The `{ error: { code, message, ... } }` body of every failed REST call. */
export type ErrorBody = Schemas['ErrorBody'];

/** The history event of type `K`, e.g. `TaskEventOf<'task.step'>`: its `payload` is that type's. */
export type TaskEventOf<K extends TaskEventRecord['type']> = Extract<TaskEventRecord, { type: K }>;
/** The payload of history events of type `K`. */
export type TaskEventPayload<K extends TaskEventRecord['type']> = TaskEventOf<K>['payload'];

/** Provisioning steps in the order the service runs them. */
export const PROVISION_STEPS = ['init_ensure_name', 'init_create_sandbox', 'init_ensure_agent', 'init_create_session'] as const satisfies readonly ProvisionStep[];
