/**
 * Request schemas of the REST API (zod, strict: unknown fields are rejected). The `.meta()`
 * descriptions only feed the OpenAPI document (./openapi/document.ts); they change no parsing.
 */
import { z } from 'zod';

import { AGENT_IDS } from '../domain/agents';

/** Postgres text cannot hold NUL characters; refuse them as bad input rather than fail on insert. */
const noNul = (s: string) => !s.includes('\u0000');

const workspaceId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only')
  .meta({ description: 'The workspace; must be the one the bearer token is bound to.' });

/**
 * True when `b` is a valid branch name by the rules of `git check-ref-format --branch`: not `HEAD`,
 * not `@`, no leading `-`; no `..`, `@{`, control characters, space, `~ ^ : ? * [ \\`; no leading or
 * trailing `/`, no `//`; no path component that starts with `.` or ends with `.lock`; not ending in `.`.
 */
export function isValidBranchName(b: string): boolean {
  return (
    b !== 'HEAD' &&
    b !== '@' &&
    !b.startsWith('-') &&
    !b.includes('..') &&
    !b.includes('@{') &&
    !/[\x00-\x20~^:?*[\\\x7f]/.test(b) &&
    !b.startsWith('/') &&
    !b.endsWith('/') &&
    !b.endsWith('.') &&
    !b.includes('//') &&
    !b.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))
  );
}

const branchName = z
  .string()
  .min(1)
  .max(200)
  .refine(isValidBranchName, 'not a valid git branch name')
  .meta({ description: 'Explicit branch (a valid git branch name); a collision with an existing branch is an error, never a rename.' });

export const createTaskBody = z
  .object({
    workspaceId,
    /** A git repository path or URL that git can read; must not start with `-` (never read as an option). */
    repository: z
      .string()
      .trim()
      .min(1)
      .max(2048)
      .refine((r) => !r.startsWith('-'), 'must not start with "-"')
      .refine(noNul, 'must not contain NUL characters')
      .meta({ description: 'A git repository path or URL that git can read, under the configured roots; must not start with "-".' }),
    /** The task prompt; its first line names the task. */
    prompt: z
      .string()
      .min(1)
      .max(100_000)
      .refine((p) => p.trim().length > 0, 'must not be blank')
      .refine(noNul, 'must not contain NUL characters')
      .meta({ description: 'The task prompt (not blank); its first line names the task.' }),
    /** Explicit branch; a collision with an existing branch is an error, never a rename (docs/PRODUCT.md#naming). */
    branchName: branchName.optional(),
    agent: z.enum(AGENT_IDS).optional().meta({
      description:
        'Agent of the task’s sessions (docs/PRODUCT.md#agents): `claude`, `codex` or `opencode` (installed, reaching their model API through the egress proxy with the workspace’s key), `offline` (the offline development agent; no model), `amp` or `cursor` (not installed: the task fails naming the agent). Default: the service’s DEFAULT_AGENT, `claude` unless configured.',
    }),
    provider: z.string().min(1).max(50).default('local').meta({ description: 'Sandbox provider; one the worker serves (`unknown_provider` otherwise).' }),
    /** Open the task's first workbench tab at creation and send the prompt there once it is ready. */
    openSession: z.boolean().default(false).meta({ description: 'Open the task’s first workbench tab at creation and send the prompt there once it is ready.' }),
  })
  .strict();
export type CreateTaskBody = z.infer<typeof createTaskBody>;

/** A task id: a UUID in any letter case, normalized to lower case (as Postgres prints it). */
export const taskId = z
  .string()
  .uuid()
  .meta({ description: 'Task id (a UUID, any letter case).' })
  .transform((id) => id.toLowerCase());

export const taskIdParams = z.object({ id: taskId }).strict();

/** Opaque cursor: base64url of `<createdAt ISO>|<id>` of the last item of the previous page. */
export const listTasksQuery = z
  .object({
    workspaceId,
    limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Page size.' }),
    cursor: z.string().max(200).optional().meta({ description: 'The previous page’s `nextCursor` (opaque).' }),
    include: z.enum(['archived']).optional().meta({ description: '`archived` lists archived tasks too; without it they are hidden.' }),
  })
  .strict();

export const listEventsQuery = z
  .object({
    /** Return events with seq greater than this (0 = from the start). */
    after: z.coerce.number().int().min(0).default(0).meta({ description: 'Return events with seq greater than this (0 = from the start).' }),
    limit: z.coerce.number().int().min(1).max(500).default(100).meta({ description: 'Page size.' }),
  })
  .strict();

export const listLogsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0).meta({ description: 'Return lines with seq greater than this (0 = from the oldest kept).' }),
    limit: z.coerce.number().int().min(1).max(1000).default(500).meta({ description: 'Page size.' }),
  })
  .strict();

/** A tab id: `session-<uuid>` (lower case). */
export const sessionParams = z
  .object({
    id: taskId,
    sessionId: z
      .string()
      .regex(/^session-[0-9a-fA-F-]{36}$/, 'expected session-<uuid>')
      .meta({ description: 'Tab id `session-<uuid>`.' })
      .transform((s) => s.toLowerCase()),
  })
  .strict();

export const createSessionBody = z
  .object({
    /** Agent of the tab; default the task's agent. */
    agent: z.enum(AGENT_IDS).optional().meta({ description: 'Agent of the tab; default the task’s agent.' }),
    model: z.string().min(1).max(100).refine(noNul, 'must not contain NUL characters').optional().meta({ description: 'Model the agent should use.' }),
  })
  .strict();

export const messageBody = z
  .object({
    text: z
      .string()
      .min(1)
      .max(100_000)
      .refine((t) => t.trim().length > 0, 'must not be blank')
      .refine(noNul, 'must not contain NUL characters')
      .meta({ description: 'The message (not blank).' }),
  })
  .strict();

export const draftBody = z
  .object({ draft: z.string().max(100_000).refine(noNul, 'must not contain NUL characters').meta({ description: 'The unsent text of the composer (may be empty).' }) })
  .strict();

export const transcriptQuery = z
  .object({
    /** Return entries with index greater than this (0 = from the start). */
    after: z.coerce.number().int().min(0).default(0).meta({ description: 'Return entries with index greater than this (0 = from the start).' }),
    limit: z.coerce.number().int().min(1).max(500).default(100).meta({ description: 'Page size.' }),
  })
  .strict();

/** `Idempotency-Key` header: 1..255 visible ASCII characters. */
export const idempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'visible ASCII characters only')
  .optional();
