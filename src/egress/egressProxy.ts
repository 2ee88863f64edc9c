/**
 * The egress proxy (docs/SECURITY.md#egress): the only way a sandbox's agent reaches its model API
 * or, under an `allowlist` policy, anything else outside. It runs on the sandbox host (the worker
 * process), listens on a Unix socket in the sandbox root that no sandbox can see, and each sandbox
 * reaches it through one forwarded port on its own loopback (src/confinement/network.ts,
 * EGRESS_PORT_IN_SANDBOX).
 *
 * - Model routes `/anthropic/*` and `/openai/*`: the agent presents its sandbox's egress token as
 *   its API key (`x-api-key` or `Authorization: Bearer`). The proxy checks it, puts the workspace's
 *   real key on instead, and forwards to that provider's configured origin only (MODEL_API_ORIGINS),
 *   streaming the answer (SSE) through as it comes, with usage read on the way (./usage.ts).
 * - CONNECT `host:443` (HTTPS_PROXY, token as the Basic password): tunnels when the sandbox's workspace
 *   policy is `allowlist` and names the host, or `allow`; a name that resolves to a loopback, private
 *   or link-local address is refused whatever the policy (./tunnel.ts).
 * - Anything else: 403. Plain-HTTP forwarding is not offered.
 *
 * The proxying itself is http-proxy-3's; the token check, the allowlist and the key swap are ours.
 * Keys and tokens are never logged.
 */
import http from 'node:http';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../logger';
import type { ModelProvider } from '../domain/agents';
import { hashEgressToken, looksLikeEgressToken } from './tokens';
import { usageTap, type ModelUsageReading } from './usage';
import { RecentModelFailures, failureOfStatus, type ModelFailureKind } from './failures';
import { openTunnel, type EgressPolicyView } from './tunnel';

/** The sandbox an egress token belongs to. */
export interface EgressSandbox {
  sandboxId: string;
  taskId: string;
  workspaceId: string;
}

export interface EgressProxyDeps {
  /** The sandbox whose current egress token hashes to `tokenHash` (a running one), or null. */
  sandboxByTokenHash(tokenHash: string): Promise<EgressSandbox | null>;
  /** The workspace's key for `provider`, or null when it has none. */
  modelKey(workspaceId: string, provider: ModelProvider): Promise<string | null>;
  /** The workspace's egress policy. */
  egressPolicy(workspaceId: string): Promise<EgressPolicyView>;
  /** Records the usage one model response reported. Failures are logged, never surfaced to the agent. */
  recordUsage(sandbox: EgressSandbox, provider: ModelProvider, reading: ModelUsageReading): Promise<void>;
  /** Origin each provider's requests go to (MODEL_API_ORIGINS). */
  modelOrigins: Record<ModelProvider, string>;
  /** Limit for the model API's answer to start, and for a pause while it streams, ms. */
  modelTimeoutMs: number;
  logger: Logger;
}

export interface EgressProxy {
  /** Recent model failures per sandbox, for the one-sentence turn error. */
  readonly failures: RecentModelFailures;
  /** Listens on `socketPath` (a stale socket there is replaced; mode 0600). */
  listen(socketPath: string): Promise<void>;
  close(): Promise<void>;
}

const MODEL_ROUTE = /^\/(anthropic|openai)(\/.*)?$/;

