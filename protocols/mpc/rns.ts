/**
 * Additive secret sharing in Z_M, M the product of five primes just below 2^21 (M ≈ 2^105), held
 * in residue-number form: a value is its five residues, one per prime (Chinese remainder theorem).
 *
 * Why this ring. vfl-lr shares per-row residuals at scale 2^52 (coefficients and basis each at 2^26)
 * and takes their products with fixed-point columns (column norm ≤ 2^38): the sums reach 2^101 for
 * a million rows. Z_2^64 would need a truncation of shared values in between, which a dealer can
 * only do exactly with a statistical mask far wider than the value (2^40 over it): the ring would
 * have to be 2^82 wide anyway. Five 21-bit primes give 2^105 with exact double arithmetic: a
 * product of two residues is below 2^42, so 2^11 of them add up below 2^53 before one reduction.
 * A dot product costs two flops per prime and element; nothing is truncated, nothing wraps.
 *
 * Layout: a vector of `count` values is an Int32Array of 5·count residues, prime-major (all
 * residues mod p₀, then mod p₁, …); a matrix of `columns` × `count` is prime-major, then
 * column-major. Uniform masks come from AES-128-CTR keyed by SHA-256(label ‖ seed) (its first 16 bytes), residues by
 * rejection from 21-bit words (exactly uniform mod p), so one seed and label give one stream.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { IndomainError } from '../../engine/errors.ts';

/** The five largest primes below 2^21. */
export const PRIMES: readonly number[] = [2097143, 2097133, 2097131, 2097097, 2097091];
export const RESIDUES = PRIMES.length;
/** Products of two residues summed before a reduction: 2^11 · 2^42 = 2^53. */
const LAZY = 2048;
const INVERSE = PRIMES.map((p) => 1 / p);
const MODULUS = PRIMES.reduce((m, p) => m * BigInt(p), 1n);
const HALF = MODULUS / 2n;
/** Per prime, (M/p)·((M/p)⁻¹ mod p): the CRT basis. */
const CRT = PRIMES.map((p) => {
  const mp = MODULUS / BigInt(p);
  return mp * modInverse(mp % BigInt(p), BigInt(p));
});

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

/**
 * Residues of round(x·2^bits) for each value, minus `pad` when given (one pass: the padded value
 * a party sends). |x·2^bits| must stay below 2^53 (exact integers).
 */
export function encodeFixed(values: Float64Array, bits: number, field: string, pad?: Int32Array): Int32Array {
  const n = values.length;
  const out = new Int32Array(RESIDUES * n);
  const scale = 2 ** bits;
  const ints = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(values[i]! * scale);
    if (!(v < 2 ** 53 && v > -(2 ** 53))) throw new IndomainError('VFL_BAD_DATA', `value ${values[i]} does not fit the fixed-point range at 2^${bits}`, { field });
    ints[i] = v;
  }
  if (pad && pad.length !== out.length) throw new IndomainError('VFL_BAD_MESSAGE', `a pad of ${pad.length} residues for ${out.length}`);
  for (let k = 0; k < RESIDUES; k++) reduceInto(out, k * n, ints, PRIMES[k]!, INVERSE[k]!, pad);
  return out;
}

/**
 * out[off + i] = v_i mod p for exact integers |v_i| < 2^53: floor division in doubles (off by at
 * most one, corrected), several times faster than fmod. One prime per call keeps the loop monomorphic.
 */
function reduceInto(out: Int32Array, off: number, ints: Float64Array, p: number, inv: number, pad?: Int32Array): void {
  for (let i = 0; i < ints.length; i++) {
    const v = ints[i]!;
    let r = v - Math.floor(v * inv) * p;
    if (r < 0) r += p;
    else if (r >= p) r -= p;
    if (pad) {
      r -= pad[off + i]!;
      if (r < 0) r += p;
    }
    out[off + i] = r;
  }
}

/** Decode shared values (already summed): the centred value of each in Z_M, divided by 2^bits. */
export function decodeFixed(v: Int32Array, bits: number): Float64Array {
  const n = v.length / RESIDUES;
  const out = new Float64Array(n);
  const unit = 2 ** -bits;
  for (let i = 0; i < n; i++) {
    let x = 0n;
    for (let k = 0; k < RESIDUES; k++) x += BigInt(v[k * n + i]!) * CRT[k]!;
    x %= MODULUS;
    if (x > HALF) x -= MODULUS;
    // Split so that the conversion keeps 53 significant bits of a value up to 2^104.
    const hi = x >> 52n;
    const lo = x - (hi << 52n);
    out[i] = (Number(hi) * 2 ** 52 + Number(lo)) * unit;
  }
  return out;
}

/** Keystream words per block (1 MiB of AES-128-CTR output, over one reused zero buffer). */
const KEYSTREAM_WORDS = 1 << 18;
const ZEROS = Buffer.alloc(4 * KEYSTREAM_WORDS);

