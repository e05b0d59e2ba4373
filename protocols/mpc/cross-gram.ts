/**
 * The cross Gram X_Gᵀ X_H of two parties' columns over the same rows, revealed only to a third
 * party (the dealer), with one Beaver multiplication triple (Beaver, CRYPTO 1991) in Z_2^32.
 *
 * Each party quantises its m × p columns to fixed point, Q = round(X·2^f), choosing f so that every
 * column's Euclidean norm is at most 2^15: by Cauchy–Schwarz every entry of Q_Gᵀ Q_H is then below
 * 2^30 in magnitude, so its residue mod 2^32 decodes exactly. The dealer D deals a triple:
 *   D → G  seed of A (m × p, uniform)          D → H  seed of B (m × q, uniform)
 *   D keeps C = Aᵀ B.
 *   G → H  E = Q_G − A, seed of R (p × q)      H → G  F = Q_H − B
 *   G → D  Aᵀ F + R                            H → D  Eᵀ Q_H − R
 *   D:     (Aᵀ F + R) + (Eᵀ Q_H − R) + C = Aᵀ Q_H − AᵀB + (Q_G − A)ᵀ Q_H + AᵀB = Q_Gᵀ Q_H.
 * E and F are one-time pads of the parties' data under keys only D holds (class `ciphertext`).
 * What each learns: H sees E and R, G sees F: uniform, independent of the data. D sees two shares
 * each masked by the uniform R, whose sum it could compute from the result: the result only.
 * Semi-honest and non-colluding (D with G learns Q_H from F and B, as an arbiter with either
 * party defeats the encryption elsewhere in vfl-lr).
 *
 * Masks come from AES-256-CTR keyed by a 32-byte seed (a cryptographic generator: a structured
 * Q_G would let a party recover the state of a statistical one from E). All arithmetic is exact
 * integer arithmetic modulo 2^32 (Math.imul, `| 0`).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { IndomainError } from '../../engine/errors.ts';

/** Fixed-point columns, column-major (column j at [j·rows, (j+1)·rows)). */
export interface Quantised {
  readonly values: Int32Array;
  readonly columns: number;
  readonly rows: number;
  /** Fractional bits f: values = round(x·2^f). */
  readonly bits: number;
}

/** Largest column norm after quantisation, so that products of two such columns stay below 2^30. */
const NORM_LIMIT = 2 ** 15;

/**
 * Quantise the first `rows` rows of each column. f is the largest integer (at most 40) that keeps
 * ‖round(x_j·2^f)‖₂ ≤ 2^15 for every j, rounding included. It discloses ⌈log₂ max‖x_j‖⌉ and no
 * more, which the dealer learns anyway from the parties' own Gram diagonals.
 */
export function quantise(cols: readonly Float64Array[], rows: number): Quantised {
  let maxNorm = 0;
  for (const c of cols) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += c[i]! * c[i]!;
    if (!Number.isFinite(s)) throw new IndomainError('VFL_BAD_DATA', 'a sample column holds a missing or non-finite value');
    maxNorm = Math.max(maxNorm, Math.sqrt(s));
  }
  const room = NORM_LIMIT - 0.5 * Math.sqrt(rows);
  const bits = maxNorm === 0 ? 0 : Math.min(40, Math.floor(Math.log2(room / maxNorm)));
  const scale = 2 ** bits;
  const values = new Int32Array(cols.length * rows);
  cols.forEach((c, j) => {
    for (let i = 0; i < rows; i++) values[j * rows + i] = Math.round(c[i]! * scale);
  });
  return { values, columns: cols.length, rows, bits };
}

/** `bytes` of AES-256-CTR keystream under a 32-byte seed, zero IV: one seed, one stream. */
export function keystream(seed: Uint8Array, bytes: number): Buffer {
  return createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

/** `count` uniform 32-bit words from a 32-byte seed (AES-256-CTR keystream). */
export function maskWords(seed: Uint8Array, count: number): Int32Array {
  if (seed.length !== 32) throw new IndomainError('VFL_BAD_MESSAGE', `mask seed of ${seed.length} bytes, 32 expected`, { field: 'seed' });
  const bytes = keystream(seed, count * 4);
  return new Int32Array(bytes.buffer, bytes.byteOffset, count).slice();
}

/** A seed derived from secret randomness and a label (SHA-256), so seeds for two parties are unrelated. */
export function deriveSeed(secret: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(label).update(secret).digest());
}

/** a − b mod 2^32, elementwise. */
export function ringSub(a: Int32Array, b: Int32Array): Int32Array {
  if (a.length !== b.length) throw new IndomainError('VFL_BAD_MESSAGE', `shares of ${a.length} and ${b.length} values`);
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i]! - b[i]!) | 0;
  return out;
}

/** a + b mod 2^32, elementwise, into a. */
export function ringAddInto(a: Int32Array, b: Int32Array): Int32Array {
  if (a.length !== b.length) throw new IndomainError('VFL_BAD_MESSAGE', `shares of ${a.length} and ${b.length} values`);
  for (let i = 0; i < a.length; i++) a[i] = (a[i]! + b[i]!) | 0;
  return a;
}

