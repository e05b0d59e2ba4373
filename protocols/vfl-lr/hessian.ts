/**
 * One weighted Hessian XᵀWX of the sample rows, W = σ′(z) at the current point, for the arbiter
 * (vfl-lr, once per run): BFGS restarts from it, which cuts the slow linear tail of the
 * quasi-Newton run (default_credit: 11 → 7 rounds in plaintext, 14 → 7 federated; docs/perf/vfl-lr.md).
 *
 * Nobody knows σ′(z_i): the guest knows its partial logit a_i, the host u_H,i. But on the host's
 * windows (windows.ts) σ′(a_i + c_j + R_j τ_i) = Σ_v g_{v,i} b_{v,i}, the same per-sample
 * expansion as the residual's (chebyshev.ts): b_v the host's basis vectors on the sample rows (1,
 * then per window 1_j·T_k up to hessianDegree and 1_j) in plaintext at the host, g_v the guest's
 * per-sample coefficients of σ′ in plaintext at the guest. So every Hessian entry is a sum over the stacked rows (v, i)
 * of a guest value times a host value:
 *   H_GH[p, l]  = Σ_v Σ_i (x_Gp g_v)_i (x_Hl b_v)_i
 *   H_GG[p, q]  = Σ_v Σ_i (x_Gp x_Gq g_v)_i (b_v)_i                 (p ≤ q)
 *   H_HH[l, l′] = Σ_v Σ_i (g_v)_i (x_Hl x_Hl′ b_v)_i, and Σ_i w_i    (l ≤ l′)
 * each one cross Gram of a guest matrix and a host matrix, computed with a Beaver triple dealt by
 * the arbiter exactly as the sample cross Gram (protocols/mpc/cross-gram.ts): fresh pads per block
 * and round (seeds derived from each party's HeSetup triple seed), a fresh output mask R per block
 * from the guest's secret randomness. The arbiter receives only the blocks (d × d sums).
 *
 * A block whose padded matrix would exceed `budgetWords` (many host features: d_H(d_H+1)/2 pairs
 * times the stacked rows) is not exchanged: the arbiter uses the constant-weight approximation
 * (Σw/m)·XᵀX of that block from the sample Gram it already holds. BFGS corrects either.
 */
import { IndomainError } from '../../engine/errors.ts';
import { sigmoid } from '../../models/logistic.ts';
import { chebyshevBasis, perSampleCoefficients } from './chebyshev.ts';
import type { VflConfig } from './config.ts';
import { windowDegree, type SigmoidWindow } from './windows.ts';
import { CrossGramLeft, CrossGramRight, deriveSeed, bytesToWords, maskWords, ringAddInto, ringCross } from '../mpc/cross-gram.ts';

export const HESSIAN_BLOCKS = ['gh', 'gg', 'hh'] as const;
export type HessianBlock = (typeof HESSIAN_BLOCKS)[number];

/** The σ tolerance whose degree the Hessian's expansion uses (see hessianDegree). */
const HESSIAN_TOLERANCE = 1e-3;

/**
 * The degree of window j's expansion for the Hessian: that of a 1e-3 sigmoid tolerance (or the
 * final one, if coarser), not the round's 1e-2: the row weights σ′ are at most 1/4, and a coarse
 * round's error would be a tenth of them; the padded exchange costs no ciphertext per degree,
 * only (sample rows × columns) words. Both parties derive it from the disclosed half-width.
 */
export function hessianDegree(w: SigmoidWindow, c: Pick<VflConfig, 'sigmoidTolerance' | 'chebyshevDegree'>): number {
  return windowDegree(w.halfWidth, { sigmoidTolerance: Math.max(c.sigmoidTolerance, HESSIAN_TOLERANCE), chebyshevDegree: c.chebyshevDegree });
}

/**
 * The host's Hessian basis on the first m rows: 1, then per window j the vectors 1_j·T_k(τ_j),
 * k = 1..hessianDegree, and 1_j for all windows but the last (the guest's coefficients follow
 * the same order).
 */
export function hessianBasis(u: Float64Array, which: Uint8Array, windows: readonly SigmoidWindow[], m: number, c: Pick<VflConfig, 'sigmoidTolerance' | 'chebyshevDegree'>): Float64Array[] {
  const out: Float64Array[] = [new Float64Array(m).fill(1)];
  windows.forEach((w, j) => {
    const tau = new Float64Array(m);
    for (let i = 0; i < m; i++) tau[i] = which[i] === j ? Math.max(-1, Math.min(1, (u[i]! - w.centre) / w.halfWidth)) : 0;
    for (const t of chebyshevBasis(tau, hessianDegree(w, c))) {
      for (let i = 0; i < m; i++) if (which[i] !== j) t[i] = 0;
      out.push(t);
    }
    if (j < windows.length - 1) out.push(Float64Array.from({ length: m }, (_, i) => (which[i] === j ? 1 : 0)));
  });
  return out;
}

