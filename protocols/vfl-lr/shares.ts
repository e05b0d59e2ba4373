/**
 * The secret-shared arithmetic of a `vfl-lr` round (protocols/mpc/rns.ts for the ring): fixed-point
 * scales, the parts of the rows, and the labels of every one-time pad, so that the party that
 * applies a pad and the arbiter that deals its triple derive the same stream and never reuse one.
 *
 * Per round r and part c of the rows (G guest, H host, A arbiter; s_G, s_H the seeds each party
 * shares with A, s_GH the seed G sent H; all values in Z_M):
 *   H:  B = the windowed basis (V vectors) at 2^26;  F = B − B′, B′ = pad(s_H, basis/r/c)   → G
 *   H → A: V;  A: c_H = Σ_v A_v·B′_v − c_G, A = pad(s_G, coef/r/c), c_G = pad(s_G, cg/r/c)   → H
 *   G:  C = its per-row coefficients at 2^26; E = C − A;  r_G = Σ_v C_v·F_v + c_G + (c₀ − y)·2^52;
 *       f_G = r_G − α, α = pad(s_G, alpha/r/c)                                               → H
 *   H:  r_H = Σ_v E_v·B′_v + c_H  (so r_G + r_H = Σ_v C_v·B_v − y·2^52 = (σ̂ − y)·2^52);
 *       f_H = r_H − β, β = pad(s_H, beta/r/c)                                                 → G
 * The columns, once: Q_G, Q_H in fixed point (norm ≤ 2^38); G → H: Q_G − P_G, H → G: Q_H − P_H,
 * P_G = pad(s_G, columns/c), P_H = pad(s_H, columns/c). The gradient sums, from the shares:
 *   Q_Gᵀ(r_G + r_H) = [Q_Gᵀ r_G + P_Gᵀ f_H]_G + [(Q_G − P_G)ᵀ r_H]_H + [P_Gᵀ β]_A
 *   Q_Hᵀ(r_G + r_H) = [Q_Hᵀ r_H + P_Hᵀ f_G]_H + [(Q_H − P_H)ᵀ r_G]_G + [P_Hᵀ α]_A
 * G adds pad(s_GH, gradient/r), H subtracts it: the arbiter sees each party's shares uniform and
 * their sum only. Range: |Σ_i q_i·r_i| ≤ ‖q‖·‖r‖ ≤ 2^38 · 4·2^52·√n < 2^101 for n ≤ 2^20... 2^22,
 * inside M/2 ≈ 2^104: nothing wraps, nothing is truncated.
 */
import { IndomainError } from '../../engine/errors.ts';
import { deriveSeed } from '../mpc/cross-gram.ts';
import { encodeFixed, fromBytes, RESIDUES, sub, uniform } from '../mpc/rns.ts';

/** Fixed-point bits of the guest's coefficients and of the host's basis; the residual is at their sum. */
export const COEF_BITS = 26;
export const BASIS_BITS = 26;
export const RESIDUAL_BITS = COEF_BITS + BASIS_BITS;
/** Largest column norm in fixed point (2^38): with residuals at 2^52 ≤ 4 in size, sums stay below 2^101 + log₂√n. */
const COLUMN_NORM_BITS = 38;
/** Most rows a job may have for the range bound above (2^22: sums below 2^103 < M/2). */
export const MAX_ROWS = 2 ** 22;

/** The seed of this party's ring pads, from its triple seed (the arbiter derives the same). */
export function ringSeed(tripleSeed: Uint8Array): Uint8Array {
  return deriveSeed(tripleSeed, 'indomain/vfl-lr/ring');
}

/** Labels of the pads (one stream each; the round and part make every use fresh). */
export const pad = {
  columns: (c: number) => `columns/${c}`,
  basis: (r: number, c: number) => `basis/${r}/${c}`,
  coef: (r: number, c: number) => `coef/${r}/${c}`,
  cg: (r: number, c: number) => `cg/${r}/${c}`,
  alpha: (r: number, c: number) => `alpha/${r}/${c}`,
  beta: (r: number, c: number) => `beta/${r}/${c}`,
  gradient: (r: number) => `gradient/${r}`,
};

/** How many parts `rows` rows make. */
export function partCount(rows: number, partRows: number): number {
  return Math.max(1, Math.ceil(rows / partRows));
}

/** The rows [lo, hi) of part c. */
export function partRange(c: number, rows: number, partRows: number): [number, number] {
  return [c * partRows, Math.min(rows, (c + 1) * partRows)];
}

/**
 * Fixed-point bits for a party's columns: the largest f ≤ 40 with ‖round(x_j·2^f)‖ ≤ 2^38 for every
 * column j. Discloses ⌈log₂ max‖x_j‖⌉, which the sample Gram's diagonal gives the arbiter anyway.
 */
