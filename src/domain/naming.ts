/**
 * Task naming rules, docs/PRODUCT.md#naming:
 * - title = a conventional prefix chosen from keywords in the prompt (fix/bug -> `fix`,
 *   doc/readme -> `docs`, refactor -> `refactor`, otherwise `feat`) plus the first prompt line with
 *   only letters, digits, spaces and dashes kept, at most 62 characters;
 * - branch = the title lowercased, every other character turned into `-`, dashes collapsed, at most
 *   50 characters;
 * - on collision with an existing branch append `-2`, `-3`, ...; an explicitly requested branch that
 *   collides is an error.
 * Pure functions, no I/O.
 */

export const MAX_TITLE_LENGTH = 62;
export const MAX_BRANCH_LENGTH = 50;

/** Picks the conventional prefix from keywords in the prompt. */
export function titlePrefix(prompt: string): 'fix' | 'docs' | 'refactor' | 'feat' {
  const p = prompt.toLowerCase();
  if (/\b(fix|fixes|fixed|bug|bugs)\b/.test(p)) return 'fix';
  if (/\b(doc|docs|documentation|readme)\b/.test(p)) return 'docs';
  if (/\brefactor/.test(p)) return 'refactor';
  return 'feat';
}

/**
 * Derives the task title from its prompt, e.g. "Fix the login bug!\nmore" -> "fix: Fix the login bug".
 * At most {@link MAX_TITLE_LENGTH} characters, never ending in a space or dash.
 */
export function deriveTitle(prompt: string): string {
  const firstLine = prompt.split(/\r?\n/).find((l) => l.trim().length > 0) ?? '';
  const cleaned = firstLine
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
  const title = cleaned ? `${titlePrefix(prompt)}: ${cleaned}` : titlePrefix(prompt);
  return title.slice(0, MAX_TITLE_LENGTH).replace(/[\s-]+$/, '');
}

/** Derives a branch name from a title: "fix: Fix the login bug" -> "fix-fix-the-login-bug". */
export function deriveBranchName(title: string): string {
  const branch = title
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-/, '')
    .slice(0, MAX_BRANCH_LENGTH)
    .replace(/-+$/, '');
  return branch || 'task';
}

/** Thrown when an explicitly requested branch name is already taken. */
export class BranchTakenError extends Error {
  constructor(readonly branchName: string) {
    super(`branch "${branchName}" already exists or is held by another live task`);
    this.name = 'BranchTakenError';
  }
}

/**
 * Chooses the branch for a task.
 * @param base the derived branch name, or the requested one when `explicit`
 * @param taken branches that exist in the repository or are held by other live tasks
 * @param explicit true when the client asked for this branch by name
 * @throws BranchTakenError when `explicit` and `base` is taken
 * @returns `base`, or `base-2`, `base-3`, ... (kept within {@link MAX_BRANCH_LENGTH} unless explicit)
 */
export function pickBranchName(base: string, taken: ReadonlySet<string>, explicit = false): string {
  if (!taken.has(base)) return base;
  if (explicit) throw new BranchTakenError(base);
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, MAX_BRANCH_LENGTH - suffix.length).replace(/-+$/, '')}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}
