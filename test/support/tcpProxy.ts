/**
 * A tiny fault-injecting TCP proxy for tests: it listens on a free loopback port and forwards every
 * connection to `target` (e.g. the run's Postgres or Temporal frontend). `cut()` is an outage: every
 * open connection is reset and new ones are refused, exactly as when the server behind it is down;
 * `restore()` accepts again on the same port. Only loopback addresses are used.
 */
import net from 'node:net';
import { findFreePort } from '../../src/net/freePort';

export interface TcpProxy {
  /** host:port the proxy listens on (127.0.0.1). */
  readonly host: string;
  readonly port: number;
  /** Whether it forwards right now. */
  readonly up: boolean;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Resets every open connection and refuses new ones until `restore()`. */
  cut(): Promise<void>;
  /** Accepts and forwards connections again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1:<free port> forwarding to `target` (must be a loopback host). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(target.host)) throw new Error(`the test proxy only forwards to loopback, not ${target.host}`);
  const port = await findFreePort();
  const open = new Set<net.Socket>();
  let accepted = 0;
  let server: net.Server | null = null;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        accepted++;
        const upstream = net.connect(target.port, target.host);
        open.add(client);
        open.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          open.delete(client);
          open.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });

  const stop = async () => {
    const s = server;
    server = null;
    for (const socket of open) socket.resetAndDestroy();
    open.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    host: '127.0.0.1',
    port,
    get up() {
      return server !== null;
    },
    get accepted() {
      return accepted;
    },
    cut: stop,
    async restore() {
      if (!server) await listen();
    },
    close: stop,
  };
}

/** `url` (a postgresql:// URL) with its host and port replaced by the proxy's. */
export function viaProxy(url: string, proxy: Pick<TcpProxy, 'host' | 'port'>): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}
