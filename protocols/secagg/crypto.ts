/**
 * The arithmetic and primitives of secure aggregation (protocols/secagg/protocol.ts):
 *
 * - the ring Z_M, M = 2^52, in which inputs are summed: fixed-point integers held exactly in doubles
 *   (a sum of two elements is below 2^53, so addition and subtraction modulo M are exact);
 * - masks: a vector of uniform ring elements expanded from a 256-bit seed by AES-256-CTR
 *   (a cryptographic PRG; each 8 keystream bytes give 52 uniform bits). A self-mask seed is fresh
 *   each round (zero IV: one seed, one mask); a pairwise key serves every round of a job, the round
 *   number in the high 64 bits of the counter block and the block index in the low 64 (AES as a PRF
 *   over (round, block): the KDF over the job's rounds of NIST SP 800-108 counter mode), so no two
 *   rounds share keystream;
 * - key agreement: X25519 (RFC 7748) through node:crypto, the shared secret expanded by HKDF-SHA256
 *   with the job and the purpose, so no key serves two purposes or jobs;
 * - Shamir secret sharing (Shamir, CACM 1979) of 32-byte secrets over GF(2^8), byte by byte, at
 *   evaluation points 1..n (at most 255 banks);
 * - authenticated encryption of shares between two banks: AES-256-GCM under a key agreed between
 *   them, with the sender, receiver, job and round as associated data.
 */
import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
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
  return ringElements(keystream(seed, length * 8), length);
}

/**
 * `length` uniform ring elements for aggregation round `round` from a job's 32-byte pairwise key:
 * AES-256-CTR with the counter block (round ‖ 0^64), so each round reads its own keystream.
 */
export function expandRoundMask(key: Uint8Array, round: number, length: number): Float64Array {
  return ringElements(roundStream(key, round, length), length);
}

function roundStream(key: Uint8Array, round: number, length: number): Buffer {
  if (key.length !== 32) throw new IndomainError('SECAGG_BAD_MESSAGE', `pairwise key of ${key.length} bytes, 32 expected`);
  if (!Number.isSafeInteger(round) || round < 0) throw new IndomainError('SECAGG_BAD_CONFIG', `round ${round} is not a non-negative integer`, { field: 'round' });
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(round), 0);
  return createCipheriv('aes-256-ctr', key, iv).update(zeros(length * 8));
}

/**
 * y ← y + sign·PRG(key, round) mod M in place: {@link expandRoundMask} without the intermediate
 * vector (a bank adds n − 1 of these per round).
 */
export function addRoundMask(y: Float64Array, key: Uint8Array, round: number, sign: 1 | -1): void {
  const stream = roundStream(key, round, y.length);
  const aligned = stream.byteOffset % 4 === 0;
  const words = aligned ? new Uint32Array(stream.buffer, stream.byteOffset, 2 * y.length) : undefined;
  for (let i = 0; i < y.length; i++) {
    const lo = words ? words[2 * i]! : stream.readUInt32LE(8 * i);
    const hi = (words ? words[2 * i + 1]! : stream.readUInt32LE(8 * i + 4)) & 0xfffff;
    const m = hi * 2 ** 32 + lo;
    if (sign > 0) {
      const s = y[i]! + m;
      y[i] = s >= RING ? s - RING : s;
    } else {
      const d = y[i]! - m;
      y[i] = d < 0 ? d + RING : d;
    }
  }
}

let zeroBlock = Buffer.alloc(0);
function zeros(bytes: number): Buffer {
  if (zeroBlock.length < bytes) zeroBlock = Buffer.alloc(bytes);
  return zeroBlock.subarray(0, bytes);
}

