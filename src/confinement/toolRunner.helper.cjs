'use strict';
/**
 * The host-tool runner's own process (./toolRunner.ts starts it with child_process.fork). A bare Node
 * process with nothing loaded but node:child_process, so each tool it starts is a fork of a ~40 MB
 * process instead of the worker's ~500 MB (docs/BENCHMARKS.md, scenario 8: spawning from the worker was 41 % of
 * its CPU). Plain JavaScript on purpose: no TypeScript loader in this process.
 *
 * Messages in (IPC, JSON): {id, kind: 'exec', file, args, env, timeoutMs} runs a tool to its end and
 * answers {id, ok, stdout, stderr, message}; {id, kind: 'run', file, args, env, timeoutMs, cwd} does the
 * same but kills with SIGKILL on time and answers the exit code too ({code}: null when it was killed);
 * {id, kind: 'spawnDetached', file, args, env} starts a
 * long-lived process in its own session with no stdio and answers {id, ok, pid, message}. The
 * process exits when the worker goes (its IPC channel closes).
 */
const { execFile, spawn } = require('node:child_process');

process.on('message', (m) => {
  if (m.kind === 'exec') {
    execFile(m.file, m.args, { timeout: m.timeoutMs, env: m.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      process.send({ id: m.id, ok: !err, stdout: String(stdout), stderr: String(stderr), message: err ? err.message : undefined });
    });
  } else if (m.kind === 'run') {
    execFile(m.file, m.args, { timeout: m.timeoutMs, env: m.env, cwd: m.cwd, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const started = !err || typeof err.code === 'number' || err.killed || err.signal;
      process.send({
        id: m.id,
        ok: Boolean(started),
        code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
        message: err ? err.message : undefined,
      });
    });
  } else if (m.kind === 'spawnDetached') {
    const child = spawn(m.file, m.args, { detached: true, stdio: 'ignore', env: m.env });
    child.once('spawn', () => {
      child.unref();
      process.send({ id: m.id, ok: true, pid: child.pid });
    });
    child.once('error', (err) => process.send({ id: m.id, ok: false, message: err.message }));
  } else {
    process.send({ id: m.id, ok: false, message: `unknown request ${String(m.kind)}` });
  }
});
process.on('disconnect', () => process.exit(0));
