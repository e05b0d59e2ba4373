// Worker kernel for protocols/psi/pool.ts: X25519 scalar multiplications with OpenSSL through
// node:crypto. Plain JavaScript so it loads in any runtime without a TypeScript loader.
// Input: { id, scalar: Uint8Array(32), points: Uint8Array(32·k) }.
// Output: { id, points: Uint8Array(32·k) } or { id, error, index }.
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

parentPort.on('message', ({ id, scalar, points }) => {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8, scalar]), format: 'der', type: 'pkcs8' });
  const out = new Uint8Array(points.length);
  const buf = Buffer.from(points.buffer, points.byteOffset, points.byteLength);
  for (let i = 0; i < points.length; i += 32) {
    try {
      // A JWK import costs a tenth of a DER (SPKI) import here: measured 126k/s against 14k/s,
      // while the multiplication itself runs at ~34k/s.
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: buf.toString('base64url', i, i + 32) }, format: 'jwk' });
      out.set(diffieHellman({ privateKey, publicKey }), i);
    } catch {
      // OpenSSL refuses inputs whose product is the identity (small-order points).
      parentPort.postMessage({ id, error: 'small-order or invalid point', index: i / 32 });
      return;
    }
  }
  parentPort.postMessage({ id, points: out }, [out.buffer]);
});
