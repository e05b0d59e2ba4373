/**
 * The arithmetic and primitives of secure aggregation (protocols/secagg/protocol.ts):
 *
 * - the ring Z_M, M = 2^52, in which inputs are summed: fixed-point integers held exactly in doubles
 *   (a sum of two elements is below 2^53, so addition and subtraction modulo M are exact);
 * - masks: a vector of uniform ring elements expanded from a 256-bit seed by AES-256-CTR
 *   (a cryptographic PRG; each 8 keystream bytes give 52 uniform bits);
 * - key agreement: X25519 (RFC 7748) through node:crypto, the shared secret expanded by HKDF-SHA256
 *   with the job, the aggregation round and the purpose, so no seed serves two purposes or rounds;
 * - Shamir secret sharing (Shamir, CACM 1979) of 32-byte secrets over GF(2^8), byte by byte, at
 *   evaluation points 1..n (at most 255 banks);
 * - authenticated encryption of shares between two banks: AES-256-GCM under a key agreed between
 *   them, with the sender, receiver, job and round as associated data.
 */
import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';
import { keystream } from '../mpc/cross-gram.ts';
import { x25519PrivateKey, x25519PublicKey } from '../psi/group.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';

/** The ring modulus, 2^52. */
export const RING = 2 ** 52;
const HALF = 2 ** 51;

export function ringAdd(a: number, b: number): number {
  const s = a + b;
  return s >= RING ? s - RING : s;
}

export function ringSub(a: number, b: number): number {
  const d = a - b;
  return d < 0 ? d + RING : d;
}

/**
 * Fixed-point encoding: round(x·2^f) modulo M. Refuses a value whose encoding, summed over `parties`
 * inputs, could leave (−2^51, 2^51): the sum would wrap. Names the position of the first bad value.
 */
export function encodeFixed(values: Float64Array, fractionBits: number, parties: number): Float64Array {
  const scale = 2 ** fractionBits;
  const limit = HALF / Math.max(1, parties);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i]! * scale);
    if (!Number.isFinite(v) || Math.abs(v) >= limit) {
      throw new IndomainError('SECAGG_OUT_OF_RANGE', `value ${i} is outside ±${(limit / scale).toExponential(2)} at ${fractionBits} fraction bits for ${parties} inputs`, { field: `input[${i}]` });
    }
    out[i] = v < 0 ? v + RING : v;
  }
  return out;
}

/** The signed values of a ring vector, divided by 2^f. */
export function decodeFixed(ring: Float64Array, fractionBits: number): Float64Array {
  const scale = 2 ** fractionBits;
  const out = new Float64Array(ring.length);
  for (let i = 0; i < ring.length; i++) out[i] = (ring[i]! >= HALF ? ring[i]! - RING : ring[i]!) / scale;
  return out;
}

/** `length` uniform ring elements from a 32-byte seed (AES-256-CTR keystream, zero IV: one seed, one mask). */
export function expandMask(seed: Uint8Array, length: number): Float64Array {
  if (seed.length !== 32) throw new IndomainError('SECAGG_BAD_MESSAGE', `mask seed of ${seed.length} bytes, 32 expected`);
  const stream = keystream(seed, length * 8);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const lo = stream.readUInt32LE(8 * i);
    const hi = stream.readUInt32LE(8 * i + 4) & 0xfffff;
    out[i] = hi * 2 ** 32 + lo;
  }
  return out;
}

// ---- X25519 ----------------------------------------------------------------------------------

export interface KeyPair {
  readonly secret: Uint8Array;
  readonly public: Uint8Array;
}

/** An X25519 key pair from 32 secret bytes of `rng` (X25519 clamps them). */
export function keyPair(rng: Rng): KeyPair {
  const secret = rng.bytes(32);
  const pub = createPublicKey(privateKey(secret)).export({ format: 'jwk' }).x!;
  return { secret, public: new Uint8Array(Buffer.from(pub, 'base64url')) };
}

/** Imported private keys, by the secret's bytes object: a DER import costs ~10× the agreement itself. */
const imported = new WeakMap<Uint8Array, KeyObject>();

function privateKey(secret: Uint8Array): KeyObject {
  let key = imported.get(secret);
  if (!key) {
    key = x25519PrivateKey(secret);
    imported.set(secret, key);
  }
  return key;
}