/** aᵀ b mod 2^32 for column-major a (rows × p) and b (rows × q): p × q, row-major. */
export function ringCross(a: Int32Array, p: number, b: Int32Array, q: number, rows: number): Int32Array {
  if (a.length !== p * rows || b.length !== q * rows) {
    throw new IndomainError('VFL_BAD_MESSAGE', `matrices of ${a.length} and ${b.length} values for ${rows} rows × ${p} and ${q} columns`);
  }
  const out = new Int32Array(p * q);
  for (let j = 0; j < p; j++) {
    const ja = j * rows;
    for (let l = 0; l < q; l++) {
      const lb = l * rows;
      let s = 0;
      for (let i = 0; i < rows; i++) s = (s + Math.imul(a[ja + i]!, b[lb + i]!)) | 0;
      out[j * q + l] = s;
    }
  }
  return out;
}

/** Bytes of an Int32Array for the wire (little-endian, as every supported platform). */
export function wordsToBytes(w: Int32Array): Uint8Array {
  return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
}

/** An Int32Array from wire bytes (copied: the wire buffer may be unaligned). */
export function bytesToWords(b: Uint8Array, field: string): Int32Array {
  if (b.length % 4 !== 0) throw new IndomainError('VFL_BAD_MESSAGE', `${b.length} bytes is not a whole number of 32-bit words`, { field });
  const copy = new Uint8Array(b);
  return new Int32Array(copy.buffer, 0, b.length / 4);
}

/** How many whole columns of `rows` values a padded sample holds (at least one). */
function columnsOf(words: Int32Array, rows: number): number {
  if (words.length === 0 || words.length % rows !== 0) throw new IndomainError('VFL_BAD_MESSAGE', `padded sample of ${words.length} values for ${rows} rows`, { field: 'padded' });
  return words.length / rows;
}

/** The guest's side (columns X_G, seed of A from the dealer). */
export class CrossGramLeft {
  private readonly a: Int32Array;
  readonly q: Quantised;
  private readonly maskSeed: Uint8Array;

  constructor(cols: readonly Float64Array[], rows: number, tripleSeed: Uint8Array, secret: Uint8Array) {
    this.q = quantise(cols, rows);
    this.a = maskWords(tripleSeed, this.q.values.length);
    this.maskSeed = deriveSeed(secret, 'indomain/cross-gram/R');
  }

  /** For the right party: E = Q_G − A and the seed of R. */
  padded(): { padded: Uint8Array; maskSeed: Uint8Array } {
    return { padded: wordsToBytes(ringSub(this.q.values, this.a)), maskSeed: this.maskSeed };
  }

  /** For the dealer, given the right party's F = Q_H − B (whole columns of this party's rows): Aᵀ F + R. */
  share(fBytes: Uint8Array): Uint8Array {
    const f = bytesToWords(fBytes, 'padded');
    const q = columnsOf(f, this.q.rows);
    const s = ringCross(this.a, this.q.columns, f, q, this.q.rows);
    return wordsToBytes(ringAddInto(s, maskWords(this.maskSeed, s.length)));
  }
}

/** The host's side (columns X_H); its triple seed is needed only for its padded sample. */
export class CrossGramRight {
  readonly q: Quantised;

  constructor(cols: readonly Float64Array[], rows: number) {
    this.q = quantise(cols, rows);
  }

  /** For the left party: F = Q_H − B, B from the dealer's seed. */
  padded(tripleSeed: Uint8Array): Uint8Array {
    return wordsToBytes(ringSub(this.q.values, maskWords(tripleSeed, this.q.values.length)));
  }

  /** For the dealer, given the left party's E = Q_G − A and seed of R: Eᵀ Q_H − R. */
  share(eBytes: Uint8Array, maskSeed: Uint8Array): Uint8Array {
    const e = bytesToWords(eBytes, 'padded');
    const s = ringCross(e, columnsOf(e, this.q.rows), this.q.values, this.q.columns, this.q.rows);
    return wordsToBytes(ringSub(s, maskWords(maskSeed, s.length)));
  }
}

/**
 * The dealer: seeds for both parties from its secret, and the cross Gram from the two shares
 * (p × q, row-major, in the parties' original units).
 */
export class CrossGramDealer {
  readonly leftSeed: Uint8Array;
  readonly rightSeed: Uint8Array;

  constructor(secret: Uint8Array) {
    this.leftSeed = deriveSeed(secret, 'indomain/cross-gram/A');
    this.rightSeed = deriveSeed(secret, 'indomain/cross-gram/B');
  }

  combine(left: { share: Uint8Array; bits: number; columns: number }, right: { share: Uint8Array; bits: number; columns: number }, rows: number): Float64Array {
    const p = left.columns;
    const q = right.columns;
    const a = maskWords(this.leftSeed, p * rows);
    const b = maskWords(this.rightSeed, q * rows);
    const s = ringCross(a, p, b, q, rows);
    const sl = bytesToWords(left.share, 'crossShare');
    const sr = bytesToWords(right.share, 'crossShare');
    if (sl.length !== p * q || sr.length !== p * q) throw new IndomainError('VFL_BAD_MESSAGE', `cross shares of ${sl.length} and ${sr.length} values, ${p * q} expected`, { field: 'crossShare' });
    ringAddInto(ringAddInto(s, sl), sr);
    const unit = 2 ** -(left.bits + right.bits);
    return Float64Array.from(s, (v) => v * unit);
  }
}
