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
 */
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import { IndomainError } from '../../engine/errors.ts';
import type { CipherText, Evaluation } from './ckks.ts';
import { encode } from './ckks.ts';

export class PackedColumns {
  readonly rows: number;
  readonly columns: number;
  /** Columns rounded up to a power of two. */
  readonly width: number;
  private readonly cols: readonly Float64Array[];
  private readonly divisor: number;
  private diagonals: PlainText[][] | undefined;
  private diagonalLevel = '';

  /**
   * `scale`: of the encoded diagonals (the input's scale times it must stay below the modulus at
   * the input's level; the product is rescaled once).
   */
  constructor(
    private readonly ev: Evaluation,
    cols: readonly Float64Array[],
    divisor = 1,
    private readonly scale = ev.ckks.scale,
  ) {
    this.cols = cols;
    this.columns = cols.length;
    this.rows = cols[0]?.length ?? 0;
    let w = 1;
    while (w < this.columns) w *= 2;
    this.width = w;
    this.divisor = divisor;
    if (w > ev.ckks.slots) throw new IndomainError('HE_TOO_MANY_VALUES', `${this.columns} columns, ${ev.ckks.slots} slots`);
  }

  get chunks(): number {
    return Math.ceil(this.rows / this.ev.ckks.slots);
  }

  /** Encode the diagonals at the level of `like` (once per level). */
  private diagonalsAt(like: CipherText): PlainText[][] {
    const key = like.parmsId.values.join(',');
    if (this.diagonalLevel !== key) {
      this.release();
      this.diagonalLevel = key;
      this.diagonals = [];
    }
    while (this.diagonals!.length < this.width) this.encodeRow(like);
    return this.diagonals!;
  }

  /** Encode the next diagonal (all chunks) at `like`'s level, or at the top data level. */
  private encodeRow(like?: CipherText): void {
    const k = this.diagonals!.length;
    const s = this.ev.ckks.slots;
    const buf = new Float64Array(s);
    const row: PlainText[] = [];
    for (let c = 0; c < this.chunks; c++) {
      buf.fill(0);
      const base = c * s;
      const limit = Math.min(s, this.rows - base);
      for (let t = 0; t < limit; t++) {
        const j = (((t - k) % this.width) + this.width) % this.width;
        if (j < this.columns) buf[t] = this.cols[j]![base + t]! / this.divisor;
      }
      row.push(encode(this.ev.ckks, buf, this.scale, like));
    }
    this.diagonals!.push(row);
  }

  /**
   * Idle-time precomputation: encode one more diagonal at the top data level, where fresh
   * ciphertexts are. False when all are ready (or they are kept at another level).
   */
  prepareStep(): boolean {
    const top = this.ev.ckks.context.firstParmsId.values.join(',');
    if (this.diagonals === undefined) {
      this.diagonalLevel = top;
      this.diagonals = [];
    }
    if (this.diagonalLevel !== top || this.diagonals.length >= this.width) return false;
    this.encodeRow();
    return true;
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
    const { evaluator, slots } = this.ev.ckks;
    const gk = this.ev.galoisKeys;
    const d = this.diagonalsAt(inputs[0]!);
    let acc: CipherText | undefined;
    for (let k = this.width - 1; k >= 0; k--) {
      let z: CipherText | undefined;
      for (let c = 0; c < inputs.length; c++) {
        const prod = evaluator.multiplyPlain(inputs[c]!, d[k]![c]!) as CipherText;
        if (z) {
          evaluator.add(z, prod, z);
          prod.delete();
        } else z = prod;
      }
      if (!precise) evaluator.rescaleToNext(z!, z!);
      if (acc) {
        evaluator.rotateVector(acc, 1, gk, acc);
        evaluator.add(acc, z!, acc);
        z!.delete();
      } else acc = z!;
    }
    for (let step = this.width; step < slots; step *= 2) {
      const r = evaluator.rotateVector(acc!, step, gk) as CipherText;
      evaluator.add(acc!, r, acc!);
      r.delete();
    }
    if (precise) evaluator.rescaleToNext(acc!, acc!);
    return acc!;
  }

  release(): void {
    for (const row of this.diagonals ?? []) for (const p of row) p.delete();
    this.diagonals = undefined;
    this.diagonalLevel = '';
  }
}

