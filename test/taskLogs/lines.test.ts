/**
 * What a provisioning log line may show (src/taskLogs/redaction.ts) and how output becomes lines
 * (src/taskLogs/lineSplitter.ts): secrets of every kind are replaced, terminal control is removed,
 * long lines are cut after redaction; `\r` progress collapses to its latest state.
 */
import { TASK_LOG_LIMITS } from '../../src/domain/taskLogs';
import { LineSplitter } from '../../src/taskLogs/lineSplitter';
import { cleanLogLine, REDACTED } from '../../src/taskLogs/redaction';

describe('cleanLogLine', () => {
  it.each([
    ['https://x-access-token:s3cr3t-value@github.com/o/r.git', `https://${REDACTED}@github.com/o/r.git`],
    ['cloning git://tok:hunter2hunter2@127.0.0.1:9/x.git now', `cloning git://${REDACTED}@127.0.0.1:9/x.git now`],
    ['fatal: unable to look up tok:hunter2hunter2@127.0.0.1:1 (port 9418)', `fatal: unable to look up ${REDACTED}@127.0.0.1:1 (port 9418)`],
    ['Authorization: Bearer abcdefghijklmnop', `Authorization: ${REDACTED}`],
    ['curl -H "x" bearer abcdefghijklmnopqrst', `curl -H "x" bearer ${REDACTED}`],
    ['GITHUB_TOKEN=abc123 api_key: "k-1" password=pw', `GITHUB_TOKEN=${REDACTED} api_key: "${REDACTED}" password=${REDACTED}`],
    ['using ghp_abcdefghijklmnopqrstuvwxyz0123 for fetch', `using ${REDACTED} for fetch`],
    ['key sk-ant-api03-abcdefghijklmnopqrstuv set', `key ${REDACTED} set`],
    ['aws AKIAABCDEFGHIJKLMNOP here', `aws ${REDACTED} here`],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', `jwt ${REDACTED}`],
  ])('replaces the secret in %s', (raw, expected) => {
    expect(cleanLogLine(raw)).toBe(expected);
  });

  it('replaces the values it is told are secret, wherever they appear', () => {
    const token = 'f00dfeedf00dfeedf00dfeed';
    expect(cleanLogLine(`server --token ${token} --port 1`, [token])).toBe(`server --token ${REDACTED} --port 1`);
    expect(cleanLogLine(`x${token}y`, [token])).toBe(`x${REDACTED}y`);
    // Too short to search for verbatim: left alone.
    expect(cleanLogLine('abc def', ['abc'])).toBe('abc def');
  });

  it('removes terminal escapes and control characters and trims', () => {
    expect(cleanLogLine('\u001b[31mred\u001b[0m\ttext\u0007\u0000 ')).toBe('red text');
    expect(cleanLogLine('\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007')).toBe('link');
  });

  it('cuts a long line after redacting, so no half secret is left', () => {
    const secret = 'ghp_' + 'a'.repeat(36);
    const line = cleanLogLine('x'.repeat(TASK_LOG_LIMITS.maxLineChars - 10) + ' ' + secret + ' ' + 'y'.repeat(100));
    expect(line).toHaveLength(TASK_LOG_LIMITS.maxLineChars);
    expect(line.endsWith('…')).toBe(true);
    expect(line).not.toContain('ghp_a');
  });
});

describe('LineSplitter', () => {
  it('ends lines at \\n and \\r\\n, across chunks', () => {
    const s = new LineSplitter();
    expect(s.push('Cloning into')).toEqual([]);
    expect(s.push(" 'x'...\r")).toEqual([]);
    expect(s.push('\ndone\nrest')).toEqual(["Cloning into 'x'...", 'done']);
    expect(s.end()).toBe('rest');
  });

  it('keeps only the latest \\r progress line, and forgets it once a final line overwrote it', () => {
    const s = new LineSplitter();
    expect(s.push('Receiving objects:  10% (1/10)\rReceiving objects:  50% (5/10)\r')).toEqual([]);
    expect(s.takeProgress()).toBe('Receiving objects:  50% (5/10)');
    expect(s.takeProgress()).toBeNull();
    expect(s.push('Receiving objects:  90% (9/10)\rReceiving objects: 100% (10/10), done.\n')).toEqual(['Receiving objects: 100% (10/10), done.']);
    expect(s.takeProgress()).toBeNull();
    expect(s.end()).toBeNull();
  });
});