/** `count` uniform values of Z_M (5·count residues) from a seed and a label. */
export function uniform(seed: Uint8Array, label: string, count: number): Int32Array {
  if (seed.length !== 32) throw new IndomainError('VFL_BAD_MESSAGE', `mask seed of ${seed.length} bytes, 32 expected`, { field: 'seed' });
  const key = createHash('sha256').update('indomain/rns/').update(label).update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), Buffer.alloc(16));
  const out = new Int32Array(RESIDUES * count);
  // 21-bit words, rejected at or above the prime (probability below 2^-15): exactly uniform. The
  // stream is read in order, a keystream block at a time, so a seed and label always give the
  // same residues.
  const total = out.length;
  let filled = 0;
  let k = 0;
  let p = PRIMES[0]!;
  let end = count;
  while (filled < total) {
    const bytes = cipher.update(ZEROS);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, KEYSTREAM_WORDS);
    for (let w = 0; w < KEYSTREAM_WORDS && filled < total; w++) {
      const x = words[w]! & 0x1fffff;
      if (x < p) {
        out[filled++] = x;
        if (filled === end && filled < total) {
          p = PRIMES[++k]!;
          end += count;
        }
      }
    }
  }
  return out;
}

/** a − b, elementwise, into `out` (a new array by default). */
export function sub(a: Int32Array, b: Int32Array, out = new Int32Array(a.length)): Int32Array {
  same(a, b);
  const n = a.length / RESIDUES;
  for (let k = 0; k < RESIDUES; k++) {
    const p = PRIMES[k]!;
    for (let i = k * n, e = i + n; i < e; i++) {
      // Branch-free: the sign of a difference of uniform residues is a coin toss.
      const d = a[i]! - b[i]!;
      out[i] = d + ((d >> 31) & p);
    }
  }
  return out;
}

/** a + b, elementwise, into `out` (into a by default). */
export function add(a: Int32Array, b: Int32Array, out = a): Int32Array {
  same(a, b);
  const n = a.length / RESIDUES;
  for (let k = 0; k < RESIDUES; k++) {
    const p = PRIMES[k]!;
    for (let i = k * n, e = i + n; i < e; i++) {
      const s = a[i]! + b[i]! - p;
      out[i] = s + ((s >> 31) & p);
    }
  }
  return out;
}

function same(a: Int32Array, b: Int32Array): void {
  if (a.length !== b.length || a.length % RESIDUES !== 0) throw new IndomainError('VFL_BAD_MESSAGE', `shares of ${a.length} and ${b.length} residues`);
}

/**
 * Per row i, Σ_v a_v[i]·b_v[i] over `vectors` vectors of `count` rows each (both prime-major,
 * then vector-major): `count` values.
 */
export function rowDot(a: Int32Array, b: Int32Array, vectors: number, count: number): Int32Array {
  if (a.length !== RESIDUES * vectors * count || b.length !== a.length) {
    throw new IndomainError('VFL_BAD_MESSAGE', `${a.length} and ${b.length} residues for ${vectors} vectors of ${count} rows`);
  }
  const out = new Int32Array(RESIDUES * count);
  const acc = new Float64Array(count);
  for (let k = 0; k < RESIDUES; k++) {
    const p = PRIMES[k]!;
    acc.fill(0);
    for (let v = 0; v < vectors; v++) {
      const off = (k * vectors + v) * count;
      for (let i = 0; i < count; i++) acc[i] += a[off + i]! * b[off + i]!;
      if ((v + 1) % LAZY === 0) for (let i = 0; i < count; i++) acc[i] %= p;
    }
    for (let i = 0; i < count; i++) out[k * count + i] = acc[i]! % p;
  }
  return out;
}

/**
 * mᵀ v for a matrix m of `columns` × `count` (prime-major, then column-major) and a vector v of
 * `count` values, added into `into` (`columns` values, prime-major).
 */
export function matVecInto(into: Int32Array, m: Int32Array, columns: number, v: Int32Array, count: number): void {
  if (m.length !== RESIDUES * columns * count || v.length !== RESIDUES * count || into.length !== RESIDUES * columns) {
    throw new IndomainError('VFL_BAD_MESSAGE', `${m.length} matrix and ${v.length} vector residues for ${columns} columns of ${count} rows`);
  }
  for (let k = 0; k < RESIDUES; k++) {
    const p = PRIMES[k]!;
    const vo = k * count;
    for (let j = 0; j < columns; j++) {
      const mo = (k * columns + j) * count;
      let s = 0;
      for (let start = 0; start < count; start += LAZY) {
        const end = Math.min(count, start + LAZY);
        let t = 0;
        for (let i = start; i < end; i++) t += m[mo + i]! * v[vo + i]!;
        s = (s + (t % p)) % p;
      }
      const o = k * columns + j;
      const r = into[o]! + s;
      into[o] = r >= p ? r - p : r;
    }
  }
}

/** Wire bytes of residues (little-endian, as every supported platform). */
export function toBytes(v: Int32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Residues from wire bytes: exactly `count` values, each residue below its prime (a coded error otherwise). */
export function fromBytes(b: Uint8Array, count: number, field: string): Int32Array {
  if (!(b instanceof Uint8Array) || b.length !== 4 * RESIDUES * count) {
    throw new IndomainError('VFL_BAD_MESSAGE', `${b instanceof Uint8Array ? b.length : typeof b} bytes, ${4 * RESIDUES * count} expected (${count} shared values)`, { field });
  }
  const copy = new Uint8Array(b);
  const v = new Int32Array(copy.buffer, 0, RESIDUES * count);
  for (let k = 0; k < RESIDUES; k++) {
    const p = PRIMES[k]!;
    for (let i = k * count, e = i + count; i < e; i++) {
      const r = v[i]!;
      if (!(r >= 0 && r < p)) throw new IndomainError('VFL_BAD_MESSAGE', `residue ${r} out of range for prime ${p}`, { field });
    }
  }
  return v;
}
