/**
 * BFGS with a gradient-only Wolfe line search, as a pure state machine: the caller supplies the
 * gradient at the current point, the optimiser returns the move to the next point. The federated
 * arbiter and the plaintext "same optimiser" reference run this same code.
 *
 * Why gradient-only. The `vfl-lr` arbiter decrypts gradients and nothing else: it has no objective
 * value, so neither an Armijo test nor a trust-region ratio (actual over predicted decrease) is
 * available to it. Along a search direction d the objective φ(α) = f(w₀ + αd) is convex, so its
 * derivative φ′(α) = g(w₀ + αd)ᵀd is increasing, and each gradient the arbiter receives gives
 * φ′ at the trial step. The step is accepted under the strong Wolfe curvature condition
 * |φ′(α)| ≤ c₂|φ′(0)|; for a convex φ (and exactly for a quadratic one) that also gives descent,
 * since φ(α) − φ(0) ≈ α(φ′(0) + φ′(α))/2 < 0. Otherwise the step is bracketed and refined by
 * safeguarded secant steps on φ′ (the exact line minimiser on a quadratic). The first trial is the
 * full quasi-Newton step, accepted at once near the optimum, so superlinear convergence is kept; the
 * line search only acts where unit steps overshoot: large opposing weights on columns with
 * extreme values, near-separable data. The curvature model starts from the exact logistic Hessian
 * at the starting point (initialLogisticHessian) and each accepted step's (s, y) pair satisfies
 * sᵀy > 0, so the inverse stays positive definite. Nocedal & Wright, Numerical Optimization
 * (2nd ed.), §3.5 and §6.1.
 */
import { dot, matVec, spdInverse } from '../engine/linalg.ts';
import { inverseUpdate } from './bfgs.ts';

export interface WolfeOptions {
  /** Curvature constant c₂ of the strong Wolfe condition. */
  curvature?: number;
  /** Largest |move| in any coordinate of one trial. */
  maxStep?: number;
  /** Trials of one line search before its best bracketed point is taken. */
  maxTrials?: number;
  /**
   * Standard deviation of the noise on each gradient value (the federated run's flooding): a
   * curvature pair whose gradient change is within it says nothing about curvature and is skipped.
   */
  gradientNoise?: number;
}

export class WolfeBfgs {
  private readonly h0inv: Float64Array;
  private hinv: Float64Array;
  /** Gradient at the last accepted point, and the direction searched from it. */
  private g0: Float64Array | undefined;
  private dir: Float64Array | undefined;
  private slope0 = 0;
  /** Current trial step length along `dir`, and the bracket [lo, hi] with φ′ at its ends. */
  private alpha = 0;
  private lo = 0;
  private loSlope = 0;
  private hi = Infinity;
  private hiSlope = 0;
  private trials = 0;
  private readonly c2: number;
  private readonly maxStep: number;
  private readonly maxTrials: number;
  private readonly noise: number;
  /** Accepted steps (line searches completed) and rounds (gradients received). */
  accepted = 0;
  rounds = 0;
  resets = 0;

  constructor(initialHessian: Float64Array, readonly dim: number, o: WolfeOptions = {}) {
    this.h0inv = spdInverse(initialHessian, dim);
    this.hinv = this.h0inv;
    this.c2 = o.curvature ?? 0.9;
    this.maxStep = o.maxStep ?? 5;
    this.maxTrials = o.maxTrials ?? 12;
    this.noise = o.gradientNoise ?? 0;
  }

  /** ‖H⁻¹g‖∞: the size of the full quasi-Newton step from a point with gradient `grad`. */
  predictedStep(grad: Float64Array): number {
    const s = matVec(this.hinv, this.dim, grad);
    let m = 0;
    for (let i = 0; i < this.dim; i++) m = Math.max(m, Math.abs(s[i]!));
    return m;
  }

