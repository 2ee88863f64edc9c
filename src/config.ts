/**
 * Process configuration, read once from environment variables and validated with zod.
 *
 * Every variable has a default that works on a developer machine with the local Postgres and the
 * Temporal dev server started by `scripts/start.sh`.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_CONFINEMENT, type ConfinementPolicy } from './confinement/policy';
import { AGENT_IDS, DEFAULT_AGENT, type AgentId, type ModelProvider } from './domain/agents';
import { validHostPattern } from './domain/hostPattern';
import type { RepositoryPolicy } from './repositories/policy';

/** The service's own checkout (this file is `<checkout>/src/config.ts`). */
export const SERVICE_CHECKOUT = path.resolve(__dirname, '..');

const schema = z.object({
  /** Postgres connection string; the database is created by the start script when missing. */
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/task_service'),
  /** host:port of the Temporal frontend (gRPC). */
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the worker polls and the API starts `provisionTask` on. */
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('provision-task'),
  /** Base URL of the Temporal Web UI, used to build links to a run. */
  TEMPORAL_UI_URL: z.string().url().default('http://localhost:8233'),
  /** HTTP port of the REST API and Socket.IO. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Address the API binds (docs/DEPLOYMENT.md#api-processes-and-the-load-balancer). */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** The worker's `GET /metrics` port on HOST (docs/OBSERVABILITY.md); 0 = not served. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Port on HOST of the Temporal SDK's own Prometheus exporter in the worker (its runtime's metrics); 0 = off. */
  TEMPORAL_SDK_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /**
   * Base URL of an OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`): traces of the API and the worker
   * are exported to `<url>/v1/traces` (docs/OBSERVABILITY.md#traces). Unset: no tracing at all.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** Seconds between two recovery sweeps of the orchestration worker: unstarted tasks older than this are started, lost hosts looked for, warm pools woken until they answer. */
  RECOVERY_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3_600).default(30),
  /**
   * Directory under which the local provider makes one sandbox directory per task. By default outside
   * the service's checkout (docs/SECURITY.md#host-trust); it and its parents must be searchable by
   * SANDBOX_HOST_UID.
   */
  SANDBOX_ROOT: z.string().min(1).default('/var/lib/task-provisioning/sandboxes'),
  /** Bearer tokens, each bound to a workspace: "<token>=<workspaceId>,…" (required by the API). */
  API_TOKENS: z.string().min(1).optional(),
  /** Colon-separated absolute directories local repositories must be under (default: the parent of this checkout). */
  REPOSITORY_ROOTS: z.string().min(1).optional(),
  /**
   * `1` also admits `git://` repositories (git's unauthenticated daemon protocol). Off by default: the
   * worker would connect to any host and port a task names (docs/SECURITY.md#repository-policy).
   */
  REPOSITORY_ALLOW_GIT_PROTOCOL: z.enum(['0', '1']).default('0'),
  /** `1` offers the benchmark-only `instant` and `slow` providers (src/providers/instant) and the floor endpoint (src/api/routes/bench.ts). Never in production. */
  ENABLE_BENCHMARK_PROVIDERS: z.enum(['0', '1']).default('0'),
  /** How long each step of the `instant` provider takes, in ms. */
  INSTANT_PROVIDER_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  /** How long each step of the benchmark-only `slow` provider takes, in ms. */
  SLOW_PROVIDER_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `bwrap` (default): local sandboxes run confined (docs/SECURITY.md). `none`: UNSAFE, development only. */
  SANDBOX_ISOLATION: z.enum(['bwrap', 'none']).default(DEFAULT_CONFINEMENT.isolation),
  /** `allow` (default): sandboxes may connect to the outside world; `deny`: no outbound connection at all. */
  SANDBOX_OUTBOUND: z.enum(['allow', 'deny']).default(DEFAULT_CONFINEMENT.outbound),
  /** Memory of one sandbox's processes together, MiB. */
  SANDBOX_MEMORY_MB: z.coerce.number().int().min(64).max(1_048_576).default(DEFAULT_CONFINEMENT.limits.memoryMb),
  /** Processes and threads of one sandbox together. */
  SANDBOX_PIDS_MAX: z.coerce.number().int().min(16).max(1_000_000).default(DEFAULT_CONFINEMENT.limits.pidsMax),
  /** CPU of one sandbox, percent of one core. */
  SANDBOX_CPU_PERCENT: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_CONFINEMENT.limits.cpuPercent),
  /**
   * Host uid (and gid) every sandbox process runs as: not root, not the service's, and no account's
   * (docs/SECURITY.md#host-trust). Inside its sandbox it is uid 1000.
   */
  SANDBOX_HOST_UID: z.coerce.number().int().min(1).max(4_294_967_294).default(DEFAULT_CONFINEMENT.hostUid),
  /** Disk space of one sandbox (its checkout, HOME and logs together), MiB: a size-limited filesystem of its own; 0 = no limit (unsafe). */
  SANDBOX_DISK_MB: z.coerce.number().int().min(0).max(16_777_216).default(DEFAULT_CONFINEMENT.limits.diskMb),
  /**
   * Minutes without a turn after which a running task's sandbox is stopped (processes ended, memory
   * released, files kept; the next use wakes it: docs/PRODUCT.md#sandbox-lifecycle). 0 = never.
   * Fractions are allowed (0.5 = 30 s).
   */
  SANDBOX_IDLE_STOP_MINUTES: z.coerce.number().min(0).max(525_600).default(30),
  /** Seconds between two checks of every `ready` sandbox's agent (src/recovery/sandboxAgents.ts); one also runs at worker start. */
  SANDBOX_RECONCILE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Agent of a task that names none (src/domain/agents.ts); `offline` for development without model keys. */
  DEFAULT_AGENT: z.enum(AGENT_IDS).default(DEFAULT_AGENT),
  /**
   * Host directory holding the installed agents (scripts/install-agents.sh): `bin/` goes on every
   * sandbox's PATH, the whole directory is mounted read-only. Outside the checkout, like SANDBOX_ROOT:
   * it and its parents must be searchable by SANDBOX_HOST_UID (a checkout often is not).
   */
  AGENTS_DIR: z.string().min(1).default('/var/lib/task-provisioning/agents'),
  /**
   * Key that seals the workspaces' model provider keys at rest: 32 bytes, base64. Without it, keys can
   * be neither stored nor used (503 `credentials_unavailable`); the start command makes one in
   * `.data/credentials.key` on first run.
   */
  CREDENTIALS_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64')
    .optional(),
  /**
   * Where the egress proxy sends each model provider's requests: "anthropic=<origin>,openai=<origin>".
   * The only origins model requests ever go to (docs/SECURITY.md#egress).
   */
  MODEL_API_ORIGINS: z
    .string()
    .regex(/^(anthropic|openai)=https?:\/\/[^,\s/]+(,(anthropic|openai)=https?:\/\/[^,\s/]+)*$/)
    .default('anthropic=https://api.anthropic.com,openai=https://api.openai.com'),
  /** Egress policy of a workspace that has none set (docs/SECURITY.md#egress): `deny`, `allowlist` or `allow`. */
  EGRESS_DEFAULT_MODE: z.enum(['deny', 'allowlist', 'allow']).default('allowlist'),
  /** Hosts of the default `allowlist` policy: package registries and git hosts. */
  EGRESS_DEFAULT_HOSTS: z
    .string()
    .refine((v) => v.split(',').every((h) => h.trim() === '' || validHostPattern(h.trim().toLowerCase())), 'must be host names or *.suffix patterns, comma-separated')
    .default('registry.npmjs.org,pypi.org,files.pythonhosted.org,github.com,codeload.github.com,objects.githubusercontent.com'),
  /**
   * Seconds a model request through the egress proxy may take to answer (headers), and may go without
   * a byte while streaming; past it the agent gets 504 and the turn ends with a one-sentence error.
   */
  MODEL_REQUEST_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(120),
  /**
   * What this worker process does (docs/DEPLOYMENT.md), comma-separated: `orchestration` (the
   * workflows and the activities that touch only Postgres and Temporal, on TEMPORAL_TASK_QUEUE) and
   * `sandbox_host` (every activity on a sandbox it holds, on its own task queue). Both by default.
   */
  WORKER_ROLES: z
    .string()
    .regex(/^(orchestration|sandbox_host)(,(orchestration|sandbox_host))?$/, 'must be orchestration, sandbox_host or both, comma-separated')
    .default('orchestration,sandbox_host'),
  /** Stable id of this sandbox host (letters, digits, `.`, `_`, `-`); default the machine's host name. Keep it across restarts: its sandboxes are found by it. */
  SANDBOX_HOST_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit')
    .default(
      os
        .hostname()
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .replace(/^[^A-Za-z0-9]+/, '')
        .slice(0, 63) || 'sandbox-host',
    ),
  /** Most sandboxes this host holds at once (every state but destroyed and lost); placement skips a full host. */
  SANDBOX_HOST_CAPACITY: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Seconds between two heartbeats of a sandbox host; it counts as live while seen within three. */
  SANDBOX_HOST_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(3_600).default(10),
  /** Seconds a sandbox host may go unseen before its sandboxes are recorded `lost` and their tasks `error` (src/hosts/lostHosts.ts). */
  SANDBOX_HOST_LOST_AFTER: z.coerce
    .number()
    .int()
    .min(10)
    .max(30 * 86_400)
    .default(900),
  /** Comma-separated names of variables passed into sandboxes (e.g. an agent's API key); nothing else is. */
  SANDBOX_PASS_ENV: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*(,[A-Za-z_][A-Za-z0-9_]*)*$/)
    .optional(),
});

