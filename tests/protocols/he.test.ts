import { describe, expect, it } from 'vitest';
import { createCkks, decryptorFor, deserialize, encryptChunks, generateKeys, importPublicKeys, secretKeyBytes } from '../../protocols/he/ckks.ts';

describe('CKKS keys', () => {
  it('a restored secret key decrypts what was encrypted under the original public key', async () => {
    const ckks = await createCkks('ckks-n8192-d2');
    const first = generateKeys(ckks);
    const ev = importPublicKeys(ckks, first.publicKey, first.galoisKeys);
    const values = Float64Array.from({ length: 100 }, (_, i) => Math.sin(i) * 7);
    const [ct] = encryptChunks(ev, values);
    const restored = generateKeys(ckks, secretKeyBytes(ckks, first));
    // A new public key from the same secret key: different bytes, same key pair.
    expect(Buffer.from(restored.publicKey).equals(Buffer.from(first.publicKey))).toBe(false);
    const out = decryptorFor(ckks, restored).decrypt(deserialize(ckks, ct!), values.length);
    out.forEach((v, i) => expect(Math.abs(v - values[i]!)).toBeLessThan(1e-6));
    // A different key pair does not decrypt it.
    const other = decryptorFor(ckks, generateKeys(ckks)).decrypt(deserialize(ckks, ct!), values.length);
    expect(Math.max(...other.map((v, i) => Math.abs(v - values[i]!)))).toBeGreaterThan(1);
  });
});
