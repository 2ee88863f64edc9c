/**
 * BENCHMARK-ONLY provider "instant": it makes no sandbox, clones nothing and runs no agent. Each step
 * waits `delayMs` and returns made-up handles, so load tests and benchmarks measure this service
 * (API, Postgres, Temporal, realtime) and not git or sandbox-agent. Offered only when
 * ENABLE_BENCHMARK_PROVIDERS=1; never a stand-in for the real local provider.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentEndpoint, AgentSession, AgentStatus, CreateSandboxRequest, CreateSessionRequest, SandboxHandle, SandboxProvider } from '../types';

export const INSTANT_PROVIDER_ID = 'instant';
/** The same benchmark-only provider with slow steps (SLOW_PROVIDER_DELAY_MS, default 5 s). */
export const SLOW_PROVIDER_ID = 'slow';

export class InstantProvider implements SandboxProvider {
  /**
   * @param delayMs how long each step takes, in ms (0 = as fast as the service allows).
   * @param id the provider id it is offered under (`instant`, or `slow` for the slow variant).
   */
  constructor(
    private readonly delayMs: number,
    readonly id: string = INSTANT_PROVIDER_ID,
  ) {}

  async listBranches(): Promise<string[]> {
    await sleep(this.delayMs);
    return ['main'];
  }

  async createSandbox(req: CreateSandboxRequest): Promise<SandboxHandle> {
    await sleep(this.delayMs);
    return { sandboxKey: req.sandboxKey, providerSandboxId: `instant-${req.sandboxKey}`, directory: `/instant/${req.sandboxKey}`, details: {} };
  }

  async resumeSandbox(): Promise<SandboxHandle | null> {
    return null;
  }

  async destroySandbox(): Promise<void> {}

  holds(handle: SandboxHandle): boolean {
    return handle.providerSandboxId.startsWith('instant-');
  }

  /** Nothing runs, so nothing stops; its made-up agent is always "running" again at the next use. */
  async stopSandbox(): Promise<void> {}

  async agentStatus(_handle: SandboxHandle, sessionKey?: string): Promise<AgentStatus> {
    return sessionKey === undefined ? { agent: 'running' } : { agent: 'running', session: 'open' };
  }

  async ensureAgent(handle: SandboxHandle): Promise<AgentEndpoint> {
    await sleep(this.delayMs);
    return { endpoint: `instant://${handle.sandboxKey}`, details: {} };
  }

  async createSession(handle: SandboxHandle, req: CreateSessionRequest): Promise<AgentSession> {
    await sleep(this.delayMs);
    const sessionId = `instant-${handle.sandboxKey}-${req.sessionKey}`;
    return { sessionId, agent: req.agent, loaded: false, details: { sessionId } };
  }

  async endSession(): Promise<void> {}

  async prompt(_handle: SandboxHandle, _key: string, text: string, onChunk: (t: string) => void): Promise<{ stopReason: string }> {
    await sleep(this.delayMs);
    onChunk(`instant: ${text.length} characters`);
    return { stopReason: 'end_turn' };
  }
}