/** One sandbox host's identity and limits (src/hosts). */
export interface SandboxHostConfig {
  id: string;
  capacity: number;
  /** Seconds. */
  heartbeatSeconds: number;
  /** Seconds unseen before its sandboxes are `lost`. */
  lostAfterSeconds: number;
}

export interface AppConfig {
  /** The worker's roles (WORKER_ROLES). */
  workerRoles: { orchestration: boolean; sandboxHost: boolean };
  sandboxHost: SandboxHostConfig;
  databaseUrl: string;
  temporal: { address: string; namespace: string; taskQueue: string; uiUrl: string };
  port: number;
  /** Address the API binds (HOST), and the worker's metrics endpoints. */
  host: string;
  /** The worker's scrape ports (WORKER_METRICS_PORT, TEMPORAL_SDK_METRICS_PORT); null = not served. */
  metrics: { workerPort: number | null; temporalSdkPort: number | null };
  /** OpenTelemetry traces (src/observability/tracing.ts): the OTLP/HTTP collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT), or null = off. */
  tracing: { otlpEndpoint: string | null };
  /** The orchestration worker's recovery sweeps run every this many ms (RECOVERY_SWEEP_SECONDS). */
  recoverySweepMs: number;
  /** Absolute path. */
  sandboxRoot: string;
  /** Which repositories a task may name (src/repositories/policy.ts). */
  repositoryPolicy: RepositoryPolicy;
  /** API_TOKENS as given; the API parses it (src/api/auth.ts) and refuses to start without it. */
  apiTokens: string | undefined;
  /** The benchmark-only `instant` provider: offered or not, and its step time in ms. */
  benchmarkProviders: { enabled: boolean; delayMs: number; slowDelayMs: number };
  logLevel: string;
  /** How local sandboxes are confined (src/confinement/policy.ts). */
  confinement: ConfinementPolicy;
  /** Sandbox lifecycle (docs/PRODUCT.md#sandbox-lifecycle): idle stop after `idleStopMs` (0 = never); agent checks every `reconcileIntervalMs`. */
  sandboxLifecycle: { idleStopMs: number; reconcileIntervalMs: number };
  /** Agents (src/domain/agents.ts): the default one (their host directory is `confinement.agentsDir`). */
  agents: { defaultAgent: AgentId };
  /** Sealing key of the workspaces' model provider keys (32 bytes), or null when not configured. */
  credentialsKey: Buffer | null;
  /** The egress proxy (src/egress): model API origins, the default policy, the model request timeout in ms. */
  egress: {
    modelOrigins: Record<ModelProvider, string>;
    defaultPolicy: { mode: 'deny' | 'allowlist' | 'allow'; hosts: string[] };
    modelTimeoutMs: number;
  };
}