function ringElements(stream: Buffer, length: number): Float64Array {
  const out = new Float64Array(length);
  // Little-endian words, read through a 32-bit view when the buffer is aligned (it usually is).
  const words = stream.byteOffset % 4 === 0 ? new Uint32Array(stream.buffer, stream.byteOffset, 2 * length) : undefined;
  for (let i = 0; i < length; i++) {
    const lo = words ? words[2 * i]! : stream.readUInt32LE(8 * i);
    const hi = (words ? words[2 * i + 1]! : stream.readUInt32LE(8 * i + 4)) & 0xfffff;
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

/**
 * AES-256-GCM: nonce (12) ‖ ciphertext ‖ tag (16). The caller gives a nonce that never repeats
 * under `key` ({@link shareNonce}); the associated data binds the job, purpose, sender and receiver.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string, nonce: Uint8Array): Uint8Array {
  if (nonce.length !== 12) throw new IndomainError('SECAGG_BAD_CONFIG', `nonce of ${nonce.length} bytes, 12 expected`);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, c.getAuthTag()]));
}

/**
 * The nonce of the one share a bank seals to another in `round` (0: its mask-key share in the key
 * set-up; r ≥ 1: its seed share of round r): round (8 bytes, big-endian) ‖ direction (1 byte: 0 when
 * the sender comes first in the configured order) ‖ 0 0 0. A seal key serves one pair of banks in
 * one job, each bank seals one share to the other per round and rounds only increase, so no nonce
 * repeats under a key.
 */
export function shareNonce(round: number, senderFirst: boolean): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(round), 0);
  nonce[8] = senderFirst ? 0 : 1;
  return new Uint8Array(nonce);
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
    const lx = LOG[x]!;
    for (let b = 0; b < secret.length; b++) {
      // Horner: secret + c1·x + … + c_{t−1}·x^{t−1} (acc·x through the log table, x ≠ 0).
      let acc = 0;
      const base = b * (threshold - 1);
      for (let k = threshold - 2; k >= 0; k--) acc = (acc === 0 ? 0 : EXP[LOG[acc]! + lx]!) ^ coeffs[base + k]!;
      y[b] = (acc === 0 ? 0 : EXP[LOG[acc]! + lx]!) ^ secret[b]!;
    }
    shares.push({ x, y });
  }
  return shares;
}

/** Lagrange basis weights at 0 for these points, by the points (every secret of a round shares them). */
const weightCache = new Map<string, Uint8Array>();

function lagrangeAtZero(xs: readonly number[]): Uint8Array {
  const k = xs.join();
  let w = weightCache.get(k);
  if (!w) {
    if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isInteger(x) || x < 1 || x > 255)) throw new IndomainError('SECAGG_BAD_MESSAGE', 'shares at repeated or invalid points', { field: 'shares' });
    // Π_{j≠i} x_j / (x_j − x_i); subtraction is XOR.
    w = Uint8Array.from(xs, (xi, i) => xs.reduce((acc, xj, j) => (j === i ? acc : mul(acc, div(xj, xj ^ xi))), 1));
    if (weightCache.size > 1024) weightCache.clear();
    weightCache.set(k, w);
  }
  return w;
}

/** The secret from at least `threshold` shares at distinct points (Lagrange interpolation at 0). */
export function combine(shares: readonly Share[]): Uint8Array {
  const w = lagrangeAtZero(shares.map((s) => s.x));
  const len = shares[0]?.y.length ?? 0;
  const out = new Uint8Array(len);
  shares.forEach((s, i) => {
    const lw = LOG[w[i]!]!;
    if (w[i] === 0) return;
    for (let b = 0; b < len; b++) {
      const y = s.y[b]!;
      if (y !== 0) out[b]! ^= EXP[lw + LOG[y]!]!;
    }
  });
  return out;
}

/** A bank's Ed25519 identity: the public key as SPKI DER (for the job's configuration) and a signer. */
export interface Identity {
  readonly publicKey: Uint8Array;
  readonly sign: (data: Uint8Array) => Uint8Array;
}

/** A fresh Ed25519 identity from node:crypto (the in-memory driver's; nodes use their own). */
export function newIdentity(): Identity {
  const { publicKey, privateKey: secret } = generateKeyPairSync('ed25519');
  return { publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })), sign: (data) => new Uint8Array(sign(null, data, secret)) };
}

/** Whether `signature` is the identity's Ed25519 signature of `data` (false for any malformed input). */
export function verifySignature(identity: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    let key = identities.get(identity);
    if (!key) identities.set(identity, (key = createPublicKey({ key: Buffer.from(identity), format: 'der', type: 'spki' })));
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** Imported identity keys, by the configuration's bytes object (each bank checks every other's). */
const identities = new WeakMap<Uint8Array, KeyObject>();
