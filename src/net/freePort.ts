/** Free TCP ports, for processes this repo starts itself (sandbox-agent, test and benchmark servers). */
import net from 'node:net';

/**
 * A port that was free a moment ago on `host` (bind port 0, read it, close). Another process may take
 * it before the caller binds it; callers that start servers retry on "address in use".
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