/** σ′(z) = σ(z)(1 − σ(z)), the logistic Hessian's row weight. */
const sigmoidPrime = (z: number): number => {
  const p = sigmoid(z);
  return p * (1 - p);
};

/**
 * The guest's coefficients g_v on the first m rows, one per vector of hessianBasis in its order:
 * per-sample Chebyshev coefficients of σ′(a_i + c_j + R_j τ) (chebyshev.ts), the last window's
 * constant term for the constant vector, each other window's constant relative to it for its
 * indicator.
 */
export function hessianCoefficients(a: Float64Array, windows: readonly SigmoidWindow[], m: number, c: Pick<VflConfig, 'sigmoidTolerance' | 'chebyshevDegree'>): Float64Array[] {
  const coefs = windows.map((w) => {
    const base = new Float64Array(m);
    for (let i = 0; i < m; i++) base[i] = a[i]! + w.centre;
    return perSampleCoefficients(sigmoidPrime, base, w.halfWidth, hessianDegree(w, c));
  });
  const lastConstant = coefs[coefs.length - 1]![0]!;
  const vectors: Float64Array[] = [lastConstant];
  windows.forEach((w, j) => {
    for (let k = 1; k <= hessianDegree(w, c); k++) vectors.push(coefs[j]![k]!);
    if (j < windows.length - 1) vectors.push(Float64Array.from(coefs[j]![0]!, (v, i) => v - lastConstant[i]!));
  });
  return vectors;
}

/** Pairs (p ≤ q) of `d` columns, in row order. */
export function pairsOf(d: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < d; p++) for (let q = p; q < d; q++) out.push([p, q]);
  return out;
}

/** Stack `vectors` (V+1 vectors of m values) times each column: for each column, V+1 blocks of m rows. */
function stacked(cols: readonly Float64Array[], vectors: readonly Float64Array[], m: number): Float64Array[] {
  return cols.map((c) => {
    const out = new Float64Array(vectors.length * m);
    vectors.forEach((v, k) => {
      for (let i = 0; i < m; i++) out[k * m + i] = c[i]! * v[i]!;
    });
    return out;
  });
}

function productColumns(cols: readonly Float64Array[], m: number): Float64Array[] {
  return pairsOf(cols.length).map(([p, q]) => {
    const out = new Float64Array(m);
    for (let i = 0; i < m; i++) out[i] = cols[p]![i]! * cols[q]![i]!;
    return out;
  });
}

const ones = (m: number) => new Float64Array(m).fill(1);

/**
 * Scale each column by a power of two 2^e so that its norm lies in (1/2, 1], in place: the
 * fixed point of cross-gram.ts has one scale per matrix, set by the largest column, and a pair
 * product of two heavy-tailed columns (x up to 250σ, x² up to 6·10⁴) would leave the others no
 * bits at all. Powers of two are exact; the arbiter divides each entry by 2^(e_p + e_q). The
 * exponents disclose each stacked column's norm to within a factor of two (one aggregate each).
 */
function normalise(cols: Float64Array[]): number[] {
  return cols.map((c) => {
    let ss = 0;
    for (let i = 0; i < c.length; i++) ss += c[i]! * c[i]!;
    if (!(ss > 0) || !Number.isFinite(ss)) return 0;
    const e = -Math.ceil(Math.log2(Math.sqrt(ss)));
    const f = 2 ** e;
    for (let i = 0; i < c.length; i++) c[i] = c[i]! * f;
    return e;
  });
}

function seedFor(tripleSeed: Uint8Array, round: number, block: HessianBlock): Uint8Array {
  return deriveSeed(tripleSeed, `indomain/vfl-hessian/${round}/${block}`);
}

/** The guest's matrices per block over the stacked rows; a block over the budget is left out. */
function guestMatrices(x: readonly Float64Array[], coef: readonly Float64Array[], m: number, budget: number): Partial<Record<HessianBlock, Float64Array[]>> {
  const rows = coef.length * m;
  return {
    ...(x.length * rows <= budget ? { gh: stacked(x, coef, m) } : {}),
    ...(pairsOf(x.length).length * rows <= budget ? { gg: stacked(productColumns(x, m), coef, m) } : {}),
    hh: stacked([ones(m)], coef, m),
  };
}

