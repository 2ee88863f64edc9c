/**
 * What a failed `git ls-remote` / `git clone` means for provisioning: the repository is not there,
 * we may not read it, or the remote could not be reached right now (worth a retry). Pure: no I/O.
 */

/**
 * `not_found`, `auth` and `disk_full` (the clone does not fit in the sandbox's disk, SANDBOX_DISK_MB)
 * are final (no retry fixes them); `transient` is retried with backoff.
 */
export type GitFailureKind = 'not_found' | 'auth' | 'disk_full' | 'transient';

export interface GitFailure {
  kind: GitFailureKind;
  /** A short phrase for people (`connection refused`, `not found`, ...), never a path or a stack trace. */
  reason: string;
}

type Rule = readonly [pattern: RegExp, kind: GitFailureKind, reason: string | ((m: RegExpExecArray) => string)];

/**
 * Checked in order; the first match wins. Final rules come first: when git says both "repository not
 * found" and "the remote end hung up", the hang-up is the consequence, not the cause.
 */
const RULES: readonly Rule[] = [
  // -- not found (final)
  [/does not appear to be a git repository/i, 'not_found', 'not found'],
  [/access denied or repository not exported/i, 'not_found', 'not found or not exported'],
  [/no such repository/i, 'not_found', 'not found'],
  [/repository (?:'[^'\n]*' )?not found/i, 'not_found', 'not found'],
  [/project you were looking for could not be found/i, 'not_found', 'not found'],
  [/returned error: (404|410)\b/i, 'not_found', (m) => `not found (HTTP ${m[1]})`],
  // -- authentication (final)
  [/authentication failed/i, 'auth', 'authentication failed'],
  [/could not read (?:username|password)|terminal prompts disabled/i, 'auth', 'authentication required'],
  [/returned error: (401|403|407)\b/i, 'auth', (m) => `access denied (HTTP ${m[1]})`],
  [/permission denied \(/i, 'auth', 'authentication failed (ssh key refused)'],
  [/host key verification failed/i, 'auth', 'ssh host key verification failed'],
  // -- the sandbox's disk is full (final: the same clone does not fit next time either)
  [/no space left on device|disk quota exceeded/i, 'disk_full', "the sandbox's disk is full"],
  // -- transient (retried)
  [/timed out|timeout|block timeout reached/i, 'transient', 'timed out'],
  [/connection refused/i, 'transient', 'connection refused'],
  [
    /could not resolve host|unable to look up|name or service not known|temporary failure in name resolution|nodename nor servname/i,
    'transient',
    'host name could not be resolved',
  ],
  [/network is unreachable|no route to host|host is unreachable/i, 'transient', 'network unreachable'],
  [/couldn't connect to server|failed to connect to|unable to connect to/i, 'transient', 'could not connect'],
  [/returned error: (5\d\d|429)\b/i, 'transient', (m) => `server error (HTTP ${m[1]})`],
  [
    /connection reset|broken pipe|early eof|remote end hung up unexpectedly|unexpected disconnect|empty reply from server|rpc failed|recv failure|send failure|connection closed|ssl_error_syscall|tls connection was non-properly terminated/i,
    'transient',
    'connection lost',
  ],
];

/**
 * Classifies a failed git call from its stderr (or the error message carrying it).
 *
 * Patterns (case-insensitive), first match wins:
 *
 * | pattern in git's output                                              | kind        | reason                    |
 * | -------------------------------------------------------------------- | ----------- | ------------------------- |
 * | `does not appear to be a git repository` (local path, ssh path)      | `not_found` | not found                 |
 * | `access denied or repository not exported` (git daemon)              | `not_found` | not found or not exported |
 * | `no such repository` (git daemon --informative-errors)               | `not_found` | not found                 |
 * | `repository 'URL' not found`, `Repository not found` (HTTP 404, ssh) | `not_found` | not found                 |
 * | `The project you were looking for could not be found` (GitLab)       | `not_found` | not found                 |
 * | `returned error: 404` / `410`                                        | `not_found` | not found (HTTP 404)      |
 * | `Authentication failed`                                              | `auth`      | authentication failed     |
 * | `could not read Username/Password`, `terminal prompts disabled`      | `auth`      | authentication required   |
 * | `returned error: 401` / `403` / `407`                                | `auth`      | access denied (HTTP 403)  |
 * | `Permission denied (publickey…)` (ssh)                               | `auth`      | authentication failed     |
 * | `Host key verification failed` (ssh)                                 | `auth`      | ssh host key verification failed |
 * | `timed out`, `timeout`, simple-git's `block timeout reached`         | `transient` | timed out                 |
 * | `Connection refused`                                                 | `transient` | connection refused        |
 * | `Could not resolve host(name)`, `unable to look up`, `Name or service not known`, `Temporary failure in name resolution` | `transient` | host name could not be resolved |
 * | `Network is unreachable`, `No route to host`                         | `transient` | network unreachable       |
 * | `Couldn't connect to server`, `Failed to connect to`, `unable to connect to` | `transient` | could not connect |
 * | `No space left on device`, `Disk quota exceeded`                     | `disk_full` | the sandbox's disk is full |
 * | `returned error: 5xx` / `429`                                        | `transient` | server error (HTTP 502)   |
 * | `Connection reset`, `early EOF`, `the remote end hung up unexpectedly`, `unexpected disconnect`, `Empty reply from server`, `RPC failed`, `Recv/Send failure`, TLS cut off | `transient` | connection lost |
 * | anything else                                                        | `transient` | git's last `fatal:` line  |
 *
 * Anything else is `transient`: every step's attempts are bounded (5 for naming, 3 for the sandbox),
 * so a permanent failure git words in a way not listed here still ends the task in `error`, a few
 * seconds later; treating an unlisted network failure as final would instead fail a task a retry
 * would have saved. The trailing "Please make sure you have the correct access rights and the
 * repository exists." that git prints after any ssh failure is not a signal either way.
 *
 * @param text git's stderr, or an error message that contains it; may span lines.
 */
export function classifyGitFailure(text: string): GitFailure {
  for (const [pattern, kind, reason] of RULES) {
    const m = pattern.exec(text);
    if (m) return { kind, reason: typeof reason === 'string' ? reason : reason(m) };
  }
  return { kind: 'transient', reason: summarize(text) };
}

/** git's most telling line (the last `fatal:`/`error:` one, else the first non-empty), without prefix, at most 160 characters. */
function summarize(text: string): string {
  const lines = text
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l && !/^cloning into /i.test(l));
  const telling = [...lines].reverse().find((l) => /^(fatal|error):/i.test(l)) ?? lines[0];
  if (!telling) return 'git failed without a message';
  const line = telling.replace(/^(fatal|error):\s*/i, '').replace(/\s+/g, ' ');
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}
