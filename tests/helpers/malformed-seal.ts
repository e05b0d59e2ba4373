/**
 * Malformed SEAL objects, made from a valid one (a ciphertext or a public key, which has the same
 * layout) by one mutation each: what a malicious peer could send instead of a ciphertext or key.
 * Every mutation breaks a rule of the format (protocols/he/wire.ts lists it); SEAL 4.x's loader
 * refuses each by throwing, except an older minor version or non-zero reserved bytes, which SEAL
 * reads and wire.ts refuses too.
 *
 * Offsets of a top-level ciphertext object: header 0–15 (magic 0, header size 2, version 3–4,
 * compression 5, reserved 6–7, size 8), parms_id 16, is_ntt_form 48, size 49, degree 57, prime
 * count 65, scale 73, correction factor 81, data header 89, coefficient count 105, coefficients 113;
 * a seeded one then has a PRNG object (header, type, 64-byte seed).
 */
import { createHash } from 'node:crypto';
import type { Rng } from '../../engine/rng.ts';

export interface SealTemplate {
  /** A valid serialised ciphertext or public key. */
  readonly bytes: Uint8Array;
  /** The primes of its level, in order. */
  readonly primes: readonly bigint[];
  readonly degree: number;
  /** CKKS data ciphertext (any positive normal scale loads), or BFV / key (scale must be 1). */
  readonly scaled: boolean;
  /** parms_ids of this context that are not valid here (another level's, e.g. the key level's). */
  readonly otherIds: readonly Uint8Array[];
}

const DATA = 113;
export const MUTATIONS = [
  'truncated',
  'magic',
  'header byte',
  'declared size',
  'inner declared size',
  'parms id',
  'ntt flag',
  'size field',
  'degree',
  'prime count',
  'scale',
  'correction factor',
  'coefficient count',
  'coefficient ≥ prime',
  'random body, valid header',
  'trailing bytes',
] as const;

const int = (rng: Rng, below: number): number => Math.floor(rng.next() * below);

function u64(rng: Rng): bigint {
  const b = rng.bytes(8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** A u64 different from `not` (and from each of `alsoNot`). */
function otherU64(rng: Rng, not: readonly bigint[]): bigint {
  const small = [0n, 1n, 2n, 3n, 4n, 16n, 17n, 4096n, 16384n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n];
  for (;;) {
    const v = rng.next() < 0.4 ? small[int(rng, small.length)]! : rng.next() < 0.5 ? BigInt(int(rng, 1 << 20)) : u64(rng);
    if (!not.includes(v)) return v;
  }
}

/** One malformed object: mutation `kind` of the template, parameters drawn from `rng`. */
export function mutate(t: SealTemplate, kind: (typeof MUTATIONS)[number], rng: Rng): Uint8Array {
  const src = t.bytes;
  const b = src.slice();
  const dv = new DataView(b.buffer);
  const k = t.primes.length;
  const n = t.degree;
  const seeded = dv.getBigUint64(105, true) === BigInt(k * n);
  const headers = seeded ? [0, 89, DATA + 8 * k * n] : [0, 89];
  switch (kind) {
    case 'truncated':
      return src.slice(0, int(rng, src.length));
    case 'magic': {
      let m = int(rng, 0x10000);
      if (m === 0xa15e) m ^= 1;
      dv.setUint16(headers[int(rng, headers.length)]!, m, true);
      return b;
    }
    case 'header byte': {
      // Header size, SEAL version, compression (1 zlib, 2 zstd: not accepted), reserved.
      const at = headers[int(rng, headers.length)]! + 2 + int(rng, 6);
      dv.setUint8(at, (dv.getUint8(at) + 1 + int(rng, 255)) % 256);
      return b;
    }
    case 'declared size':
      dv.setBigUint64(8, otherU64(rng, [BigInt(src.length)]), true);
      return b;
    case 'inner declared size':
      dv.setBigUint64(97, otherU64(rng, [dv.getBigUint64(97, true)]), true);
      return b;
    case 'parms id': {
      const id = rng.next() < 0.5 && t.otherIds.length > 0 ? t.otherIds[int(rng, t.otherIds.length)]! : rng.bytes(32);
      b.set(id, 16);
      return b;
    }
    case 'ntt flag': {
      const v = dv.getUint8(48);
      dv.setUint8(48, v === 0 ? 1 + int(rng, 255) : rng.next() < 0.5 ? 0 : 2 + int(rng, 254));
      return b;
    }
    case 'size field':
      dv.setBigUint64(49, otherU64(rng, [2n]), true);
      return b;
    case 'degree':
      dv.setBigUint64(57, otherU64(rng, [BigInt(n)]), true);
      return b;
    case 'prime count':
      dv.setBigUint64(65, otherU64(rng, [BigInt(k)]), true);
      return b;
    case 'scale': {
      // SEAL loads a CKKS ciphertext at any positive normal scale, a BFV one or a key at 1 only.
      const bad = t.scaled ? [0, -0, -(2 ** 40), NaN, Infinity, -Infinity, 2 ** -1040 * (1 + int(rng, 1000))] : [0, 2, 0.5, 2 ** 40 * rng.next() + 1.5, NaN, -1];
      dv.setFloat64(73, bad[int(rng, bad.length)]!, true);
      return b;
    }
    case 'correction factor':
      dv.setBigUint64(81, otherU64(rng, [1n]), true);
      return b;
    case 'coefficient count':
      dv.setBigUint64(105, otherU64(rng, [BigInt(k * n), BigInt(2 * k * n)]), true);
      return b;
    case 'coefficient ≥ prime': {
      const polys = seeded ? 1 : 2;
      const j = int(rng, k);
      const at = DATA + 8 * ((int(rng, polys) * k + j) * n + int(rng, n));
      const q = t.primes[j]!;
      const over = rng.next() < 0.3 ? 0n : u64(rng) % (2n ** 64n - q);
      dv.setBigUint64(at, q + over, true);
      return b;
    }
    case 'random body, valid header': {
      b.set(rng.bytes(b.length - 16), 16);
      return b;
    }
    case 'trailing bytes': {
      const extra = 1 + int(rng, 64);
      const out = new Uint8Array(src.length + extra);
      out.set(src);
      out.set(rng.bytes(extra), src.length);
      // Half of them also declare the longer size, so only the inner sizes disagree.
      if (rng.next() < 0.5) new DataView(out.buffer).setBigUint64(8, BigInt(out.length), true);
      return out;
    }
  }
  throw new Error(`unknown mutation ${String(kind)}`);
}

/**
 * `count` distinct malformed objects from the templates, the mutations taken in turn. Yields one
 * at a time (a ciphertext is a quarter of a megabyte; thousands are not held at once).
 */
export function* malformed(templates: readonly SealTemplate[], count: number, rng: Rng): Generator<{ kind: string; bytes: Uint8Array }> {
  const seen = new Set<string>();
  let i = 0;
  while (seen.size < count) {
    const t = templates[i % templates.length]!;
    const kind = MUTATIONS[Math.floor(i / templates.length) % MUTATIONS.length]!;
    i++;
    const bytes = mutate(t, kind, rng);
    const h = createHash('sha256').update(bytes).digest('hex');
    if (seen.has(h)) continue;
    seen.add(h);
    yield { kind, bytes };
  }
}
