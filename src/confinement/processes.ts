/** Telling host processes apart by their name in /proc (Linux). */
import { readFileSync } from 'node:fs';

/** The process's name (`/proc/<pid>/comm`), or null when it is gone or /proc cannot be read. */
export function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** True for a sandbox-agent server itself (not a wrapper whose arguments name it). */
export function isSandboxAgentServer(pid: number): boolean {
  return processName(pid) === 'sandbox-agent';
}