  /**
   * The full quasi-Newton step −H⁻¹g from a point with gradient `grad`, capped at maxStep in any
   * coordinate; the optimiser's state is unchanged (a last step after convergence).
   */
  finalStep(grad: Float64Array): Float64Array {
    const s = matVec(this.hinv, this.dim, grad);
    let m = 0;
    for (let i = 0; i < this.dim; i++) m = Math.max(m, Math.abs(s[i]!));
    const f = m > this.maxStep ? this.maxStep / m : 1;
    for (let i = 0; i < this.dim; i++) s[i] = -f * s[i]!;
    return s;
  }

  /** Given the gradient at the current point, the move (to add to the weights) to the next point. */
  next(grad: Float64Array): Float64Array {
    this.rounds++;
    const d = this.dim;
    if (this.dir) {
      const slope = dot(grad, this.dir);
      this.trials++;
      const done = Math.abs(slope) <= this.c2 * Math.abs(this.slope0) || this.trials >= this.maxTrials;
      if (!done) {
        let target: number;
        if (slope < 0) {
          // Too short: move the lower end up; extrapolate by secant, at least doubling.
          const prevLo = this.lo;
          const prevSlope = this.loSlope;
          this.lo = this.alpha;
          this.loSlope = slope;
          if (this.hi === Infinity) {
            const sec = slope > prevSlope ? this.alpha - (slope * (this.alpha - prevLo)) / (slope - prevSlope) : Infinity;
            target = Math.min(Math.max(sec, 2 * this.alpha), 10 * this.alpha);
          } else target = this.interpolate();
        } else {
          this.hi = this.alpha;
          this.hiSlope = slope;
          target = this.interpolate();
        }
        const move = new Float64Array(d);
        for (let i = 0; i < d; i++) move[i] = (target - this.alpha) * this.dir[i]!;
        this.alpha = target;
        return move;
      }
      // Accepted: the curvature pair of this step updates the inverse Hessian.
      const s = new Float64Array(d);
      const y = new Float64Array(d);
      for (let i = 0; i < d; i++) {
        s[i] = this.alpha * this.dir[i]!;
        y[i] = grad[i]! - this.g0![i]!;
      }
      const sy = dot(s, y);
      const yy = dot(y, y);
      if (sy > 1e-12 * Math.sqrt(dot(s, s) * yy) && Math.sqrt(yy) > 8 * this.noise * Math.sqrt(d)) this.hinv = inverseUpdate(this.hinv, d, s, y, sy);
      this.accepted++;
    }
    // A new search from this point.
    let dir = matVec(this.hinv, d, grad);
    for (let i = 0; i < d; i++) dir[i] = -dir[i]!;
    let slope0 = dot(grad, dir);
    if (!(slope0 < 0)) {
      // Lost positive definiteness to rounding: restart from the initial curvature.
      this.hinv = this.h0inv;
      this.resets++;
      dir = matVec(this.hinv, d, grad);
      for (let i = 0; i < d; i++) dir[i] = -dir[i]!;
      slope0 = dot(grad, dir);
    }
    let m = 0;
    for (let i = 0; i < d; i++) m = Math.max(m, Math.abs(dir[i]!));
    this.g0 = Float64Array.from(grad);
    this.dir = dir;
    this.slope0 = slope0;
    this.alpha = m > this.maxStep ? this.maxStep / m : 1;
    this.lo = 0;
    this.loSlope = slope0;
    this.hi = Infinity;
    this.hiSlope = 0;
    this.trials = 0;
    const move = new Float64Array(d);
    for (let i = 0; i < d; i++) move[i] = this.alpha * dir[i]!;
    return move;
  }

  /** Secant root of φ′ inside the bracket, kept a tenth away from either end. */
  private interpolate(): number {
    const { lo, hi, loSlope, hiSlope } = this;
    const root = hiSlope > loSlope ? lo - (loSlope * (hi - lo)) / (hiSlope - loSlope) : (lo + hi) / 2;
    const margin = 0.1 * (hi - lo);
    return Math.min(hi - margin, Math.max(lo + margin, root));
  }
}
