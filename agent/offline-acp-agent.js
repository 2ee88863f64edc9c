#!/usr/bin/env node
/**
 * Offline ACP agent.
 *
 * What: a tiny Agent Client Protocol (ACP) agent speaking JSON-RPC 2.0 over stdio, one JSON message
 * per line. sandbox-agent launches it as the agent process of an ACP server; it answers
 * `initialize`, `session/new`, `session/load`, `session/list`, `session/set_model`, `session/prompt` and the
 * `session/cancel` notification. Its reply to a prompt is deterministic and says plainly that it is offline:
 * "offline agent: received <N> characters: <first line of prompt>", streamed as a few
 * `session/update` notifications (`agent_message_chunk`) before the `{stopReason: 'end_turn'}` result.
 *
 * Why: the real coding agents sandbox-agent knows (claude, codex, pi, ...) need network access to
 * install and credentials to run, and neither exists here. This agent gives the provisioning service
 * a full session round trip (create session, prompt, streamed reply) with no network; where a real
 * agent is available it replaces this one and nothing else changes.
 *
 * Sessions: each one it opens is noted in $HOME/.local/share/offline-acp-agent/sessions/<id>.json, so
 * an agent process started later (the sandbox woke after sleeping, its agent was restarted) can load it
 * with ACP `session/load` (it advertises `loadSession`), as real agents that keep their conversations
 * in HOME do. It remembers nothing else: its replies depend on the prompt alone.
 *
 * Node built-ins only. Exits when stdin closes (sandbox-agent closing the pipe).
 */
'use strict';

const readline = require('node:readline');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const PROTOCOL_VERSION = 1;
const CHUNK_DELAY_MS = 5;

/** @type {Map<string, {cwd: string, prompting: boolean, cancelled: boolean}>} */
const sessions = new Map();

/** Where sessions are noted, so a later agent process can load them. */
const SESSION_DIR = path.join(os.homedir(), '.local', 'share', 'offline-acp-agent', 'sessions');
const SESSION_ID = /^offline-[0-9a-f-]{36}$/;

function noteSession(sessionId, cwd) {
  fs.mkdirSync(SESSION_DIR, { recursive: true });
  fs.writeFileSync(path.join(SESSION_DIR, `${sessionId}.json`), JSON.stringify({ cwd }));
}

function send(message) {
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
}

class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function requireSession(params) {
  const session = params && sessions.get(params.sessionId);
  if (!session) throw new RpcError(-32602, `unknown sessionId: ${params && params.sessionId}`);
  return session;
}

/** The deterministic reply, split into up to three chunks. */
function replyChunks(text) {
  const firstLine = text.split(/\r?\n/, 1)[0];
  return ['offline agent: ', `received ${text.length} characters: `, firstLine].filter((c) => c);
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function prompt(params) {
  const session = requireSession(params);
  if (session.prompting) throw new RpcError(-32600, 'a prompt is already running in this session');
  const blocks = Array.isArray(params.prompt) ? params.prompt : [];
  const text = blocks
    .filter((b) => b && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text)
    .join('\n');
  session.prompting = true;
  session.cancelled = false;
  try {
    for (const chunk of replyChunks(text)) {
      if (session.cancelled) return { stopReason: 'cancelled' };
      send({
        method: 'session/update',
        params: {
          sessionId: params.sessionId,
          update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: chunk } },
        },
      });
      await delay(CHUNK_DELAY_MS);
    }
    return { stopReason: session.cancelled ? 'cancelled' : 'end_turn' };
  } finally {
    session.prompting = false;
  }
}

const requests = {
  initialize: () => ({
    protocolVersion: PROTOCOL_VERSION,
    agentCapabilities: {
      loadSession: true,
      promptCapabilities: { image: false, audio: false, embeddedContext: false },
      mcpCapabilities: { http: false, sse: false },
      sessionCapabilities: { list: {} },
    },
    authMethods: [],
    agentInfo: { name: 'offline-acp-agent', version: '1.0.0' },
  }),
  'session/new': (params) => {
    if (!params || typeof params.cwd !== 'string') throw new RpcError(-32602, 'cwd is required');
    const sessionId = `offline-${crypto.randomUUID()}`;
    noteSession(sessionId, params.cwd);
    sessions.set(sessionId, { cwd: params.cwd, prompting: false, cancelled: false });
    return { sessionId };
  },
  'session/load': (params) => {
    if (!params || typeof params.cwd !== 'string') throw new RpcError(-32602, 'cwd is required');
    const sessionId = params.sessionId;
    if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId) || !fs.existsSync(path.join(SESSION_DIR, `${sessionId}.json`))) {
      throw new RpcError(-32602, `unknown sessionId: ${sessionId}`);
    }
    sessions.set(sessionId, { cwd: params.cwd, prompting: false, cancelled: false });
    return {};
  },
  'session/list': () => ({
    sessions: [...sessions].map(([sessionId, s]) => ({ sessionId, cwd: s.cwd })),
  }),
  'session/prompt': prompt,
  // It has no model; any model is taken and noted, so a tab's model is accepted as with a real agent.
  'session/set_model': (params) => {
    const session = params && sessions.get(params.sessionId);
    if (!session) throw new RpcError(-32602, `unknown sessionId: ${params && params.sessionId}`);
    if (typeof params.modelId !== 'string' || params.modelId === '') throw new RpcError(-32602, 'modelId is required');
    session.model = params.modelId;
    return {};
  },
};

const notifications = {
  'session/cancel': (params) => {
    const session = params && sessions.get(params.sessionId);
    if (session) session.cancelled = true;
  },
};

async function handle(message) {
  const isRequest = message.id !== undefined && message.id !== null;
  if (typeof message.method !== 'string') return; // a response to us: we send no requests
  if (!isRequest) {
    const handler = notifications[message.method];
    if (handler) handler(message.params);
    return;
  }
  const handler = requests[message.method];
  if (!handler) {
    send({ id: message.id, error: { code: -32601, message: `Method not found: ${message.method}` } });
    return;
  }
  try {
    send({ id: message.id, result: await handler(message.params) });
  } catch (err) {
    const code = err instanceof RpcError ? err.code : -32603;
    send({ id: message.id, error: { code, message: err instanceof Error ? err.message : String(err) } });
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    send({ id: null, error: { code: -32700, message: 'Parse error' } });
    return;
  }
  if (!message || typeof message !== 'object' || Array.isArray(message)) {
    send({ id: null, error: { code: -32600, message: 'Invalid Request' } });
    return;
  }
  void handle(message);
});
lines.on('close', () => process.exit(0));