/**
 * Reads and validates the configuration.
 * @throws Error listing every invalid variable, so a bad deployment fails at start, not mid-request.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${detail}`);
  }
  const c = parsed.data;
  const roles = c.WORKER_ROLES.split(',');
  return {
    workerRoles: { orchestration: roles.includes('orchestration'), sandboxHost: roles.includes('sandbox_host') },
    sandboxHost: {
      id: c.SANDBOX_HOST_ID,
      capacity: c.SANDBOX_HOST_CAPACITY,
      heartbeatSeconds: c.SANDBOX_HOST_HEARTBEAT_SECONDS,
      lostAfterSeconds: c.SANDBOX_HOST_LOST_AFTER,
    },
    databaseUrl: c.DATABASE_URL,
    temporal: {
      address: c.TEMPORAL_ADDRESS,
      namespace: c.TEMPORAL_NAMESPACE,
      taskQueue: c.TEMPORAL_TASK_QUEUE,
      uiUrl: c.TEMPORAL_UI_URL.replace(/\/$/, ''),
    },
    port: c.PORT,
    host: c.HOST,
    metrics: { workerPort: c.WORKER_METRICS_PORT || null, temporalSdkPort: c.TEMPORAL_SDK_METRICS_PORT || null },
    tracing: { otlpEndpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/$/, '') ?? null },
    recoverySweepMs: c.RECOVERY_SWEEP_SECONDS * 1_000,
    sandboxRoot: path.resolve(c.SANDBOX_ROOT),
    apiTokens: c.API_TOKENS,
    benchmarkProviders: { enabled: c.ENABLE_BENCHMARK_PROVIDERS === '1', delayMs: c.INSTANT_PROVIDER_DELAY_MS, slowDelayMs: c.SLOW_PROVIDER_DELAY_MS },
    repositoryPolicy: {
      roots: (c.REPOSITORY_ROOTS ?? path.dirname(SERVICE_CHECKOUT))
        .split(':')
        .filter(Boolean)
        .map((r) => path.resolve(r)),
      // Refused whatever the roots say: every sandbox, and the service's own checkout (its .data/ holds
      // the embedded Postgres and the Temporal dev server's data).
      protectedPaths: [path.resolve(c.SANDBOX_ROOT), SERVICE_CHECKOUT],
      allowGitProtocol: c.REPOSITORY_ALLOW_GIT_PROTOCOL === '1',
    },
    logLevel: c.LOG_LEVEL,
    confinement: {
      isolation: c.SANDBOX_ISOLATION,
      outbound: c.SANDBOX_OUTBOUND,
      limits: { memoryMb: c.SANDBOX_MEMORY_MB, pidsMax: c.SANDBOX_PIDS_MAX, cpuPercent: c.SANDBOX_CPU_PERCENT, diskMb: c.SANDBOX_DISK_MB },
      hostUid: c.SANDBOX_HOST_UID,
      passEnv: c.SANDBOX_PASS_ENV ? c.SANDBOX_PASS_ENV.split(',') : [],
      agentsDir: path.resolve(c.AGENTS_DIR),
    },
    sandboxLifecycle: { idleStopMs: Math.round(c.SANDBOX_IDLE_STOP_MINUTES * 60_000), reconcileIntervalMs: c.SANDBOX_RECONCILE_SECONDS * 1_000 },
    agents: { defaultAgent: c.DEFAULT_AGENT },
    credentialsKey: c.CREDENTIALS_ENCRYPTION_KEY ? Buffer.from(c.CREDENTIALS_ENCRYPTION_KEY, 'base64') : null,
    egress: {
      modelOrigins: Object.fromEntries(c.MODEL_API_ORIGINS.split(',').map((pair) => pair.split('=') as [ModelProvider, string])) as Record<ModelProvider, string>,
      defaultPolicy: {
        mode: c.EGRESS_DEFAULT_MODE,
        hosts: c.EGRESS_DEFAULT_HOSTS.split(',')
          .map((h) => h.trim().toLowerCase())
          .filter(Boolean),
      },
      modelTimeoutMs: c.MODEL_REQUEST_TIMEOUT_SECONDS * 1_000,
    },
  };
}