export function columnBits(cols: readonly Float64Array[], rows: number): number {
  if (rows > MAX_ROWS) throw new IndomainError('VFL_BAD_DATA', `${rows} rows; the shared arithmetic holds at most ${MAX_ROWS}`, { field: 'rows' });
  let max = 0;
  for (const c of cols) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += c[i]! * c[i]!;
    max = Math.max(max, Math.sqrt(s));
  }
  const room = 2 ** COLUMN_NORM_BITS - 0.5 * Math.sqrt(rows);
  return max === 0 ? 40 : Math.min(40, Math.floor(Math.log2(room / max)));
}

/** The columns on rows [lo, hi) at 2^bits: prime-major, then column-major. */
export function quantisePart(cols: readonly Float64Array[], lo: number, hi: number, bits: number, field: string): Int32Array {
  const len = hi - lo;
  const out = new Int32Array(RESIDUES * cols.length * len);
  cols.forEach((c, j) => {
    const q = encodeFixed(c.subarray(lo, hi), bits, field);
    for (let k = 0; k < RESIDUES; k++) out.set(q.subarray(k * len, (k + 1) * len), (k * cols.length + j) * len);
  });
  return out;
}

/**
 * The column pads P (one per part, the same every round) of one seed, kept while they fit a budget
 * of shared values (2^27: 2.5 GiB of residues), regenerated per use beyond it. Regenerating was most
 * of a round at 300,000 rows × 300 platform columns (90 M values: 24 s a round at the host and as
 * much at the arbiter, load ≈ 8), so the pads of that point are kept (1.8 GB at each of the two).
 */
export class ColumnPads {
  private readonly kept = new Map<number, Int32Array>();
  private size = 0;

  constructor(
    private readonly seed: Uint8Array,
    private readonly budget = 2 ** 27,
  ) {}

  get(part: number, values: number): Int32Array {
    const hit = this.kept.get(part);
    if (hit) return hit;
    const p = uniform(this.seed, pad.columns(part), values);
    if (this.size + values <= this.budget) {
      this.kept.set(part, p);
      this.size += values;
    }
    return p;
  }
}

/**
 * A party's columns once, per part: in fixed point at 2^bits (kept, its own operand of every
 * round's products) and padded by its column pads (sent, the other party's operand).
 */
export function padColumns(cols: readonly Float64Array[], rows: number, partRows: number, bits: number, pads: ColumnPads, field: string): { own: Int32Array[]; padded: Int32Array[] } {
  const own: Int32Array[] = [];
  const padded: Int32Array[] = [];
  for (let c = 0; c < partCount(rows, partRows); c++) {
    const [lo, hi] = partRange(c, rows, partRows);
    const q = quantisePart(cols, lo, hi, bits, field);
    own.push(q);
    padded.push(sub(q, pads.get(c, cols.length * (hi - lo))));
  }
  return { own, padded };
}

/** The other party's padded columns as their parts arrive (GuestColumns, HostColumns), each checked. */
export class PeerColumns {
  readonly parts: (Int32Array | undefined)[];
  /** Its column count, from the first part (0 until then). */
  dim = 0;

  constructor(
    private readonly rows: number,
    private readonly partRows: number,
    private readonly who: string,
  ) {
    this.parts = new Array<Int32Array | undefined>(partCount(rows, partRows));
  }

  add(chunk: number, bytes: Uint8Array): void {
    if (!(Number.isInteger(chunk) && chunk >= 0 && chunk < this.parts.length) || this.parts[chunk]) {
      throw new IndomainError('VFL_BAD_MESSAGE', `${this.who} columns part ${chunk} (of ${this.parts.length}) unexpected`, { field: 'chunk' });
    }
    const [lo, hi] = partRange(chunk, this.rows, this.partRows);
    const len = hi - lo;
    const dim = bytes.length / (4 * RESIDUES * len);
    if (!(Number.isInteger(dim) && dim >= 1 && (this.dim === 0 || dim === this.dim))) {
      throw new IndomainError('VFL_BAD_MESSAGE', `${this.who} columns part ${chunk}: ${bytes.length} bytes for ${len} rows`, { field: 'columns' });
    }
    this.dim = dim;
    this.parts[chunk] = fromBytes(bytes, dim * len, 'columns');
  }
}

/** Two blocks of residues side by side, prime-major ([a; b] per prime), as the gradient shares go. */
export function stackBlocks(a: Int32Array, da: number, b: Int32Array, db: number): Int32Array {
  const out = new Int32Array(RESIDUES * (da + db));
  for (let k = 0; k < RESIDUES; k++) {
    out.set(a.subarray(k * da, (k + 1) * da), k * (da + db));
    out.set(b.subarray(k * db, (k + 1) * db), k * (da + db) + da);
  }
  return out;
}
