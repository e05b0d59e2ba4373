/**
 * Per-sample Chebyshev expansions of the sigmoid in the host's normalised partial logit.
 *
 * The guest knows its own partial logit a_i = u_G,i but not the host's u_H,i. With the host's
 * disclosed centre c and half-width R, and τ_i = clamp((u_H,i − c)/R, −1, 1), the guest
 * interpolates f_i(τ) = σ(a_i + c + R·τ) at K+1 Chebyshev nodes, so that
 *   σ(z_i) ≈ Σ_k coef_k,i · T_k(τ_i)
 * with coefficients it computes in plaintext and a basis T_k(τ_i) the host sends encrypted. The
 * error is that of degree-K interpolation of σ over a window of width 2R around a_i + c (σ is
 * analytic in the strip |Im z| < π, so it falls geometrically with K). The host covers every row
 * with a few such windows (windows.ts), so no row is evaluated outside its own. A global polynomial in z (FATE's Taylor step is degree 1)
 * has to cover every joint logit, −36 to 5 on default_credit, and diverges on outliers.
 */
import { sigmoid } from '../../models/logistic.ts';

/** T_1..T_K at each τ (T_0 = 1 is implicit). Returned as K arrays of n values. */
export function chebyshevBasis(tau: Float64Array, degree: number): Float64Array[] {
  const n = tau.length;
  const out: Float64Array[] = [];
  let prev = new Float64Array(n).fill(1);
  let cur = Float64Array.from(tau);
  if (degree >= 1) out.push(cur);
  for (let k = 2; k <= degree; k++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) next[i] = 2 * tau[i]! * cur[i]! - prev[i]!;
    out.push(next);
    prev = cur;
    cur = next;
  }
  return out;
}

/**
 * Chebyshev interpolation coefficients coef[k][i] (k = 0..K) of f(base_i + scale·τ) on τ ∈ [−1, 1].
 */
export function perSampleCoefficients(
  f: (z: number) => number,
  base: Float64Array,
  scale: number,
  degree: number,
): Float64Array[] {
  const n = base.length;
  const m = degree + 1;
  const nodes = new Float64Array(m);
  for (let j = 0; j < m; j++) nodes[j] = Math.cos((Math.PI * (j + 0.5)) / m);
  const cosTable = new Float64Array(m * m);
  for (let k = 0; k < m; k++) for (let j = 0; j < m; j++) cosTable[k * m + j] = Math.cos((Math.PI * k * (j + 0.5)) / m);
  const coef = Array.from({ length: m }, () => new Float64Array(n));
  const fv = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) fv[j] = f(base[i]! + scale * nodes[j]!);
    for (let k = 0; k < m; k++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += fv[j]! * cosTable[k * m + j]!;
      coef[k]![i] = ((k === 0 ? 1 : 2) / m) * s;
    }
  }
  return coef;
}

/**
 * The smallest degree K ≤ `maxDegree` whose per-sample expansion approximates σ(a + R·τ) within
 * `tolerance` for every τ ∈ [−1, 1] and every guest offset a (the worst case lies where σ bends,
 * so a ranges over [−R − 8, R + 8] in steps of 1/8). Both parties compute it from the disclosed
 * half-width R, so the degree discloses nothing more. Interpolation error falls geometrically in
 * K at a rate set by R (σ is analytic in |Im z| < π): a narrow window needs degree 3, a wide one 6+.
 * σ on the check grid is computed once, not once per degree tried (at the 1e-6 tolerance and
 * degree cap 32 of the shared round the search was 7% of a run). Memoised by the callers (windows.ts).
 */
