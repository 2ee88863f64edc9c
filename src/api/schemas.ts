/**
 * Request schemas of the REST API (zod, strict: unknown fields are rejected).
 */
import { z } from 'zod';

/** Agent ids sandbox-agent knows (reference/sandbox-agent.md: GET /v1/agents). Default `claude` (domain.md). */
export const AGENT_IDS = ['claude', 'codex', 'opencode', 'amp', 'pi', 'cursor'] as const;

const workspaceId = z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only');

/**
 * A git branch name per `git check-ref-format --branch` rules (subset that matters here): no leading
 * dash or dot, no `..`, no control characters, spaces, `~ ^ : ? * [ \`, no `@{`, not ending in `/`,
 * `.` or `.lock`.
 */
const branchName = z
  .string()
  .min(1)
  .max(200)
  .refine(
    (b) =>
      !/^[-.]/.test(b) &&
      !b.includes('..') &&
      !b.includes('@{') &&
      !/[\x00-\x20~^:?*[\\\x7f]/.test(b) &&
      !/(\/|\.|\.lock)$/.test(b) &&
      !b.includes('//') &&
      !b.split('/').some((part) => part.startsWith('.')),
    'not a valid git branch name',
  );

export const createTaskBody = z
  .object({
    workspaceId,
    /** A git repository path or URL that git can read; must not start with `-` (never read as an option). */
    repository: z.string().trim().min(1).max(2048).refine((r) => !r.startsWith('-'), 'must not start with "-"'),
    /** The task prompt; its first line names the task. */
    prompt: z.string().min(1).max(100_000).refine((p) => p.trim().length > 0, 'must not be blank'),
    /** Explicit branch; a collision with an existing branch is an error (domain.md). */
    branchName: branchName.optional(),
    agent: z.enum(AGENT_IDS).default('claude'),
    provider: z.string().min(1).max(50).default('local'),
  })
  .strict();
export type CreateTaskBody = z.infer<typeof createTaskBody>;

export const taskIdParams = z.object({ id: z.string().uuid() }).strict();

/** Opaque cursor: base64url of `<createdAt ISO>|<id>` of the last item of the previous page. */
export const listTasksQuery = z
  .object({
    workspaceId,
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const listEventsQuery = z
  .object({
    /** Return events with seq greater than this (0 = from the start). */
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
