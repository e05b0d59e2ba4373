/**
 * Encrypted Xᵀ·[[v]] for a party's plaintext columns X (n rows × m columns) and an encrypted
 * vector [[v]] split over ⌈n/S⌉ ciphertexts of S slots: diagonal packing with one Galois key.
 *
 * With M = m rounded up to a power of two, the plaintext "diagonals"
 *   D_{k,c}[s] = X[cS + s, (s − k) mod M] / divisor      (0 outside X)
 * depend only on X and are encoded once. Then
 *   z_k = Σ_c D_{k,c} ⊙ [[v_c]]                            (ct×pt, summed over chunks first)
 *   y   = Σ_k rot(z_k, k)  = z_0 + rot(z_1 + rot(z_2 + …, 1), 1)   (Horner: M − 1 rotations by 1)
 *   out = Σ_{j} rot(y, M·2^j)                               (log₂(S/M) strided rotations)
 * leaves slot j (and every slot ≡ j mod M) holding Σ_i X[i, j]·v[i] / divisor. Cost per product:
 * M·chunks plaintext multiplications, M rescales, M − 1 + log₂(S/M) rotations, independent of
 * the number of chunks for the rotations. Consumes one level.
 *
 * Streaming. The sum over chunks can be taken as the chunks arrive ({@link PackedColumns.begin},
 * `add`, `finish`): a party then holds the width's accumulators z_k, never all input chunks.
 * Memory. The diagonals are M·chunks plaintexts of N·(primes at the level)·8 bytes each (128 KiB
 * under `ckks-n8192-l1`): 512 × 74 of them, ≈ 5 GB, for 300 columns over 300,000 rows, more than
 * one WebAssembly heap (4 GiB) holds. At most `budgetBytes` of them are kept; the others are
 * encoded again at each use (an encoding costs about five plaintext multiplications).
 */
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import { IndomainError } from '../../engine/errors.ts';
import type { CipherText, Evaluation } from './ckks.ts';
import { encode } from './ckks.ts';

/** Diagonals kept encoded, by default (the rest are encoded per use). */
export const DIAGONAL_BUDGET_BYTES = 2 ** 30;

/** A product Xᵀv being summed over the input's chunks (see {@link PackedColumns.begin}). */
export interface ProductSum {
  /** z_k for k = 0..width − 1, once a chunk has been added. */
  readonly z: (CipherText | undefined)[];
  /** Which chunks have been added. */
  readonly added: Set<number>;
  /** Level (parms_id) and scale of the first chunk added: every other chunk must match them. */
  shape?: { readonly level: string; readonly scale: number };
}

export class PackedColumns {
  readonly rows: number;
  readonly columns: number;
  /** Columns rounded up to a power of two. */
  readonly width: number;
  private readonly cols: readonly Float64Array[];
  private readonly divisor: number;
  /**
   * Encoded diagonals kept, [k][c] (undefined: encoded at each use; null: every value of it is 0,
   * so it adds nothing and is skipped: SEAL refuses a product with an all-zero plaintext).
   */
  private diagonals: (PlainText | null | undefined)[][] | undefined;
  private diagonalLevel = '';
  private kept = 0;
  /** Next flat index (k·chunks + c) that `prepareStep` looks at. */
  private cursor = 0;
  private readonly maxKept: number;

  /**
   * `scale`: of the encoded diagonals (the input's scale times it must stay below the modulus at
   * the input's level; the product is rescaled once). `budgetBytes`: most bytes of encoded
   * diagonals kept between products.
   */
  constructor(
    private readonly ev: Evaluation,
    cols: readonly Float64Array[],
    divisor = 1,
    private readonly scale = ev.ckks.scale,
    budgetBytes = DIAGONAL_BUDGET_BYTES,
  ) {
    this.cols = cols;
    this.columns = cols.length;
    this.rows = cols[0]?.length ?? 0;
    let w = 1;
    while (w < this.columns) w *= 2;
    this.width = w;
    this.divisor = divisor;
    if (w > ev.ckks.slots) throw new IndomainError('HE_TOO_MANY_VALUES', `${this.columns} columns, ${ev.ckks.slots} slots`);
    // Data-level primes: all but the special one.
    const primes = ev.ckks.params.coeffModulusBits.length - 1;
    this.maxKept = Math.floor(budgetBytes / (ev.ckks.params.polyModulusDegree * primes * 8));
  }

