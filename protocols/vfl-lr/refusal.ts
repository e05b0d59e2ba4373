/**
 * Refusals at the end of federated training (vfl-lr and vfl-lr-2p), the federated counterparts of
 * the plaintext reference's (models/refusals.ts): a run that did not converge, or whose fit
 * separates the training rows, ends in a coded error at each party, never a silently bad model.
 *
 * Separation. No party sees the joint logits, so the plaintext test (every row on its label's side
 * of the boundary) cannot be run. The optimiser sees the gradient at every point it visits (line
 * search trials included) and every move; it knows the objective at the start exactly (the guest's
 * intercept at logit(p̄), every other weight 0: the mean log-loss is the entropy H(p̄) of the event
 * rate, which it is told). The objective at the end is then the start plus the line integral of
 * the gradient along the path, by the trapezoid rule on each segment (exact for a quadratic). The
 * data term is that minus the L2 penalty. Under complete or quasi-complete separation the L2
 * optimum leaves almost no log-loss (measured 1e-3 of H(p̄) on a leaking column, λ = 1e-4); a
 * credit model explains a few tens of percent of it (McFadden R² 0.05–0.4). So the optimiser
 * flags separation when the data term is below SEPARATION_FRACTION of H(p̄) (R² ≥ 0.95); it is a
 * test of near-separation, stricter than the plaintext one's "every row on its side".
 *
 * What the refusal discloses. The optimiser adds one bit to Finished (`separated`), derived from
 * what it already holds. Each party names only its own features (the largest |w_j|·max|x_j|, the
 * usual culprits) in its own error; the JobFailed a node sends carries the code and stage only
 * (server/messages.ts), so another party learns that training was refused and why, not which
 * feature of whom.
 */
import { IndomainError } from '../../engine/errors.ts';
import { extremeFeatures, notConverged } from '../../models/refusals.ts';

/** Below this fraction of H(p̄) left as mean log-loss, the fit is taken as separating the rows. */
export const SEPARATION_FRACTION = 0.05;

/** Entropy (nats) of a 0/1 label with this event rate: the mean log-loss of the intercept-only model. */
export function labelEntropy(rate: number): number {
  const p = Math.min(1 - 1e-6, Math.max(1e-6, rate));
  return -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
}

/** The objective along the optimiser's path, integrated from the gradients it already receives. */
export class PathObjective {
  private value: number;
  private lastW: Float64Array | undefined;
  private lastG: Float64Array | undefined;

  constructor(private readonly rate: number) {
    this.value = labelEntropy(rate);
  }

  /** The gradient `g` at the weights `w` (the next point of the path). */
  visit(w: ArrayLike<number>, g: ArrayLike<number>): void {
    const pw = this.lastW;
    const pg = this.lastG;
    if (pw && pg) for (let j = 0; j < pw.length; j++) this.value += 0.5 * (pg[j]! + g[j]!) * (w[j]! - pw[j]!);
    this.lastW = Float64Array.from(w);
    this.lastG = Float64Array.from(g);
  }

  /** Mean log-loss at the last point: the objective less (λ/2)‖w‖² over the penalised weights. */
  dataLoss(lambda: number, penalised: (j: number) => boolean): number {
    const w = this.lastW;
    let pen = 0;
    if (w) for (let j = 0; j < w.length; j++) if (penalised(j)) pen += w[j]! * w[j]!;
    return this.value - 0.5 * lambda * pen;
  }

  /** True when the fit leaves less than SEPARATION_FRACTION of the label entropy as log-loss. */
  separated(lambda: number, penalised: (j: number) => boolean): boolean {
    return this.dataLoss(lambda, penalised) < SEPARATION_FRACTION * labelEntropy(this.rate);
  }
}

/**
 * A party's refusal when training ended badly (Finished with converged false or separated true),
 * naming its own features only; undefined when the model stands.
 */
export function finishRefusal(
  end: { converged: boolean; separated?: boolean; iterations: number },
  cols: readonly Float64Array[],
  weights: ArrayLike<number>,
  names: readonly string[] | undefined,
  party: string,
  refuseUnconverged: boolean,
): IndomainError | undefined {
  if (end.separated) {
    const own = cols.length > 0 ? `; ${party}'s features with the largest logit contributions: ${extremeFeatures(cols, weights, names).join(', ')}` : '';
    return new IndomainError('VFL_SEPARATION', `near-complete: under ${SEPARATION_FRACTION * 100}% of the label entropy left as log-loss, often a column that encodes the label${own} (the culprit may be the other party's)`);
  }
  if (!end.converged && refuseUnconverged) {
    if (cols.length === 0) return new IndomainError('VFL_NOT_CONVERGED', `after ${end.iterations} iterations; cap, bin or drop the features with the most extreme logit contributions (on the other party's side)`);
    return notConverged(cols, names, weights, end.iterations);
  }
  return undefined;
}
