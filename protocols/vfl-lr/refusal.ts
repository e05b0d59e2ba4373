/**
 * Refusals of federated training (vfl-lr and vfl-lr-2p), the federated counterparts of the
 * plaintext reference's (models/refusals.ts), each decided by a party from what it holds and
 * naming its own features only:
 *
 * - Before any message (guest): its own columns separate its labels completely (the plaintext
 *   test on its own columns: an L2 fit of them alone puts every training row on its label's side).
 *   Exact for a leak on the bank's side: adding the platform's columns at weight 0 keeps the rows
 *   separated, so the joint problem has no finite unpenalised optimum either. VFL_SEPARATION.
 * - At the end (guest and host, on Finished): a run that reached maxIterations without
 *   converging, unless the job says refuseUnconverged: false. VFL_NOT_CONVERGED.
 *
 * Not decided: separation that needs the platform's columns (a platform column that encodes the
 * label). Nobody sees the joint logits, and no aggregate the optimiser sees decides it: measured,
 * the mean absolute residual over 2p̄(1−p̄) is 0.0648 on a separable pair with a 0.01 margin and
 * 0.0495 on FATE breast, which is not separable; and the objective integrated along the
 * optimiser's path from its gradients (trapezoid rule) was off by 0.08 and 0.16 of H(p̄) on those
 * two. Such a model converges and is kept (docs/ERRORS.md VFL_SEPARATION says so).
 *
 * What a refusal discloses: the error stays with the refusing party (its own feature names); the
 * JobFailed a node sends carries the code and stage only (server/messages.ts).
 */
import { IndomainError } from '../../engine/errors.ts';
import { checkSeparation, notConverged } from '../../models/refusals.ts';
import { fitLogistic } from '../../models/logistic.ts';

/**
 * Guest, before training: refuse when its own columns alone separate its labels. Fitted at a
 * vanishing penalty, whatever the job's λ: separation is a property of the data (a strong L2 term
 * keeps the fitted boundary from separating rows that a weaker one separates: a server job at
 * λ = 0.05 with a column copying the label was not caught at the job's λ). Non-separable rows are
 * never all on their side, so this cannot refuse them.
 */
export function checkOwnSeparation(cols: readonly Float64Array[], y: Uint8Array, names: readonly string[] | undefined): void {
  const own = fitLogistic(cols, y, { optimizer: 'newton', lambda: 1e-8, tolerance: 1e-8, maxIterations: 100 });
  try {
    checkSeparation(cols, names, y, own);
  } catch (e) {
    if (e instanceof IndomainError) throw new IndomainError('VFL_SEPARATION', `the guest's own columns separate its labels: ${e.message.replace(/^.*: /, '')}`);
    throw e;
  }
}

/** A party's refusal when Finished says the run did not converge; undefined when the model stands. */
export function finishRefusal(end: { converged: boolean; iterations: number }, cols: readonly Float64Array[], weights: ArrayLike<number>, names: readonly string[] | undefined, refuseUnconverged: boolean): IndomainError | undefined {
  if (end.converged || !refuseUnconverged) return undefined;
  if (cols.length === 0) return new IndomainError('VFL_NOT_CONVERGED', `after ${end.iterations} iterations; cap, bin or drop the features with the most extreme logit contributions (the other party's)`);
  return notConverged(cols, names, weights, end.iterations);
}
