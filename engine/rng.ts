/**
 * Randomness, injected. Protocol steps that need randomness take an {@link Rng}. Secrets (blinding
 * scalars, masks, flooding noise, triple seeds) come from a cryptographic generator only:
 * {@link cryptoRng} (the operating system), or {@link secretRng}, a deterministic stream derived
 * from a stored per-job secret so that a restarted node replays the same messages. Tests and
 * reproducible data splits use {@link seededRng}, which is NOT cryptographic.
 */
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** n uniformly random bytes. */
  bytes(n: number): Uint8Array;
}

/** Cryptographically secure randomness from the operating system. */
export const cryptoRng: Rng = {
  next() {
    const b = randomBytes(8);
    // 53 random bits.
    return (b.readUInt32BE(0) * 2 ** 21 + (b.readUInt32BE(4) >>> 11)) / 2 ** 53;
  },
  bytes(n) {
    return new Uint8Array(randomBytes(n));
  },
};

/**
 * A cryptographic stream for one purpose, derived from a secret: AES-256-CTR keyed by
 * HKDF-SHA256(secret, salt "indomain/secret-rng/v1", info = purpose). Deterministic (the same
 * secret and purpose give the same stream, so replays repeat their messages) and, to anyone without
 * the secret, indistinguishable from uniform; streams of different purposes are independent. The
 * secret must itself come from a cryptographic generator (at least 16 bytes).
 */
export function secretRng(secret: Uint8Array, purpose: string): Rng {
  if (!(secret instanceof Uint8Array) || secret.length < 16) throw new Error('secretRng needs a secret of at least 16 bytes');
  const okm = new Uint8Array(hkdfSync('sha256', secret, 'indomain/secret-rng/v1', `purpose:${purpose}`, 48));
  const cipher = createCipheriv('aes-256-ctr', okm.subarray(0, 32), okm.subarray(32, 48));
  const BLOCK = 4096;
  const zeros = new Uint8Array(BLOCK);
  let buf = new Uint8Array(0);
  let pos = 0;
  const take = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pos === buf.length) {
        buf = new Uint8Array(cipher.update(zeros));
        pos = 0;
      }
      const k = Math.min(n - filled, buf.length - pos);
      out.set(buf.subarray(pos, pos + k), filled);
      pos += k;
      filled += k;
    }
    return out;
  };
  return {
    next() {
      const b = take(8);
      const v = new DataView(b.buffer);
      return (v.getUint32(0) * 2 ** 21 + (v.getUint32(4) >>> 11)) / 2 ** 53;
    },
    bytes: take,
  };
}

/**
 * A deterministic generator (xoshiro128**) seeded from any string or number through SHA-256.
 * FOR TESTS AND REPRODUCIBLE SPLITS ONLY: never use it for keys or masks in production.
 */
export function seededRng(seed: string | number): Rng {
  const h = createHash('sha256').update(`indomain-rng:${seed}`).digest();
  let a = h.readUInt32LE(0) | 0;
  let b = h.readUInt32LE(4) | 0;
  let c = h.readUInt32LE(8) | 0;
  let d = h.readUInt32LE(12) | 0;
  const u32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9);
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r >>> 0;
  };
  return {
    next: () => (u32() * 2 ** 21 + (u32() >>> 11)) / 2 ** 53,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = u32();
        for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
      }
      return out;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A standard normal draw (Box-Muller). */
export function gaussian(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * n independent standard normal draws (Box-Muller, both outputs of each pair) from one
 * `rng.bytes` call: 53-bit uniforms from 8 bytes each, the same construction as `next`. For the
 * noise floods (protocols/he/ckks.ts), where a per-draw `next` cost more than the encryption the
 * noise goes into (4,096 draws: 30 ms against 2 ms).
 */
export function gaussians(rng: Rng, n: number): Float64Array {
  const out = new Float64Array(n);
  const pairs = Math.ceil(n / 2);
  const b = rng.bytes(16 * pairs);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const uniform = (o: number) => (v.getUint32(o) * 2 ** 21 + (v.getUint32(o + 4) >>> 11)) / 2 ** 53;
  for (let p = 0; p < pairs; p++) {
    // 1 − u lies in (0, 1]: the logarithm stays finite.
    const r = Math.sqrt(-2 * Math.log(1 - uniform(16 * p)));
    const t = 2 * Math.PI * uniform(16 * p + 8);
    out[2 * p] = r * Math.cos(t);
    if (2 * p + 1 < n) out[2 * p + 1] = r * Math.sin(t);
  }
  return out;
}

/** Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