  get chunks(): number {
    return Math.ceil(this.rows / this.ev.ckks.slots);
  }

  /** Diagonals kept encoded, of width × chunks. */
  get keptDiagonals(): number {
    return this.kept;
  }

  /** Switch the kept diagonals to `key`'s level (dropping those of another level). */
  private atLevel(key: string): void {
    if (this.diagonalLevel !== key || !this.diagonals) {
      this.release();
      this.diagonalLevel = key;
      this.diagonals = Array.from({ length: this.width }, () => new Array<PlainText | null | undefined>(this.chunks).fill(undefined));
    }
  }

  /**
   * Encode diagonal k of chunk c at `like`'s level, or at the top data level; null when all its
   * values are 0 (a short last chunk's padded columns, sparse 0/1 columns).
   */
  private encodeDiagonal(k: number, c: number, like?: CipherText): PlainText | null {
    const s = this.ev.ckks.slots;
    const buf = new Float64Array(s);
    const base = c * s;
    const limit = Math.min(s, this.rows - base);
    for (let t = 0; t < limit; t++) {
      const j = (((t - k) % this.width) + this.width) % this.width;
      if (j < this.columns) buf[t] = this.cols[j]![base + t]! / this.divisor;
    }
    if (buf.every((x) => x === 0)) return null;
    // Values too small for the scale encode to zero too: test the plaintext, never catch SEAL's
    // refusal (a caught SEAL exception leaks its WebAssembly state: protocols/he/ckks.ts).
    const pt = encode(this.ev.ckks, buf, this.scale, like);
    if (!pt.isZero) return pt;
    pt.delete();
    return null;
  }

  /** Diagonal (k, c) at `like`'s level; `owned`: not kept, the caller deletes it. */
  private diagonal(k: number, c: number, like: CipherText): { pt: PlainText | null; owned: boolean } {
    const kept = this.diagonals![k]![c];
    if (kept !== undefined) return { pt: kept, owned: false };
    const pt = this.encodeDiagonal(k, c, like);
    if (pt === null) {
      this.diagonals![k]![c] = null;
      return { pt, owned: false };
    }
    if (this.kept < this.maxKept) {
      this.diagonals![k]![c] = pt;
      this.kept++;
      return { pt, owned: false };
    }
    return { pt, owned: true };
  }

  /**
   * Idle-time precomputation: encode one more diagonal at the top data level, where fresh
   * ciphertexts are. False when the budget is full, all are kept, or they are kept at another level.
   */
  prepareStep(): boolean {
    const top = this.ev.ckks.context.firstParmsId.values.join(',');
    if (this.diagonals === undefined) this.atLevel(top);
    if (this.diagonalLevel !== top) return false;
    const total = this.width * this.chunks;
    while (this.cursor < total && this.kept < this.maxKept) {
      const k = Math.floor(this.cursor / this.chunks);
      const c = this.cursor % this.chunks;
      this.cursor++;
      if (this.diagonals![k]![c] !== undefined) continue;
      const pt = this.encodeDiagonal(k, c);
      this.diagonals![k]![c] = pt;
      if (pt) this.kept++;
      return true;
    }
    return false;
  }

  /** A new streamed product: add every chunk of the input (in any order), then finish. */
  begin(): ProductSum {
    return { z: new Array<CipherText | undefined>(this.width).fill(undefined), added: new Set() };
  }

  /** Add chunk c of the input: z_k += D_{k,c} ⊙ [[v_c]] for every k. The input is not consumed. */
  add(sum: ProductSum, c: number, input: CipherText): void {
    if (!Number.isInteger(c) || c < 0 || c >= this.chunks || sum.added.has(c)) {
      throw new IndomainError('VFL_ROW_MISMATCH', `chunk ${c} of ${this.chunks} (${this.rows} rows) added twice or out of range`);
    }
    const level = input.parmsId.values.join(',');
    this.checkShape(sum, input, level);
    sum.added.add(c);
    const { evaluator } = this.ev.ckks;
    this.atLevel(level);
    for (let k = 0; k < this.width; k++) {
      const d = this.diagonal(k, c, input);
      if (d.pt === null) continue;
      const prod = evaluator.multiplyPlain(input, d.pt) as CipherText;
      if (d.owned) d.pt.delete();
      const z = sum.z[k];
      if (z) {
        evaluator.add(z, prod, z);
        prod.delete();
      } else sum.z[k] = prod;
    }
  }

