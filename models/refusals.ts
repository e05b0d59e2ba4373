/**
 * Refusals for ill-posed logistic-regression inputs, shared by the plaintext reference and the
 * `vfl-lr` parties (each checks its own columns before training): a coded error that names the
 * feature(s) and what to do, never a silently bad model.
 *
 * - a missing or non-finite value (impute first, engine/impute.ts): VFL_BAD_DATA;
 * - a party with no feature column: VFL_NO_FEATURES;
 * - a constant column over the training rows (no information, a singular Gram): VFL_CONSTANT_FEATURE;
 * - complete separation (every training row on its label's side of the fitted boundary: the
 *   unpenalised optimum is at infinity and the L2 one is set by λ alone): VFL_SEPARATION;
 * - no convergence within the iteration limit: VFL_NOT_CONVERGED.
 * The last two name the features with the largest extreme contributions |w_j|·max|x_j| to the logit,
 * the usual culprits (special codes, unbounded amounts): cap, bin or drop them.
 */
import { linearPredictor } from '../engine/columns.ts';
import { IndomainError } from '../engine/errors.ts';

/** A party's own columns, before training. `party` and `names` only label the error. */
export function checkColumns(cols: readonly Float64Array[], names: readonly string[] | undefined, party: string): void {
  const name = (j: number) => names?.[j] ?? `${party} column ${j}`;
  if (cols.length === 0) throw new IndomainError('VFL_NO_FEATURES', `${party} has no feature column: give it at least one usable feature or leave it out of the job`);
  cols.forEach((c, j) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < c.length; i++) {
      const v = c[i]!;
      if (!Number.isFinite(v)) throw new IndomainError('VFL_BAD_DATA', `impute or drop it (row ${i})`, { field: name(j) });
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi - lo > 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo)))) throw new IndomainError('VFL_CONSTANT_FEATURE', `drop it`, { field: name(j) });
  });
}

/** Features ranked by their largest contribution |w_j|·max_i|x_ij| to the logit, top `count`. */
export function extremeFeatures(cols: readonly Float64Array[], weights: ArrayLike<number>, names: readonly string[] | undefined, count = 3): string[] {
  const score = cols.map((c, j) => {
    let m = 0;
    for (let i = 0; i < c.length; i++) m = Math.max(m, Math.abs(c[i]!));
    return { j, s: Math.abs(weights[j]!) * m };
  });
  return score
    .sort((a, b) => b.s - a.s)
    .slice(0, count)
    .map(({ j }) => names?.[j] ?? `column ${j}`);
}

/** Refuse a fitted model whose boundary separates the training rows completely. */
export function checkSeparation(cols: readonly Float64Array[], names: readonly string[] | undefined, y: Uint8Array, model: { intercept: number; weights: ArrayLike<number> }): void {
  const z = linearPredictor(cols, model.weights, y.length, model.intercept);
  for (let i = 0; i < y.length; i++) if ((y[i] ? z[i]! : -z[i]!) <= 0) return;
  throw new IndomainError('VFL_SEPARATION', `features ${extremeFeatures(cols, model.weights, names).join(', ')}`);
}

/** Refuse a model that did not converge, naming the features to cap, bin or drop. */
export function notConverged(cols: readonly Float64Array[], names: readonly string[] | undefined, weights: ArrayLike<number>, iterations: number): IndomainError {
  return new IndomainError('VFL_NOT_CONVERGED', `after ${iterations} iterations; cap, bin or drop the features with the most extreme logit contributions: ${extremeFeatures(cols, weights, names).join(', ')}`);
}