/** The host's; its hh block always carries the Σw column, and its pairs when they fit. */
function hostMatrices(x: readonly Float64Array[], basis: readonly Float64Array[], m: number, budget: number): Partial<Record<HessianBlock, Float64Array[]>> {
  const rows = basis.length * m;
  const pairs = (1 + pairsOf(x.length).length) * rows <= budget;
  return {
    ...(x.length * rows <= budget ? { gh: stacked(x, basis, m) } : {}),
    gg: stacked([ones(m)], basis, m),
    hh: stacked(pairs ? [ones(m), ...productColumns(x, m)] : [ones(m)], basis, m),
  };
}

/** The guest's side of one Hessian: padded matrices for the host, then shares for the arbiter. */
export class HessianLeft {
  private readonly sides: Partial<Record<HessianBlock, CrossGramLeft>> = {};
  private readonly exponents: Partial<Record<HessianBlock, number[]>> = {};
  readonly rows: number;

  /**
   * `coef`: the guest's per-sample coefficients g_v of σ′ on the m sample rows, one per host
   * basis vector (constant first); `secret`: fresh secret bytes (the output masks R).
   */
  constructor(x: readonly Float64Array[], coef: readonly Float64Array[], m: number, tripleSeed: Uint8Array, round: number, budget: number, secret: Uint8Array) {
    this.rows = coef.length * m;
    const mats = guestMatrices(x, coef, m, budget);
    for (const b of HESSIAN_BLOCKS) {
      if (!mats[b]) continue;
      this.exponents[b] = normalise(mats[b]);
      this.sides[b] = new CrossGramLeft(mats[b], this.rows, seedFor(tripleSeed, round, b), deriveSeed(secret, `R/${b}`));
    }
  }

  padded(): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    for (const b of HESSIAN_BLOCKS) {
      const s = this.sides[b]?.padded();
      out[b] = s ? s.padded : new Uint8Array(0);
      out[`${b}Mask`] = s ? s.maskSeed : new Uint8Array(0);
    }
    return out;
  }

  /** Given the host's padded matrices: A_bᵀF_b + R_b per block, with the fixed-point bits. */
  shares(hostPadded: Record<string, Uint8Array>): { shares: Uint8Array[]; bits: number[]; columns: number[]; exponents: number[][] } {
    const shares: Uint8Array[] = [];
    const exponents: number[][] = [];
    const bits: number[] = [];
    const columns: number[] = [];
    for (const b of HESSIAN_BLOCKS) {
      const s = this.sides[b];
      const f = hostPadded[b]!;
      // A block either side left out (over its budget) is exchanged by neither.
      if (!s || f.length === 0) {
        shares.push(new Uint8Array(0));
        exponents.push([]);
        bits.push(0);
        columns.push(0);
        continue;
      }
      shares.push(s.share(f));
      exponents.push(this.exponents[b]!);
      bits.push(s.q.bits);
      columns.push(s.q.columns);
    }
    return { shares, bits, columns, exponents };
  }
}

/** The host's side. */
export class HessianRight {
  private readonly sides: Partial<Record<HessianBlock, CrossGramRight>> = {};
  private readonly exponents: Partial<Record<HessianBlock, number[]>> = {};
  readonly rows: number;

  constructor(x: readonly Float64Array[], basis: readonly Float64Array[], m: number, private readonly tripleSeed: Uint8Array, private readonly round: number, budget: number) {
    this.rows = basis.length * m;
    const mats = hostMatrices(x, basis, m, budget);
    for (const b of HESSIAN_BLOCKS) {
      if (!mats[b]) continue;
      this.exponents[b] = normalise(mats[b]);
      this.sides[b] = new CrossGramRight(mats[b], this.rows);
    }
  }

  padded(): Record<string, Uint8Array> {
    const out: Record<string, Uint8Array> = {};
    for (const b of HESSIAN_BLOCKS) {
      const s = this.sides[b];
      out[b] = s ? s.padded(seedFor(this.tripleSeed, this.round, b)) : new Uint8Array(0);
    }
    return out;
  }

