/**
 * The agents a task or tab may ask for (docs/PRODUCT.md#agents), and how each is named to
 * sandbox-agent 0.4.2. Pure data: no I/O.
 *
 * - `claude`, `codex`, `opencode`: real coding agents, installed from npm into the host's agent
 *   directory (scripts/install-agents.sh, `agents/package.json` pins the versions) and given to every
 *   sandbox read-only on its PATH. They reach their model API only through the host's egress proxy
 *   (src/egress), with the workspace's key put on by the proxy.
 * - `amp`, `cursor`: known to sandbox-agent but not installed here; asking for one is the error
 *   `agent_not_installed`.
 * - `offline`: the offline ACP agent this repository ships (agent/offline-acp-agent.js), for
 *   development and tests. It needs no model and no network. sandbox-agent has no slot of its own
 *   for it, so it is registered in the `pi` slot (src/providers/local/sandboxAgentProcess.ts); `pi`
 *   itself is therefore not offered.
 */

/** Agent ids of the API (task `agent`, tab `agent`). */
export const AGENT_IDS = ['claude', 'codex', 'opencode', 'amp', 'cursor', 'offline'] as const;
export type AgentId = (typeof AGENT_IDS)[number];

/** The agent of a task that names none, unless DEFAULT_AGENT says otherwise. */
export const DEFAULT_AGENT: AgentId = 'claude';

/** The offline agent's id in the API. */
export const OFFLINE_AGENT: AgentId = 'offline';

/** The sandbox-agent agent id an API agent id runs as (`offline` runs in the `pi` slot). */
export function sandboxAgentIdOf(agent: string): string {
  return agent === OFFLINE_AGENT ? 'pi' : agent;
}

/** Model providers whose API an agent calls, and so whose key a workspace may store. */
export const MODEL_PROVIDERS = ['anthropic', 'openai'] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** The model provider each real agent calls through the egress proxy (opencode is set up for Anthropic). */
export const MODEL_PROVIDER_OF_AGENT: Partial<Record<AgentId, ModelProvider>> = { claude: 'anthropic', codex: 'openai', opencode: 'anthropic' };