export function chebyshevDegreeFor(halfWidth: number, tolerance: number, maxDegree: number): number {
  const offsets: number[] = [];
  for (let a = -halfWidth - 8; a <= halfWidth + 8; a += 0.125) offsets.push(a);
  const base = Float64Array.from(offsets);
  const grid = Float64Array.from({ length: 101 }, (_, i) => -1 + i / 50);
  const target = new Float64Array(base.length * grid.length);
  for (let i = 0; i < base.length; i++) for (let g = 0; g < grid.length; g++) target[i * grid.length + g] = sigmoid(base[i]! + halfWidth * grid[g]!);
  for (let k = 1; k <= maxDegree; k++) {
    const coef = perSampleCoefficients(sigmoid, base, halfWidth, k);
    const t = chebyshevBasis(grid, k);
    let worst = 0;
    for (let i = 0; i < base.length && worst <= tolerance; i++) {
      for (let g = 0; g < grid.length; g++) {
        let s = coef[0]![i]!;
        for (let j = 1; j <= k; j++) s += coef[j]![i]! * t[j - 1]![g]!;
        worst = Math.max(worst, Math.abs(s - target[i * grid.length + g]!));
        // One point over the tolerance fails the degree: stop at it.
        if (worst > tolerance) break;
      }
    }
    if (worst <= tolerance) return k;
  }
  return maxDegree;
}

/**
 * One window's normalisation, τ = clamp((u − centre)/halfWidth, −1, 1): rows outside are clamped
 * to its edge. The consortium hybrid's platform still uses it; vfl-lr covers every row (windows.ts).
 */
export function normalise(u: Float64Array, centre: number, halfWidth: number): Float64Array {
  const t = new Float64Array(u.length);
  for (let i = 0; i < u.length; i++) t[i] = Math.max(-1, Math.min(1, (u[i]! - centre) / halfWidth));
  return t;
}

/** Spacing of the table {@link tabulatedCoefficients} interpolates (logit units). */
const TABLE_STEP = 1 / 64;

/**
 * {@link perSampleCoefficients} of f = σ for many rows at once: each coefficient is a smooth
 * function of the row's offset, so it is computed exactly on a grid of offsets 1/64 apart over the
 * rows' range and interpolated per row by the cubic through the four nearest grid points. The
 * interpolation error is below δ⁴·max|c_k⁗|/24 ≤ 1e-9 (σ's fourth derivative is below 0.13),
 * a tenth of the 2^-26 fixed point the coefficients are shared at; per row it costs 4(K+1)
 * multiply-adds instead of K+1 sigmoids and (K+1)² for the transform (the guest's per-round
 * coefficients at degree 32 were its largest cost: 17 ms instead of 69 for 24,000 rows, largest
 * difference 6e-11). Low degrees, or few rows over a wide range: computed directly.
 */
export function tabulatedCoefficients(base: Float64Array, scale: number, degree: number): Float64Array[] {
  const n = base.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, base[i]!);
    hi = Math.max(hi, base[i]!);
  }
  const points = Math.ceil((hi - lo) / TABLE_STEP) + 4;
  // Low degrees (the early rounds' coarse tolerance) cost less directly than the table's sigmoids.
  if (degree < 12 || !(points * 8 < n)) return perSampleCoefficients(sigmoid, base, scale, degree);
  const start = lo - TABLE_STEP;
  const grid = Float64Array.from({ length: points }, (_, t) => start + t * TABLE_STEP);
  const table = perSampleCoefficients(sigmoid, grid, scale, degree);
  const m = degree + 1;
  const coef = Array.from({ length: m }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const u = (base[i]! - start) / TABLE_STEP;
    // Four points t−1 .. t+2 around the row, t ≥ 1 and t + 2 < points by the grid's margins.
    const t = Math.min(points - 3, Math.max(1, Math.floor(u)));
    const x = u - t;
    const w0 = (-x * (x - 1) * (x - 2)) / 6;
    const w1 = ((x + 1) * (x - 1) * (x - 2)) / 2;
    const w2 = (-(x + 1) * x * (x - 2)) / 2;
    const w3 = ((x + 1) * x * (x - 1)) / 6;
    for (let k = 0; k < m; k++) {
      const c = table[k]!;
      coef[k]![i] = w0 * c[t - 1]! + w1 * c[t]! + w2 * c[t + 1]! + w3 * c[t + 2]!;
    }
  }
  return coef;
}
