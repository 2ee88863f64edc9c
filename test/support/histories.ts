/**
 * Reading recorded workflow histories in tests: which activities a run scheduled, and which ran as
 * local activities (those leave a `core_local_activity` marker instead of scheduled/started/completed
 * events).
 */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** `[activity type, task queue]` of every activity the run scheduled, in order. */
export function scheduledActivities(events: HistoryEvent[]): Array<readonly [string, string]> {
  return events.flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a ? [[a.activityType!.name!, a.taskQueue!.name!] as const] : [];
  });
}

/** A history event as the client returns it or as a JSON history file holds it (payload data base64). */
interface MarkerEvent {
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: Record<string, { payloads?: Array<{ data?: Uint8Array | string | null }> | null }> | null;
    failure?: { message?: string | null; applicationFailureInfo?: { type?: string | null; nonRetryable?: boolean | null } | null } | null;
  } | null;
}

/** One local activity's record: its type, the attempt that resolved it and, when it failed, the failure. */
export interface LocalActivityRecord {
  type: string;
  attempt: number;
  failure?: NonNullable<NonNullable<MarkerEvent['markerRecordedEventAttributes']>['failure']>;
}

/** The run's local activities, in order, read from their `core_local_activity` markers. */
export function localActivities(events: ReadonlyArray<MarkerEvent>): LocalActivityRecord[] {
  return events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_local_activity') return [];
    const data = m.details?.data?.payloads?.[0]?.data;
    if (!data) return [];
    const parsed = JSON.parse((typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data)).toString()) as { activity_type: string; attempt: number };
    return [{ type: parsed.activity_type, attempt: parsed.attempt, ...(m.failure ? { failure: m.failure } : {}) }];
  });
}

/** Activity types of the run's local activities, in order. */
export function localActivityTypes(events: ReadonlyArray<MarkerEvent>): string[] {
  return localActivities(events).map((a) => a.type);
}
