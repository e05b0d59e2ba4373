/**
 * The node's HTTP client, one per node (decorated on its Fastify instance): node:http(s) with a
 * persistent agent per origin, which costs a fraction of what `fetch` does per request here (online
 * scoring). Job message delivery and the signed exchanges use it alike.
 *
 * Kept-alive connections and the peer's idle timeout (server/limits.ts, 30 s by default): the peer
 * closes a connection idle that long, and a request the client writes on it before the client has
 * seen the close (its event loop busy: seconds under load) meets a reset, "socket hang up" or
 * "other side closed". Two measures: the client closes its own idle connections first
 * ({@link IDLE_SOCKET_MS}, or sooner if the peer's Keep-Alive header says so), and a request that
 * failed that way on a reused connection before any reply is sent once more, the same bytes on a
 * new connection. That is safe for signed requests: each carries its nonce, which the receiver
 * accepts once (server/signing.ts), so a request that did arrive the first time is refused as a
 * replay, never acted on twice.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpReply {
  status: number;
  body: Buffer;
  /** The reply's headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

/** Idle kept-alive connections are closed by the client after this (well below the peers' idle timeout). */
export const IDLE_SOCKET_MS = 5_000;

/** Errors of a request written on a connection the peer had closed. */
const STALE_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

export class HttpClient {
  private readonly agents = new Map<string, HttpAgent>();

  /**
   * POST `body`; with `replyMs`, a reply not complete that long after the request was sent fails
   * the request (the connection is destroyed): a peer that takes the request and never answers
   * cannot hold the caller, nor what waits behind it, for ever.
   */
  post(url: string, headers: Record<string, string>, body: Uint8Array | string, replyMs?: number): Promise<HttpReply> {
    const u = new URL(url);
    const tls = u.protocol === 'https:';
    let agent = this.agents.get(u.origin);
    const options = { keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_MS };
    if (!agent) this.agents.set(u.origin, (agent = tls ? new HttpsAgent(options) : new HttpAgent(options)));
    const payload = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return this.send(tls, u, agent, headers, payload, true, replyMs);
  }

  private send(tls: boolean, u: URL, agent: HttpAgent | false, headers: Record<string, string>, payload: Buffer, mayRetry: boolean, replyMs?: number): Promise<HttpReply> {
    return new Promise((settled, failed) => {
      let replied = false;
      let deadline: NodeJS.Timeout | undefined;
      const resolve = (r: HttpReply | Promise<HttpReply>) => (clearTimeout(deadline), settled(r));
      const reject = (e: unknown) => (clearTimeout(deadline), failed(e));
      const req = (tls ? httpsRequest : httpRequest)(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent, headers: { ...headers, 'content-length': String(payload.length) } },
        (res) => {
          replied = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        // Once more on a connection of its own (agent false): another kept one may be as stale.
        if (mayRetry && !replied && req.reusedSocket && STALE_CONNECTION.has(e.code ?? '')) resolve(this.send(tls, u, false, headers, payload, false, replyMs));
        else reject(e);
      });
      if (replyMs) deadline = setTimeout(() => req.destroy(new Error(`no reply within ${replyMs} ms`)), replyMs);
      req.end(payload);
    });
  }

  /** Close idle connections (the node is stopping). */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}