  /**
   * The sender chose each chunk's level and scale. SEAL refuses by throwing a product whose scale
   * outgrows the level's modulus, a sum of chunks at different levels or scales, and a rescale
   * at the last level (every product here is rescaled once): tested here instead, a caught SEAL
   * exception leaking WebAssembly state (protocols/he/ckks.ts).
   */
  private checkShape(sum: ProductSum, input: CipherText, level: string): void {
    if (sum.shape) {
      if (sum.shape.level !== level || sum.shape.scale !== input.scale) throw new IndomainError('HE_BAD_CIPHERTEXT', 'a chunk is not at the level and scale of the others');
      return;
    }
    const data = this.ev.ckks.context.getContextData(input.parmsId);
    const room = data.chainIndex >= 1 && Math.trunc(Math.log2(input.scale * this.scale)) < data.totalCoeffModulusBitCount;
    data.delete();
    if (!room) throw new IndomainError('HE_BAD_CIPHERTEXT', 'a chunk leaves no room for the product and its rescale (level or scale)');
    sum.shape = { level, scale: input.scale };
  }

  /**
   * [[Xᵀ v / divisor]] from a streamed product whose every chunk was added: slot j holds the
   * j-th column's inner product. `precise`: see {@link transposeTimes}.
   */
  finish(sum: ProductSum, precise = false): CipherText {
    if (sum.added.size !== this.chunks) {
      this.discard(sum);
      throw new IndomainError('VFL_ROW_MISMATCH', `${sum.added.size} ciphertexts for ${this.rows} rows (${this.chunks} expected)`);
    }
    const { evaluator, slots } = this.ev.ckks;
    const gk = this.ev.galoisKeys;
    let acc: CipherText | undefined;
    for (let k = this.width - 1; k >= 0; k--) {
      // z_k is absent when every diagonal k was all-zero: it adds nothing, but acc still turns.
      const z = sum.z[k];
      sum.z[k] = undefined;
      if (acc) evaluator.rotateVector(acc, 1, gk, acc);
      if (!z) continue;
      if (!precise) evaluator.rescaleToNext(z, z);
      if (acc) {
        evaluator.add(acc, z, acc);
        z.delete();
      } else acc = z;
    }
    if (!acc) throw new IndomainError('VFL_CONSTANT_FEATURE', `every column of the ${this.columns} is 0 on every row: drop them`);
    for (let step = this.width; step < slots; step *= 2) {
      const r = evaluator.rotateVector(acc!, step, gk) as CipherText;
      evaluator.add(acc!, r, acc!);
      r.delete();
    }
    if (precise) evaluator.rescaleToNext(acc!, acc!);
    return acc!;
  }

  /** Free a streamed product's accumulators without finishing it. */
  discard(sum: ProductSum): void {
    for (let k = 0; k < sum.z.length; k++) {
      sum.z[k]?.delete();
      sum.z[k] = undefined;
    }
  }

  /**
   * [[Xᵀ v / divisor]]: slot j holds the j-th column's inner product. Inputs are not consumed.
   * `precise`: rotate before the rescale instead of after. Key switching adds noise of a fixed
   * size in the coefficient domain (about 1e-6 of a 2^40 scale after ~20 rotations); at the
   * unrescaled scale it is 2^(rescale prime) times smaller relative to the result, at about twice
   * the cost per rotation. For one-off products whose precision matters (Fisher information).
   */
  transposeTimes(inputs: readonly CipherText[], precise = false): CipherText {
    if (inputs.length !== this.chunks) {
      throw new IndomainError('VFL_ROW_MISMATCH', `${inputs.length} ciphertexts for ${this.rows} rows (${this.chunks} expected)`);
    }
    const sum = this.begin();
    try {
      inputs.forEach((ct, c) => this.add(sum, c, ct));
    } catch (e) {
      this.discard(sum);
      throw e;
    }
    return this.finish(sum, precise);
  }

  release(): void {
    for (const row of this.diagonals ?? []) for (const p of row) p?.delete();
    this.diagonals = undefined;
    this.diagonalLevel = '';
    this.kept = 0;
    this.cursor = 0;
  }
}
