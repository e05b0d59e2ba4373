import { describe, expect, it } from 'vitest';
import { generateSecretKey, publicKeyOf, sign, verify } from '../../server/ed25519.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

describe('Ed25519', () => {
  it('matches RFC 8032 test vector 1 (raw 32-byte keys)', () => {
    const sk = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    expect(Buffer.from(publicKeyOf(sk)).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const sig = sign(new Uint8Array(0), sk);
    expect(Buffer.from(sig).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    expect(verify(sig, new Uint8Array(0), publicKeyOf(sk))).toBe(true);
  });
  it('refuses a wrong message, key or malformed signature without throwing', () => {
    const sk = generateSecretKey();
    const msg = new TextEncoder().encode('indomain');
    const sig = sign(msg, sk);
    expect(verify(sig, new TextEncoder().encode('indomaim'), publicKeyOf(sk))).toBe(false);
    expect(verify(sig, msg, publicKeyOf(generateSecretKey()))).toBe(false);
    expect(verify(sig.subarray(1), msg, publicKeyOf(sk))).toBe(false);
    expect(verify(sig, msg, new Uint8Array(31))).toBe(false);
  });
});