  shares(guestPadded: Record<string, Uint8Array>): { shares: Uint8Array[]; bits: number[]; columns: number[]; exponents: number[][] } {
    const shares: Uint8Array[] = [];
    const exponents: number[][] = [];
    const bits: number[] = [];
    const columns: number[] = [];
    for (const b of HESSIAN_BLOCKS) {
      const s = this.sides[b];
      const e = guestPadded[b]!;
      if (!s || e.length === 0) {
        shares.push(new Uint8Array(0));
        exponents.push([]);
        bits.push(0);
        columns.push(0);
        continue;
      }
      shares.push(s.share(e, guestPadded[`${b}Mask`]!));
      exponents.push(this.exponents[b]!);
      bits.push(s.q.bits);
      columns.push(s.q.columns);
    }
    return { shares, bits, columns, exponents };
  }
}

export interface HessianShares {
  rows: number;
  shares: Uint8Array[];
  bits: number[];
  columns: number[];
  /** Per block, per column: the power-of-two scale it was normalised by (normalise). */
  exponents: number[][];
}

/**
 * The arbiter: the three blocks from both parties' shares and its own triples, as d × d
 * (row-major, guest coordinates first), divided by the m sample rows. `gram` is the sample Gram
 * (XᵀX, d × d) it holds from the start, for the blocks that were not exchanged.
 */
export function assembleHessian(
  guestSeed: Uint8Array,
  hostSeed: Uint8Array,
  round: number,
  guest: HessianShares,
  host: HessianShares,
  dg: number,
  dh: number,
  m: number,
  gram: Float64Array,
): Float64Array {
  if (guest.rows !== host.rows || guest.rows % m !== 0) throw new IndomainError('VFL_BAD_MESSAGE', `Hessian shares over ${guest.rows} and ${host.rows} stacked rows`, { field: 'rows' });
  const rows = guest.rows;
  const blocks: Partial<Record<HessianBlock, Float64Array>> = {};
  HESSIAN_BLOCKS.forEach((b, k) => {
    const p = guest.columns[k]!;
    const q = host.columns[k]!;
    if (p === 0 || q === 0) return;
    const a = maskWords(seedFor(guestSeed, round, b), p * rows);
    const bb = maskWords(seedFor(hostSeed, round, b), q * rows);
    const s = ringCross(a, p, bb, q, rows);
    const sl = bytesToWords(guest.shares[k]!, 'shares');
    const sr = bytesToWords(host.shares[k]!, 'shares');
    if (sl.length !== p * q || sr.length !== p * q) throw new IndomainError('VFL_BAD_MESSAGE', `Hessian ${b} shares of ${sl.length} and ${sr.length} values, ${p * q} expected`, { field: 'shares' });
    ringAddInto(ringAddInto(s, sl), sr);
    const unit = 2 ** -(guest.bits[k]! + host.bits[k]!);
    const eg = guest.exponents[k]!;
    const eh = host.exponents[k]!;
    if (eg.length !== p || eh.length !== q) throw new IndomainError('VFL_BAD_MESSAGE', `Hessian ${b} exponents for ${eg.length} and ${eh.length} columns`, { field: 'exponents' });
    blocks[b] = Float64Array.from(s, (v, t) => (v * unit * 2 ** -(eg[Math.floor(t / q)]! + eh[t % q]!)) / m);
  });
  const d = dg + dh;
  const h = new Float64Array(d * d);
  const hh = blocks.hh;
  if (!hh || hh.length < 1) throw new IndomainError('VFL_BAD_MESSAGE', 'the Hessian needs its Σw block', { field: 'shares' });
  const meanWeight = hh[0]!;
  // Guest block.
  const gg = blocks.gg;
  if (gg && gg.length === pairsOf(dg).length) {
    pairsOf(dg).forEach(([p, q], k) => {
      h[p * d + q] = gg[k]!;
      h[q * d + p] = gg[k]!;
    });
  } else for (let p = 0; p < dg; p++) for (let q = 0; q < dg; q++) h[p * d + q] = (meanWeight * gram[p * d + q]!) / m;
  // Host block.
  if (hh.length === 1 + pairsOf(dh).length) {
    pairsOf(dh).forEach(([p, q], k) => {
      h[(dg + p) * d + dg + q] = hh[k + 1]!;
      h[(dg + q) * d + dg + p] = hh[k + 1]!;
    });
  } else for (let p = dg; p < d; p++) for (let q = dg; q < d; q++) h[p * d + q] = (meanWeight * gram[p * d + q]!) / m;
  // Cross block.
  const gh = blocks.gh;
  for (let p = 0; p < dg; p++) {
    for (let l = 0; l < dh; l++) {
      const v = gh && gh.length === dg * dh ? gh[p * dh + l]! : (meanWeight * gram[p * d + dg + l]!) / m;
      h[p * d + dg + l] = v;
      h[(dg + l) * d + p] = v;
    }
  }
  return h;
}