/**
 * A 32-byte key agreed between a secret and another party's public key, bound to a context
 * (job, round, purpose). Refuses a public key that is not 32 bytes or a small-order point.
 */
export function agree(secret: Uint8Array, theirPublic: Uint8Array, context: string): Uint8Array {
  if (theirPublic.length !== 32) throw new IndomainError('SECAGG_BAD_MESSAGE', `public key of ${theirPublic.length} bytes, 32 expected`, { field: 'publicKey' });
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: privateKey(secret), publicKey: x25519PublicKey(theirPublic) });
  } catch {
    throw new IndomainError('SECAGG_BAD_MESSAGE', 'a public key is not a valid X25519 point', { field: 'publicKey' });
  }
  return new Uint8Array(hkdfSync('sha256', shared, 'indomain/secagg/v1', context, 32));
}

// ---- Authenticated encryption of shares ------------------------------------------------------

/** AES-256-GCM: nonce (12) ‖ ciphertext ‖ tag (16). */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string, rng: Rng): Uint8Array {
  const nonce = rng.bytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, c.getAuthTag()]));
}

export function open(key: Uint8Array, sealed: Uint8Array, aad: string): Uint8Array {
  if (sealed.length < 28) throw new IndomainError('SECAGG_BAD_MESSAGE', `sealed share of ${sealed.length} bytes`, { field: 'shares' });
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return new Uint8Array(Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]));
  } catch {
    throw new IndomainError('SECAGG_BAD_MESSAGE', 'a sealed share does not authenticate', { field: 'shares' });
  }
}

// ---- Shamir over GF(2^8) ---------------------------------------------------------------------

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  // Generator 3 of GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1.
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0);
    x &= 0xff;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255]!;
}

function mul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

function div(a: number, b: number): number {
  if (b === 0) throw new Error('division by zero in GF(256)');
  return a === 0 ? 0 : EXP[LOG[a]! + 255 - LOG[b]!]!;
}

/** One share: the evaluation point x ∈ 1..255 and the polynomials' values there. */
export interface Share {
  readonly x: number;
  readonly y: Uint8Array;
}

/** Shares of `secret` at points 1..n, any `threshold` of which rebuild it and fewer tell nothing. */
export function split(secret: Uint8Array, n: number, threshold: number, rng: Rng): Share[] {
  if (!(threshold >= 1 && threshold <= n && n <= 255)) {
    throw new IndomainError('SECAGG_BAD_CONFIG', `threshold ${threshold} of ${n} shares (1 ≤ t ≤ n ≤ 255)`, { field: 'threshold' });
  }
  const coeffs = rng.bytes(secret.length * (threshold - 1));
  const shares: Share[] = [];
  for (let x = 1; x <= n; x++) {
    const y = new Uint8Array(secret.length);
    for (let b = 0; b < secret.length; b++) {
      // Horner: secret + c1·x + … + c_{t−1}·x^{t−1}.
      let acc = 0;
      for (let k = threshold - 2; k >= 0; k--) acc = mul(acc, x) ^ coeffs[b * (threshold - 1) + k]!;
      y[b] = mul(acc, x) ^ secret[b]!;
    }
    shares.push({ x, y });
  }
  return shares;
}

/** The secret from at least `threshold` shares at distinct points (Lagrange interpolation at 0). */
export function combine(shares: readonly Share[]): Uint8Array {
  const xs = shares.map((s) => s.x);
  if (new Set(xs).size !== xs.length || xs.some((x) => x < 1 || x > 255)) throw new IndomainError('SECAGG_BAD_MESSAGE', 'shares at repeated or invalid points', { field: 'shares' });
  const len = shares[0]?.y.length ?? 0;
  const out = new Uint8Array(len);
  shares.forEach((s, i) => {
    // Lagrange basis at 0: Π_{j≠i} x_j / (x_j − x_i); subtraction is XOR.
    let w = 1;
    shares.forEach((o, j) => {
      if (j !== i) w = mul(w, div(o.x, o.x ^ s.x));
    });
    for (let b = 0; b < len; b++) out[b]! ^= mul(w, s.y[b]!);
  });
  return out;
}
