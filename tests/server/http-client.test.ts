/**
 * The node's HTTP client on kept-alive connections the peer has closed (server/transport/http-client.ts).
 * Under load a node's event loop is busy for seconds; a peer's idle timeout closes a connection
 * meanwhile, and the next request, written on it before the client has seen the close, met a reset
 * ("socket hang up", "other side closed"). Reproduced exactly: a real HTTP server in a worker thread
 * closes idle connections after 5 s while this thread is blocked for 6 s, then a request goes out at
 * once on the kept connection (without the retry: ECONNRESET "socket hang up" on a reused socket).
 * The client sends it once more on a new connection; the server sees every request exactly once.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../server/transport/http-client.ts';

const SERVER = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
let seen = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    seen++;
    res.end(JSON.stringify({ seen, body: Buffer.concat(chunks).toString() }));
  });
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

describe('HttpClient on a kept-alive connection the peer closed', () => {
  const worker = new Worker(SERVER, { eval: true });
  const port = new Promise<number>((resolve) => worker.once('message', resolve));
  const client = new HttpClient();
  afterAll(async () => {
    client.close();
    await worker.terminate();
  });

  it('a request written on it before the close was seen is sent once more, and arrives once', async () => {
    const url = `http://127.0.0.1:${await port}/x`;
    const first = await client.post(url, {}, 'one');
    expect(JSON.parse(first.body.toString())).toEqual({ seen: 1, body: 'one' });
    for (let round = 2; round <= 2; round++) {
      // This thread busy past the server's idle timeout: the close waits unread in the socket.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000);
      const r = await client.post(url, {}, `request ${round}`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString())).toEqual({ seen: round, body: `request ${round}` });
    }
  });
});
