/**
 * Readiness of the API process: whether each dependency it needs answers right now. Served as
 * `GET /readyz` (src/api/app.ts); `GET /healthz` stays a liveness check that never looks at them.
 */
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import { TASK_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';

/** How long one dependency check may take before it counts as down, in ms. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

/** One dependency's state: `latencyMs` of the check, `error` (one sentence) when down. */
export interface DependencyCheck {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

/**
 * `GET /readyz` body: `status` "ready" when every check is ok, else "unavailable".
 * `database`: a `SELECT 1` through the API's pool; `temporal`: the frontend answers GetSystemInfo and
 * the namespace has the service's custom search attributes (src/workflows/searchAttributes.ts; without
 * them Temporal refuses every provisioning start: docs/DEPLOYMENT.md registers them);
 * `realtime`: the Postgres LISTEN connection that feeds Socket.IO is active.
 */
export interface ReadinessReport {
  status: 'ready' | 'unavailable';
  checks: { database: DependencyCheck; temporal: DependencyCheck; realtime: DependencyCheck };
}

export type ReadinessProbe = () => Promise<ReadinessReport>;

/** Builds the probe from the API's dependencies; `realtime()` tells whether the relay is listening. */
export function createReadinessProbe(deps: { prisma: PrismaClient; temporal: Client; realtime: () => { listening: boolean } }): ReadinessProbe {
  const database = () => timed(async () => void (await deps.prisma.$queryRaw`SELECT 1`), 'the database did not answer');
  const withDeadline = <T>(call: () => Promise<T>) => deps.temporal.connection.withDeadline(Date.now() + READINESS_CHECK_TIMEOUT_MS, call);
  /** Once found registered they stay so: later probes skip the lookup. */
  let attributesRegistered = false;
  const temporal = async (): Promise<DependencyCheck> => {
    const answered = await timed(async () => void (await withDeadline(() => deps.temporal.workflowService.getSystemInfo({}))), 'the Temporal frontend did not answer');
    if (!answered.ok || attributesRegistered) return answered;
    const { namespace } = deps.temporal.options;
    let missing: string[] = [];
    const listed = await timed(async () => {
      const { customAttributes } = await withDeadline(() => deps.temporal.connection.operatorService.listSearchAttributes({ namespace }));
      missing = TASK_SEARCH_ATTRIBUTES.map((a) => a.name).filter((name) => !customAttributes?.[name]);
    }, 'the Temporal frontend did not list the namespace’s search attributes');
    if (!listed.ok) return answered; // a frontend that does not list them (no operator access) is not told to be unready
    attributesRegistered = missing.length === 0;
    const latencyMs = answered.latencyMs + listed.latencyMs;
    return attributesRegistered
      ? { ok: true, latencyMs }
      : { ok: false, latencyMs, error: `the Temporal namespace ${namespace} lacks the search attributes ${missing.join(', ')}; register them as Keyword` };
  };
  const realtime = async (): Promise<DependencyCheck> =>
    deps.realtime().listening ? { ok: true, latencyMs: 0 } : { ok: false, latencyMs: 0, error: 'the realtime listener is reconnecting to the database' };
  return async () => {
    const [db, tp, rt] = await Promise.all([database(), temporal(), realtime()]);
    return { status: db.ok && tp.ok && rt.ok ? 'ready' : 'unavailable', checks: { database: db, temporal: tp, realtime: rt } };
  };
}

/** Runs `check` with the readiness time limit; any failure becomes `{ok: false, error: failure}`. */
async function timed(check: () => Promise<void>, failure: string): Promise<DependencyCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), READINESS_CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: failure };
  } finally {
    clearTimeout(timer);
  }
}
