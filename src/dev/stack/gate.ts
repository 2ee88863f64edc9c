/**
 * Test gates: hold a provider step open until the test opens the gate, to observe the system while a
 * step is in flight. The wrapped provider is the real one; only the timing changes.
 */
import type { SandboxProvider } from '../../providers/types';

export class Gate {
  private releaseFn!: () => void;
  private enterFn!: () => void;
  private readonly released = new Promise<void>((r) => (this.releaseFn = r));
  /** Resolves when a call reached the gate. */
  readonly entered = new Promise<void>((r) => (this.enterFn = r));

  /** Lets every waiting and future call through. */
  open(): void {
    this.releaseFn();
  }

  async pass(): Promise<void> {
    this.enterFn();
    await this.released;
  }
}

type GatedMethod = 'createSandbox' | 'ensureAgent' | 'createSession';

/** Wraps `inner` so each named method first waits at its gate (no gates: a plain delegating copy to override methods on). */
export function gatedProvider(inner: SandboxProvider, gates: Partial<Record<GatedMethod, Gate>>): SandboxProvider {
  return {
    id: inner.id,
    listBranches: (repo, progress) => inner.listBranches(repo, progress),
    resumeSandbox: (key) => inner.resumeSandbox(key),
    destroySandbox: (handle) => inner.destroySandbox(handle),
    stopSandbox: (handle) => inner.stopSandbox(handle),
    agentStatus: (handle, key) => inner.agentStatus(handle, key),
    holds: (handle) => inner.holds(handle),
    endSession: (handle, key) => inner.endSession(handle, key),
    prompt: (handle, key, text, onChunk, timeoutMs, signal) => inner.prompt(handle, key, text, onChunk, timeoutMs, signal),
    createSandbox: async (req, progress) => {
      await gates.createSandbox?.pass();
      return inner.createSandbox(req, progress);
    },
    ensureAgent: async (handle, progress, opts) => {
      await gates.ensureAgent?.pass();
      return inner.ensureAgent(handle, progress, opts);
    },
    createSession: async (handle, req, progress) => {
      await gates.createSession?.pass();
      return inner.createSession(handle, req, progress);
    },
  };
}
