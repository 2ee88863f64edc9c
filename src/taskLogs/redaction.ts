/**
 * What a log line may show. Every line of a task's provisioning log passes through {@link cleanLogLine}
 * before it is stored: the text may come from a sandbox (sandbox-agent's output) or a remote (git's
 * `remote:` lines), so it is treated as hostile, and no secret may reach a user through it.
 */
import { stripVTControlCharacters } from 'node:util';
import { TASK_LOG_LIMITS } from '../domain/taskLogs';

/** What a secret is replaced by. */
export const REDACTED = '***';

/**
 * Shapes of credentials that must never be shown, whatever wrote them. Each match is replaced by
 * {@link REDACTED} (the prefix that names the kind is kept where it helps reading).
 */
const SECRET_PATTERNS: Array<{ pattern: RegExp; replace: string }> = [
  // user:password@ (or token@) in any URL: https://x-access-token:ghp_…@github.com/…
  { pattern: /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, replace: `$1${REDACTED}@` },
  // user:password@host without a scheme, as git words a host it cannot reach ("unable to look up tok:…@host").
  { pattern: /(^|[\s'"(])[^\s:@/'"()]+:[^\s@/'"()]+@(?=[A-Za-z0-9[])/g, replace: `$1${REDACTED}@` },
  // Authorization headers and bearer tokens.
  { pattern: /\b(authorization\s*[:=]\s*)(?:bearer\s+|basic\s+|token\s+)?\S+/gi, replace: `$1${REDACTED}` },
  { pattern: /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, replace: `$1${REDACTED}` },
  // key=value and "key": "value" where the key names a secret.
  {
    pattern: /\b([a-z0-9_-]*(?:token|secret|password|passwd|api[_-]?key|access[_-]?key|credential)s?["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
    replace: `$1${REDACTED}`,
  },
  // Well-known token formats: GitHub, GitLab, Slack, OpenAI / Anthropic style keys, AWS access keys, JWTs.
  { pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})\b/g, replace: REDACTED },
  { pattern: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g, replace: REDACTED },
  { pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replace: REDACTED },
  { pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, replace: REDACTED },
];

/** Secrets shorter than this are not searched for verbatim (too likely to hit ordinary text). */
const MIN_KNOWN_SECRET_LENGTH = 8;

/**
 * `raw` as a log line may show it: terminal escape sequences and other control characters removed
 * (a tab becomes a space), every known secret value in `secrets` and every {@link SECRET_PATTERNS}
 * match replaced by `***`, surrounding blanks trimmed, cut to `TASK_LOG_LIMITS.maxLineChars`
 * characters (marked with `…`). Secrets are removed before cutting, so a cut cannot leave half of one.
 * @param secrets values known to be secret where the line was written (tokens the step handed out).
 * @returns the line, possibly empty (the caller drops empty lines).
 */
export function cleanLogLine(raw: string, secrets: readonly string[] = []): string {
  let line = stripVTControlCharacters(raw)
    .replace(/\t/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '');
  for (const secret of secrets) if (secret.length >= MIN_KNOWN_SECRET_LENGTH) line = line.split(secret).join(REDACTED);
  for (const { pattern, replace } of SECRET_PATTERNS) line = line.replace(pattern, replace);
  line = line.trim();
  const max = TASK_LOG_LIMITS.maxLineChars;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