/** Builds the proxy; call {@link EgressProxy.listen} to serve. */
export function createEgressProxy(deps: EgressProxyDeps): EgressProxy {
  const failures = new RecentModelFailures();
  const log = deps.logger.child({ component: 'egress-proxy' });
  const proxy = createProxyServer({ changeOrigin: true, xfwd: false, proxyTimeout: deps.modelTimeoutMs, timeout: deps.modelTimeoutMs });
  const contexts = new WeakMap<http.IncomingMessage, { sandbox: EgressSandbox; provider: ModelProvider }>();

  const noteFailure = (sandbox: EgressSandbox, provider: ModelProvider, kind: ModelFailureKind, status: number) => {
    failures.note(sandbox.sandboxId, { kind, status, provider, at: Date.now() });
    log.warn({ sandboxId: sandbox.sandboxId, taskId: sandbox.taskId, provider, kind, status }, 'model request failed');
  };

  proxy.on('proxyRes', (proxyRes, req) => {
    const ctx = contexts.get(req);
    if (!ctx) return;
    const status = proxyRes.statusCode ?? 0;
    const failed = failureOfStatus(status);
    if (failed) noteFailure(ctx.sandbox, ctx.provider, failed, status);
    else if (status >= 200 && status < 300) failures.succeeded(ctx.sandbox.sandboxId);
    const tap = usageTap(ctx.provider, proxyRes.headers['content-type']);
    proxyRes.on('data', (chunk: Buffer) => tap.write(chunk));
    proxyRes.on('end', () => {
      const reading = tap.result();
      if (!reading) return;
      deps.recordUsage(ctx.sandbox, ctx.provider, reading).catch((err: unknown) => log.error({ err, sandboxId: ctx.sandbox.sandboxId }, 'model usage could not be recorded'));
    });
  });

  const server = http.createServer((req, res) => {
    void handleRequest(req, res).catch((err: unknown) => {
      log.error({ err }, 'egress proxy request failed');
      if (!res.headersSent) sendError(res, 503, 'egress_unavailable', 'The egress proxy could not serve this request.');
      else res.destroy();
    });
  });
  server.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    void handleConnect(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'egress tunnel failed');
      socket.end('HTTP/1.1 503 Service Unavailable\r\n\r\n');
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  async function sandboxOf(token: string | undefined): Promise<EgressSandbox | null> {
    if (!token || !looksLikeEgressToken(token)) return null;
    return deps.sandboxByTokenHash(hashEgressToken(token));
  }

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const match = MODEL_ROUTE.exec((req.url ?? '').split('?')[0] ?? '');
    if (!match) return sendError(res, 403, 'egress_refused', 'Only the model API routes and HTTPS tunnels are served here.');
    const provider = match[1] as ModelProvider;
    const sandbox = await sandboxOf(presentedKey(req));
    if (!sandbox) return sendError(res, 401, 'egress_token_invalid', 'The egress token is missing or not valid for a running sandbox.', provider);
    const key = await deps.modelKey(sandbox.workspaceId, provider);
    if (!key) {
      noteFailure(sandbox, provider, 'no_key', 401);
      return sendError(res, 401, 'model_key_missing', `This workspace has no ${provider} key.`, provider);
    }
    // The swap: whatever the agent sent as credentials goes; the workspace's key goes on.
    for (const header of ['authorization', 'x-api-key', 'proxy-authorization', 'cookie']) delete req.headers[header];
    req.headers['accept-encoding'] = 'identity'; // so usage can be read on the way
    req.url = (req.url ?? '/').slice(provider.length + 1) || '/';
    contexts.set(req, { sandbox, provider });
    const headers = provider === 'anthropic' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` };
    proxy.web(req, res, { target: deps.modelOrigins[provider], headers }, (err: Error & { code?: string }) => {
      const timedOut = err.code === 'ECONNRESET' && res.headersSent === false && /timeout|socket hang up/i.test(err.message);
      const kind: ModelFailureKind = timedOut || err.code === 'ETIMEDOUT' ? 'timeout' : 'unreachable';
      noteFailure(sandbox, provider, kind, kind === 'timeout' ? 504 : 502);
      if (!res.headersSent)
        sendError(
          res,
          kind === 'timeout' ? 504 : 502,
          kind === 'timeout' ? 'model_api_timeout' : 'model_api_unreachable',
          `The ${provider} API ${kind === 'timeout' ? 'did not answer in time' : 'could not be reached'}.`,
          provider,
        );
      else res.destroy();
    });
  }

  async function handleConnect(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const sandbox = await sandboxOf(basicPassword(req.headers['proxy-authorization']));
    if (!sandbox) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="egress"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const policy = await deps.egressPolicy(sandbox.workspaceId);
    const outcome = await openTunnel(req.url ?? '', policy, socket, head);
    if (!outcome.ok) log.info({ sandboxId: sandbox.sandboxId, target: req.url, reason: outcome.reason }, 'egress tunnel refused');
  }

  return {
    failures,
    async listen(socketPath) {
      // Parents made here (the sandbox root on a fresh host) must stay searchable for the sandboxes' uid;
      // the socket's own directory is root's alone.
      await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o711 });
      await fs.chmod(path.dirname(socketPath), 0o700);
      const stale = await fs.lstat(socketPath).catch(() => null);
      if (stale?.isSocket()) await fs.unlink(socketPath);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      await fs.chmod(socketPath, 0o600);
      log.info({ socketPath }, 'egress proxy listening');
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve())); // also removes its socket file
      proxy.close();
    },
  };
}

/** The credential the agent sent: `x-api-key`, or the bearer token of `Authorization`. */
function presentedKey(req: http.IncomingMessage): string | undefined {
  const apiKey = req.headers['x-api-key'];
  if (typeof apiKey === 'string') return apiKey;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

/** The password of a `Proxy-Authorization: Basic …` header. */
function basicPassword(header: string | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * An error the agent can read: the provider's own error shape where a provider is known (so its SDK
 * shows the message), with our machine-readable code.
 */
function sendError(res: http.ServerResponse, status: number, code: string, message: string, provider?: ModelProvider): void {
  const body =
    provider === 'anthropic'
      ? { type: 'error', error: { type: status === 401 ? 'authentication_error' : 'api_error', message, code } }
      : provider === 'openai'
        ? { error: { type: status === 401 ? 'invalid_request_error' : 'server_error', code, message } }
        : { code, message };
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
