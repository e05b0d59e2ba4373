/**
 * BFGS on the inverse Hessian, as a pure state machine: the caller supplies gradients, the
 * optimiser returns steps. The federated arbiter and the centralised reference run this same code,
 * so "same optimiser, same iterations" is literal.
 *
 * Unit steps from a good initial Hessian (the logistic Hessian at the starting point, see
 * {@link initialLogisticHessian}) converge superlinearly on logistic regression; a step longer than
 * `maxStep` (∞-norm) is scaled down as a trust-region safeguard, and an update with non-positive
 * curvature (sᵀy ≤ ε‖s‖‖y‖) is skipped so the inverse stays positive definite.
 */
import { dot, matVec, spdInverse } from '../engine/linalg.ts';

export interface BfgsState {
  readonly dim: number;
  /** Inverse Hessian approximation, row-major dim×dim. */
  readonly hinv: Float64Array;
  readonly prevGrad: Float64Array | undefined;
  readonly prevStep: Float64Array | undefined;
  readonly iteration: number;
  readonly skippedUpdates: number;
}

export interface BfgsOptions {
  /** Largest allowed |step| in any coordinate. */
  maxStep?: number;
}

export function bfgsInit(initialHessian: Float64Array, dim: number): BfgsState {
  return {
    dim,
    hinv: spdInverse(initialHessian, dim),
    prevGrad: undefined,
    prevStep: undefined,
    iteration: 0,
    skippedUpdates: 0,
  };
}

/** Given the gradient at the current point, update the curvature model and return the next step. */
export function bfgsStep(state: BfgsState, grad: Float64Array, options: BfgsOptions = {}): { state: BfgsState; step: Float64Array } {
  const d = state.dim;
  let hinv = state.hinv;
  let skipped = state.skippedUpdates;
  if (state.prevGrad && state.prevStep) {
    const s = state.prevStep;
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) y[i] = grad[i]! - state.prevGrad[i]!;
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      hinv = inverseUpdate(hinv, d, s, y, sy);
    } else {
      skipped++;
    }
  }
  const step = matVec(hinv, d, grad);
  let m = 0;
  for (let i = 0; i < d; i++) {
    step[i] = -step[i]!;
    m = Math.max(m, Math.abs(step[i]!));
  }
  const maxStep = options.maxStep ?? 5;
  if (m > maxStep) for (let i = 0; i < d; i++) step[i] = (step[i]! * maxStep) / m;
  return {
    state: { dim: d, hinv, prevGrad: Float64Array.from(grad), prevStep: step, iteration: state.iteration + 1, skippedUpdates: skipped },
    step,
  };
}

/** H⁺ = (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, ρ = 1/(sᵀy). */
export function inverseUpdate(h: Float64Array, d: number, s: Float64Array, y: Float64Array, sy: number): Float64Array {
  const rho = 1 / sy;
  const hy = matVec(h, d, y);
  const yhy = dot(y, hy);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      out[i * d + j] =
        h[i * d + j]! - rho * (s[i]! * hy[j]! + hy[i]! * s[j]!) + (rho * rho * yhy + rho) * s[i]! * s[j]!;
    }
  }
  return out;
}

/**
 * The logistic-regression Hessian at a constant predicted probability p̄ (the starting point
 * w = (logit p̄, 0, …)): p̄(1−p̄)·XᵀX/n + λ·I on the penalised coordinates. `gram` is XᵀX over
 * `rows` rows (row-major d×d), `penalised[j]` says whether coordinate j carries the L2 penalty.
 */
export function initialLogisticHessian(
  gram: Float64Array,
  d: number,
  rows: number,
  eventRate: number,
  lambda: number,
  penalised: readonly boolean[],
): Float64Array {
  const w = eventRate * (1 - eventRate);
  const h = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) h[i] = (w * gram[i]!) / rows;
  // A tiny ridge keeps H₀ positive definite when a column is constant or two are collinear.
  for (let j = 0; j < d; j++) h[j * d + j] += (penalised[j] ? lambda : 0) + 1e-8;
  return h;
}
