/**
 * The node's HTTP client, one per node (decorated on its Fastify instance): node:http(s) with a
 * persistent agent per origin, which costs a fraction of what `fetch` does per request here (online
 * scoring). Job message delivery and the signed exchanges use it alike.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpReply {
  status: number;
  body: Buffer;
  /** The reply's headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

export class HttpClient {
  private readonly agents = new Map<string, HttpAgent>();

  post(url: string, headers: Record<string, string>, body: Uint8Array | string): Promise<HttpReply> {
    const u = new URL(url);
    const tls = u.protocol === 'https:';
    let agent = this.agents.get(u.origin);
    if (!agent) this.agents.set(u.origin, (agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: 256 }) : new HttpAgent({ keepAlive: true, maxSockets: 256 })));
    const payload = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent, headers: { ...headers, 'content-length': String(payload.length) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Close idle connections (the node is stopping). */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
