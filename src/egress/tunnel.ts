/**
 * CONNECT tunnels through the egress proxy (./egressProxy.ts), under the sandbox's workspace policy
 * (docs/SECURITY.md#egress):
 * - `deny`: none;
 * - `allowlist`: to a host the policy names (exact, or `*.suffix`), port 443 or 80;
 * - `allow`: to any host, port 443 or 80.
 *
 * Whatever the policy, the name must resolve only to public unicast addresses (ipaddr.js ranges): a
 * name that points at the host's loopback, a private network or a link-local address (cloud metadata)
 * is refused, and the tunnel goes to the address checked, never to a second lookup (no DNS rebinding).
 */
import { promises as dns } from 'node:dns';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { hostMatches } from '../domain/hostPattern';

/** The part of a workspace's egress policy the proxy needs. */
export interface EgressPolicyView {
  mode: 'deny' | 'allowlist' | 'allow';
  hosts: readonly string[];
}

const TUNNEL_PORTS = new Set([443, 80]);
const CONNECT_TIMEOUT_MS = 10_000;

/** Whether `address` is a public unicast address (not loopback, private, link-local, reserved, ...). */
export function isPublicAddress(address: string): boolean {
  try {
    const parsed = ipaddr.process(address);
    return parsed.range() === 'unicast';
  } catch {
    return false;
  }
}

/**
 * Checks `target` (`host:port` of a CONNECT) against `policy`, and on success answers 200 on `client`
 * and joins it to a connection to the checked address. On refusal answers 403 and closes.
 * @returns whether the tunnel was opened, with the reason when not.
 */
export async function openTunnel(target: string, policy: EgressPolicyView, client: Duplex, head: Buffer): Promise<{ ok: true } | { ok: false; reason: string }> {
  const refuse = (reason: string, status = '403 Forbidden') => {
    client.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\negress refused: ${reason}\n`);
    return { ok: false as const, reason };
  };
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(target);
  if (!match) return refuse('not a host:port target', '400 Bad Request');
  const host = match[1]!.toLowerCase();
  const port = Number(match[2]);
  if (!TUNNEL_PORTS.has(port)) return refuse(`port ${port} is not allowed`);
  if (policy.mode === 'deny') return refuse('the workspace policy is deny');
  const literal = net.isIP(host) !== 0;
  if (policy.mode === 'allowlist' && (literal || !hostMatches([...policy.hosts], host))) return refuse(`${host} is not on the workspace allowlist`);
  let address: string;
  try {
    const found = literal ? [{ address: host }] : await dns.lookup(host, { all: true, verbatim: true });
    if (found.length === 0 || !found.every((a) => isPublicAddress(a.address))) return refuse(`${host} resolves to a non-public address`);
    address = found[0]!.address;
  } catch {
    return refuse(`${host} could not be resolved`, '502 Bad Gateway');
  }
  return new Promise((resolve) => {
    const upstream = net.connect({ host: address, port, timeout: CONNECT_TIMEOUT_MS });
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      resolve({ ok: true });
    });
    const fail = () => {
      upstream.destroy();
      resolve(refuse(`${host}:${port} could not be reached`, '502 Bad Gateway'));
    };
    upstream.once('timeout', fail);
    upstream.once('error', (err) => (upstream.readyState === 'open' ? client.destroy(err) : fail()));
    client.once('close', () => upstream.destroy());
  });
}
