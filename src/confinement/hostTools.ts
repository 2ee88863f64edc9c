/**
 * Running the host's confinement tools (bubblewrap, pasta, iproute2, mount): argument arrays only,
 * never a shell, started by the lean host-tool runner (./toolRunner.ts), not forked from the worker.
 */
import { ToolRunError, execTool } from './toolRunner';

/** PATH the host's confinement tools are looked up on (the service's own, or the system's). */
export const HOST_TOOLS_PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';

/** An error of a confinement tool, with its stderr's first line. */
export class ConfinementToolError extends Error {
  constructor(
    readonly tool: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConfinementToolError';
  }
}

/**
 * Runs `tool args` and resolves with its stdout.
 * @throws ConfinementToolError when it cannot start or exits non-zero (within `timeoutMs`, default 10 s).
 */
export async function runTool(tool: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  try {
    return await execTool(tool, args, { PATH: HOST_TOOLS_PATH }, timeoutMs);
  } catch (err) {
    const e = err as ToolRunError;
    const line = (e.stderr || e.message || 'failed').trim().split('\n')[0];
    throw new ConfinementToolError(tool, `${tool} ${args[0] ?? ''}: ${line}`, { cause: err });
  }
}
