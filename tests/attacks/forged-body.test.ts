/**
 * Attack: make a node buffer a large body under a pinned peer's name without its key (issue 15,
 * item 7). The forger sends fresh, well-formed signature headers naming bank-1 with a garbage
 * signature and streams a 48 MiB chunked body. When the signature is only checked once the body is
 * in (the order before issue 15), the node takes all of it, up to its 64 MiB body limit, for every
 * such request at once.
 *
 * Defence: the body's digest travels in a header and the signature over it is checked in onRequest,
 * before the body is read. Off: the test-only `unsafe.peerSignatureAfterBody`. Measured on a real
 * socket: how many bytes the forger got to send before the node answered, and the answer's code.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNode } from '../../server/main.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { MESSAGE_PATH } from '../../server/transport/egress.ts';
import type { PeersFile } from '../../server/transport/peer.ts';
import { tempDir } from '../helpers/tmp.ts';

const BODY = 48 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function platform(undefended: boolean): Promise<string> {
  const dir = tempDir('indomain-forged-body-');
  const peers: PeersFile = { nodes: [] };
  for (const [name, role] of [['platform', 'platform'], ['bank-1', 'bank']] as const) {
    const s = new NodeStore(join(dir, name));
    peers.nodes.push({ name, role, url: 'http://127.0.0.1:9', publicKey: Buffer.from(s.identity(name).publicKey).toString('base64') });
    s.close();
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  const made = await createNode({ role: 'platform', name: 'platform', data: join(dir, 'platform'), peers: join(dir, 'peers.json'), adminToken: 'a'.repeat(32), psiWorkers: 1, ...(undefended ? { unsafe: { peerSignatureAfterBody: true } } : {}) });
  await made.app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(made.close);
  return `http://127.0.0.1:${(made.app.server.address() as AddressInfo).port}`;
}

/** Stream the forged body until the node answers; bytes sent by then, and the answer. */
function forge(url: string): Promise<{ sent: number; status: number; code: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let answered = false;
    const req = request(url + MESSAGE_PATH, {
      method: 'POST',
      headers: {
        'content-type': 'application/msgpack',
        'x-indomain-node': 'bank-1',
        'x-indomain-timestamp': String(Date.now()),
        'x-indomain-nonce': randomBytes(16).toString('hex'),
        'x-indomain-signature': randomBytes(64).toString('base64'),
        'x-indomain-digest': randomBytes(32).toString('hex'),
      },
    });
    req.on('response', (res) => {
      answered = true;
      const at = sent;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        req.destroy();
        resolve({ sent: at, status: res.statusCode ?? 0, code: (JSON.parse(Buffer.concat(parts).toString('utf8')) as { code: string }).code, ms: Math.round(performance.now() - t0) });
      });
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const pump = () => {
      while (!answered && sent < BODY) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('attack: a forger under a pinned peer’s name makes the node buffer a large body', () => {
  it('defended: refused before the body is read; undefended: the whole 48 MiB is taken first', async () => {
    const on = await forge(await platform(false));
    const off = await forge(await platform(true));
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(`forged body under bank-1's name: defence on: ${on.status} ${on.code} after ${mib(on.sent)} MiB sent (${on.ms} ms); off: ${off.status} ${off.code} after ${mib(off.sent)} MiB sent (${off.ms} ms)`);
    expect(on.code).toBe('SRV_BAD_SIGNATURE');
    expect(on.sent).toBeLessThan(8 * 1024 * 1024);
    expect(off.code).toBe('SRV_BAD_SIGNATURE');
    expect(off.sent).toBe(BODY);
  }, 120_000);
});
