/**
 * Ports the operating system has free: bound on 127.0.0.1 port 0 all at once (so they differ), then
 * released for the caller to listen on. peers.json needs every node's address before any node starts,
 * which is why the nodes cannot simply listen on port 0 themselves.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((ok, fail) => {
          const s = createServer();
          s.once('error', fail);
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
