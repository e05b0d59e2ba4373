/**
 * The Fisher information Xᵀ·diag(σ′(z))·X over [1, X_G, X̃_H] without an arbiter, under the guest's
 * CKKS key from `vfl-lr-2p` (docs/design/two-party.md, "Fisher matrix"). The machinery is
 * vfl-lr-2p's gradient, with σ′ in place of σ − y:
 *   host   windows of its partial logit u_H (vfl-lr/windows.ts) and the plaintext basis B_v
 *   guest  [[c′_v]]: per-row Chebyshev coefficients of σ′(u_G + c_j + R_j τ) in that basis, and its
 *          columns [1, x_G] and their pairwise products x_a·x_b in diagonal order (/(8√n), scales.ts)
 *   host   [[w]] = Σ_v B_v ⊙ [[c′_v]] (σ′ per row, never sent) and
 *            Σ w·[1, x̃, x̃_k x̃_l]       its plaintext columns, rotated by its secret A (PackedColumns)
 *            Σ w·[1, x_G]               the guest's encrypted diagonals (encryptedColumnsProduct)
 *            Σ w·x_a x_b                the guest's encrypted product diagonals
 *            Σ (w ⊙ x̃_l)·[1, x_G]       per host column l, [[w ⊙ x̃_l]] = Σ_v (B_v ⊙ x̃_l) ⊙ [[c′_v]]
 *          each re-randomised and flooded per copy (rerandomize)
 *   guest  decrypts, floods before use, assembles F̃ (host block A·F_HH·Aᵀ), inverts; its own and the
 *          intercept's standard errors are those of the unrotated matrix (the rotation is
 *          block-orthogonal); it sends the host the rotated host block of F̃⁻¹, which the host
 *          rotates back (Aᵀ Σ̃ A) for its standard errors.
 */
import { linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import { deserialize, floodNoise, productNoise, rerandomize, serialize, type CipherText, type Ckks, type Decryption, type Evaluation } from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import type { RelinKeys } from 'node-seal/implementation/relin-keys.js';
import { sigmoid } from '../../models/logistic.ts';
import { chebyshevBasis, perSampleCoefficients } from '../vfl-lr/chebyshev.ts';
import { assignWindows, chooseWindows, windowDegree, type SigmoidWindow } from '../vfl-lr/windows.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { combineChunks, encodeBasis, encryptedColumnsProduct, forEachDiagonal, loadFresh, packingWidth, type OwnerEncryptor } from '../vfl-lr-2p/common.ts';
import { GUEST_COLUMN_DIVISOR, guestColumnDivisor } from '../vfl-lr-2p/scales.ts';

/** σ′ is expanded two degrees above σ's degree for the same window and tolerance (its coefficients are k/R times σ's). */
export const FISHER_EXTRA_DEGREE = 2;

const sigmaPrime = (z: number) => {
  const p = sigmoid(z);
  return p * (1 - p);
};

/** Host: windows of u_H at the final training tolerance, with the degree of σ′ in each. */
export function fisherWindows(u: Float64Array, config: VflConfig): SigmoidWindow[] {
  return chooseWindows(u, config).map((w) => ({ ...w, degree: w.degree + FISHER_EXTRA_DEGREE }));
}

/** Host: the plaintext basis of the windows (the order vfl-lr-2p's host builds it). */
export function fisherBasis(u: Float64Array, windows: readonly SigmoidWindow[]): Float64Array[] {
  const n = u.length;
  const which = assignWindows(u, windows);
  const basis: Float64Array[] = [ones(n)];
  const tau = new Float64Array(n);
  windows.forEach((w, j) => {
    for (let i = 0; i < n; i++) tau[i] = which[i] === j ? Math.max(-1, Math.min(1, (u[i]! - w.centre) / w.halfWidth)) : 0;
    for (const tk of chebyshevBasis(tau, w.degree)) {
      for (let i = 0; i < n; i++) if (which[i] !== j) tk[i] = 0;
      basis.push(tk);
    }
    if (j < windows.length - 1) basis.push(Float64Array.from(which, (k) => (k === j ? 1 : 0)));
  });
  return basis;
}

/** Guest: check the host's windows (count, order, widths, degrees within the cap). */
export function checkFisherWindows(centres: number[], halfWidths: number[], degrees: number[], config: VflConfig): SigmoidWindow[] {
  const bad = (why: string): never => {
    throw new IndomainError('SC_BAD_MESSAGE', why, { field: 'centres' });
  };
  if (centres.length < 1 || centres.length > config.maxWindows || halfWidths.length !== centres.length || degrees.length !== centres.length) bad(`${centres.length} windows (1..${config.maxWindows})`);
  return centres.map((c, j) => {
    const r = halfWidths[j]!;
    const k = degrees[j]!;
    if (!(r >= config.minHalfWidth && r <= 1024 && Number.isFinite(c))) bad(`window ${j}: half-width out of range`);
    if (j > 0 && !(c > centres[j - 1]!)) bad(`window ${j}: centres must increase`);
    if (k !== windowDegree(r, config) + FISHER_EXTRA_DEGREE) bad(`window ${j}: degree ${k} is not the window's`);
    return { centre: c, halfWidth: r, degree: k };
  });
}

/** Guest: the coefficient vectors c′_v of σ′(a + c_j + R_j τ) in the host's basis order. */
export function fisherCoefficients(a: Float64Array, windows: readonly SigmoidWindow[]): Float64Array[] {
  const shifted = (c: number) => Float64Array.from(a, (v) => v + c);
  const last = windows[windows.length - 1]!;
  const lastConstant = perSampleCoefficients(sigmaPrime, shifted(last.centre), last.halfWidth, last.degree)[0]!;
  const out: Float64Array[] = [lastConstant];
  windows.forEach((w, j) => {
    const coef = perSampleCoefficients(sigmaPrime, shifted(w.centre), w.halfWidth, w.degree);
    for (let k = 1; k <= w.degree; k++) out.push(coef[k]!);
    if (j < windows.length - 1) out.push(Float64Array.from(coef[0]!, (v, i) => v - lastConstant[i]!));
  });
  return out;
}

/** Pairwise products x_a·x_b, a ≤ b. */
export function pairProducts(x: readonly Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (let a = 0; a < x.length; a++) for (let b = a; b < x.length; b++) out.push(Float64Array.from(x[a]!, (v, i) => v * x[b]![i]!));
  return out;
}

/** Guest: its columns' (or products') diagonals, encrypted once. */
export function encryptDiagonals(enc: OwnerEncryptor, ckks: Ckks, cols: readonly Float64Array[], rows: number): Uint8Array[][] {
  const out: Uint8Array[][] = Array.from({ length: packingWidth(cols.length) }, () => []);
  forEachDiagonal(cols, ones(rows), guestColumnDivisor(rows), ckks.slots, (k, chunk, values) => {
    out[k]![chunk] = enc.encrypt(values, ckks.scale);
  });
  return out;
}

export interface FisherInput {
  coefficients: Uint8Array[][];
  columns: Uint8Array[][];
  products: Uint8Array[][];
}

/** Host: the flooded blocks. `x̃` its rotated kept columns; `basis` from {@link fisherBasis}. */
export function hostFisherBlocks(
  ckks: Ckks,
  ev: Evaluation,
  relinKeys: RelinKeys,
  xr: readonly Float64Array[],
  basis: readonly Float64Array[],
  input: FisherInput,
  floodSigma: number,
  rng: Rng,
): { host: Uint8Array; guest: Uint8Array; products: Uint8Array; cross: Uint8Array[] } {
  const n = basis[0]!.length;
  const chunks = Math.ceil(n / ckks.slots);
  const { coefficients, columns, products } = input;
  if (coefficients.length !== basis.length || coefficients.some((c) => c.length !== chunks)) {
    throw new IndomainError('SC_BAD_MESSAGE', `coefficients must be ${basis.length} × ${chunks} ciphertexts`, { field: 'coefficients' });
  }
  // The widths (powers of two) are all the host needs of the guest's column counts.
  const shape = (d: Uint8Array[][], field: string) => {
    const width = d.length;
    if (packingWidth(width) !== width || width > ckks.slots || d.some((r) => r.length !== chunks)) {
      throw new IndomainError('SC_BAD_MESSAGE', `${field}: ${width} diagonals of ${chunks} ciphertexts each expected, width a power of two`, { field });
    }
    return d.map((r) => r.map((bytes) => loadFresh(ckks, bytes, ckks.scale, field)));
  };
  if (columns.length === 0) throw new IndomainError('SC_BAD_MESSAGE', 'no guest column diagonals', { field: 'columns' });
  const cols = shape(columns, 'columns');
  const prods = products.length > 0 ? shape(products, 'products') : [];
  const residual = (weights: readonly Float64Array[]): CipherText[] => {
    const plain = encodeBasis(ckks, weights);
    try {
      return combineChunks(ev, plain, (v, c) => loadFresh(ckks, coefficients[v]![c]!, ckks.scale, 'coefficients'));
    } finally {
      for (const row of plain) for (const p of row) p?.delete();
    }
  };
  const out = (ct: CipherText, sigma: number, period: number): Uint8Array => {
    rerandomize(ev, ct, sigma, rng, period);
    const bytes = serialize(ckks, ct);
    ct.delete();
    return bytes;
  };
  const free = (cts: CipherText[]) => {
    for (const ct of cts) ct.delete();
  };
  try {
    const w = residual(basis);
    const hostCols = [ones(n), ...xr, ...pairProducts(xr)];
    const packed = new PackedColumns(ev, hostCols, Math.sqrt(n), ckks.operandScale);
    const host = out(packed.transposeTimes(w), floodSigma, packed.width);
    packed.release();
    const guestWidth = cols.length;
    const guest = out(encryptedColumnsProduct(ev, relinKeys, w, cols), floodSigma / GUEST_COLUMN_DIVISOR, guestWidth);
    const prodOut = prods.length > 0 ? out(encryptedColumnsProduct(ev, relinKeys, w, prods), floodSigma / GUEST_COLUMN_DIVISOR, prods.length) : new Uint8Array(0);
    free(w);
    const cross = xr.map((x) => {
      const wx = residual(basis.map((b) => Float64Array.from(b, (v, i) => v * x[i]!)));
      const r = out(encryptedColumnsProduct(ev, relinKeys, wx, cols), floodSigma / GUEST_COLUMN_DIVISOR, guestWidth);
      free(wx);
      return r;
    });
    return { host, guest, products: prodOut, cross };
  } finally {
    for (const row of [...cols, ...prods]) free(row);
  }
}

/** Host's flood deviation for the Fisher blocks (value units of a result at the scale). */
export function fisherFlood(ckks: Ckks, rows: number, config: VflConfig): number {
  return productNoise(ckks, Math.ceil(rows / ckks.slots)) * 2 ** config.floodMarginBits;
}

/**
 * Guest: decrypt, flood before use (as vfl-lr-2p's guest does: CKKS decryptions must not leave
 * exactly), and assemble F̃ over [1, x_G (p_G), x̃_H (p_H)], row-major.
 */
export function assembleFisher(
  ckks: Ckks,
  dec: Decryption,
  blocks: { host: Uint8Array; guest: Uint8Array; products: Uint8Array; cross: Uint8Array[] },
  pg: number,
  ph: number,
  rows: number,
  floodSigma: number,
  rng: Rng,
): Float64Array {
  if (blocks.cross.length !== ph) throw new IndomainError('SC_BAD_MESSAGE', `${blocks.cross.length} cross blocks for ${ph} host columns`, { field: 'cross' });
  const open = (bytes: Uint8Array, count: number, multiplier: number, sigma: number): Float64Array => {
    let ct: CipherText;
    try {
      ct = deserialize(ckks, bytes);
    } catch {
      throw new IndomainError('SC_BAD_MESSAGE', 'a Fisher block does not load', { field: 'blocks' });
    }
    const v = floodNoise(dec.decrypt(ct, count), sigma, rng);
    ct.delete();
    return v.map((x) => x * multiplier);
  };
  const rootN = Math.sqrt(rows);
  const gDiv = guestColumnDivisor(rows);
  const gSigma = floodSigma / GUEST_COLUMN_DIVISOR;
  const d = 1 + pg + ph;
  const f = new Float64Array(d * d);
  const set = (a: number, b: number, v: number) => {
    f[a * d + b] = v;
    f[b * d + a] = v;
  };
  const g = open(blocks.guest, 1 + pg, gDiv, gSigma);
  for (let a = 0; a <= pg; a++) set(0, a, g[a]!);
  const pairs = (pg * (pg + 1)) / 2;
  if (pairs > 0) {
    const p = open(blocks.products, pairs, gDiv, gSigma);
    let o = 0;
    for (let a = 0; a < pg; a++) for (let b = a; b < pg; b++) set(1 + a, 1 + b, p[o++]!);
  }
  const h = open(blocks.host, 1 + ph + (ph * (ph + 1)) / 2, rootN, floodSigma);
  for (let l = 0; l < ph; l++) set(0, 1 + pg + l, h[1 + l]!);
  let o = 1 + ph;
  for (let k = 0; k < ph; k++) for (let l = k; l < ph; l++) set(1 + pg + k, 1 + pg + l, h[o++]!);
  blocks.cross.forEach((bytes, l) => {
    const c = open(bytes, 1 + pg, gDiv, gSigma);
    for (let a = 1; a <= pg; a++) set(a, 1 + pg + l, c[a]!);
  });
  return f;
}

/** Host: Aᵀ Σ̃ A, the covariance of its own coefficients from the rotated block. */
export function unrotateCovariance(rotated: Float64Array, a: Float64Array, p: number): Float64Array {
  const tmp = new Float64Array(p * p);
  // tmp = Σ̃ A
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) {
    let s = 0;
    for (let k = 0; k < p; k++) s += rotated[i * p + k]! * a[k * p + j]!;
    tmp[i * p + j] = s;
  }
  const out = new Float64Array(p * p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) {
    let s = 0;
    for (let k = 0; k < p; k++) s += a[k * p + i]! * tmp[k * p + j]!;
    out[i * p + j] = s;
  }
  return out;
}

/** The guest's partial logit with its intercept. */
export function guestLogit(intercept: number, weights: ArrayLike<number>, cols: readonly Float64Array[], n: number): Float64Array {
  return linearPredictor(cols, weights, n, intercept);
}
