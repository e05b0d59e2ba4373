/**
 * Centralised (plaintext) logistic regression: the reference the federated model is measured against.
 *
 * Objective, shared with `protocols/vfl-lr`: mean log-loss + (λ/2)·‖w‖² over the feature weights
 * (the intercept is not penalised). Optimisers: `bfgs` is exactly the federated optimiser (same
 * initial Hessian from the same sample rows, same steps) of the old federated run, `wolfe` is the
 * federated optimiser now (BFGS with a gradient-only Wolfe line search, models/wolfe.ts), `newton`
 * is exact Newton with a backtracking line search, the fully converged reference.
 */
import { crossGram, linearPredictor, ones, transposeTimes } from '../engine/columns.ts';
import { cholesky, choleskySolve, dot, maxAbs } from '../engine/linalg.ts';
import { bfgsInit, bfgsStep, initialLogisticHessian } from './bfgs.ts';
import { WolfeBfgs } from './wolfe.ts';
import { checkColumns, checkSeparation, notConverged } from './refusals.ts';

export interface LogisticOptions {
  /** L2 penalty on feature weights. */
  lambda: number;
  maxIterations: number;
  /** Stop when ‖gradient‖∞ ≤ tolerance. */
  tolerance: number;
  optimizer: 'bfgs' | 'wolfe' | 'newton';
  /** BFGS: rows (from the start) used for the initial Hessian. */
  hessianSampleRows: number;
  /** Run exactly this many iterations and the final gradient, ignoring the tolerance (for like-for-like timing). */
  fixedIterations?: number;
  /**
   * Wolfe: in the round after the gradient's ∞-norm first falls to this, BFGS restarts from the
   * weighted Hessian XᵀWX/m + λI of the sample rows at that point, as the federated arbiter does
   * (protocols/vfl-lr/hessian.ts); 0 or absent: never.
   */
  hessianGradient?: number;
}

export const DEFAULT_LOGISTIC: LogisticOptions = {
  lambda: 1e-4,
  maxIterations: 30,
  tolerance: 1e-5,
  optimizer: 'bfgs',
  hessianSampleRows: 4096,
};

export interface LogisticModel {
  intercept: number;
  weights: Float64Array;
  iterations: number;
  converged: boolean;
  /** ‖gradient‖∞ at each iteration's starting point. */
  gradientNorms: number[];
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** −log p(y | z) for one row, stable for any z. */
export function logLossTerm(z: number, y: number): number {
  const m = y ? -z : z;
  return m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
}

export function logit(p: number): number {
  return Math.log(p / (1 - p));
}

/** Probability of the event for each row. */
export function predictLogistic(model: Pick<LogisticModel, 'intercept' | 'weights'>, cols: readonly Float64Array[]): Float64Array {
  const n = cols[0]?.length ?? 0;
  const z = linearPredictor(cols, model.weights, n, model.intercept);
  for (let i = 0; i < n; i++) z[i] = sigmoid(z[i]!);
  return z;
}

/** Mean event rate of a 0/1 label vector. */
export function eventRate(y: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]!;
  return s / y.length;
}

/** Fit on columnar features (no intercept column: it is added here). */
export function fitLogistic(cols: readonly Float64Array[], y: Uint8Array, options: Partial<LogisticOptions> = {}): LogisticModel {
  const o = { ...DEFAULT_LOGISTIC, ...options };
  const n = y.length;
  const x = [ones(n), ...cols];
  const d = x.length;
  const rate = eventRate(y);
  const w = new Float64Array(d);
  w[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, rate)));
  const penalised = x.map((_, j) => j > 0);
  const gradient = (): Float64Array => {
    const z = linearPredictor(x, w, n);
    for (let i = 0; i < n; i++) z[i] = sigmoid(z[i]!) - y[i]!;
    const g = transposeTimes(x, z);
    for (let j = 0; j < d; j++) g[j] = g[j]! / n + (penalised[j] ? o.lambda * w[j]! : 0);
    return g;
  };
  const norms: number[] = [];
  const limit = o.fixedIterations ?? o.maxIterations;
  let converged = false;
  let iterations = 0;
  if (o.optimizer === 'bfgs') {
    const m = Math.min(n, o.hessianSampleRows);
    const sample = x.map((c) => c.subarray(0, m));
    let state = bfgsInit(initialLogisticHessian(crossGram(sample, sample), d, m, rate, o.lambda, penalised), d);
    for (; iterations < limit; ) {
      const g = gradient();
      norms.push(maxAbs(g));
      if (o.fixedIterations === undefined && maxAbs(g) <= o.tolerance) {
        converged = true;
        break;
      }
      const r = bfgsStep(state, g);
      state = r.state;
      for (let j = 0; j < d; j++) w[j] += r.step[j]!;
      iterations++;
    }
    // Like a run that stops on the tolerance, end with the gradient at the final weights: its
    // norm is the convergence check (the federated run computes it too).
    if (o.fixedIterations !== undefined) norms.push(maxAbs(gradient()));
  } else if (o.optimizer === 'wolfe') {
    const m = Math.min(n, o.hessianSampleRows);
    const sample = x.map((c) => c.subarray(0, m));
    let opt = new WolfeBfgs(initialLogisticHessian(crossGram(sample, sample), d, m, rate, o.lambda, penalised), d);
    let hessianRound = -1;
    for (; iterations < limit; ) {
      const g = gradient();
      norms.push(maxAbs(g));
      if (o.fixedIterations === undefined && maxAbs(g) <= o.tolerance) {
        converged = true;
        break;
      }
      if (iterations === hessianRound) {
        const z = linearPredictor(sample, w, m);
        for (let i = 0; i < m; i++) {
          const p = sigmoid(z[i]!);
          z[i] = p * (1 - p);
        }
        const h = crossGram(sample, sample, z);
        for (let k = 0; k < d * d; k++) h[k] = h[k]! / m;
        for (let j = 0; j < d; j++) h[j * d + j] += (penalised[j] ? o.lambda : 0) + 1e-8;
        opt = new WolfeBfgs(h, d);
      }
      const move = opt.next(g);
      for (let j = 0; j < d; j++) w[j] += move[j]!;
      iterations++;
      if (hessianRound < 0 && (o.hessianGradient ?? 0) > 0 && maxAbs(g) <= o.hessianGradient!) hessianRound = iterations;
    }
    if (o.fixedIterations !== undefined) norms.push(maxAbs(gradient()));
  } else {
    // Newton with a backtracking (Armijo) line search on the penalised objective: a unit step from
    // far away can overshoot without bound when columns carry extreme values (the plain iteration
    // diverges on the `mixed` shape of benchmarks/shapes.ts); halving until the objective falls
    // gives a monotone sequence that converges on any convex objective.
    const objective = (v: Float64Array): number => {
      const z = linearPredictor(x, v, n);
      let s = 0;
      for (let i = 0; i < n; i++) s += logLossTerm(z[i]!, y[i]!);
      let pen = 0;
      for (let j = 0; j < d; j++) if (penalised[j]) pen += v[j]! * v[j]!;
      return s / n + (o.lambda / 2) * pen;
    };
    let f = objective(w);
    for (; iterations < limit; ) {
      const g = gradient();
      norms.push(maxAbs(g));
      if (o.fixedIterations === undefined && maxAbs(g) <= o.tolerance) {
        converged = true;
        break;
      }
      const z = linearPredictor(x, w, n);
      const weight = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const p = sigmoid(z[i]!);
        weight[i] = p * (1 - p);
      }
      const h = crossGram(x, x, weight);
      for (let k = 0; k < d * d; k++) h[k] = h[k]! / n;
      for (let j = 0; j < d; j++) h[j * d + j] += (penalised[j] ? o.lambda : 0) + 1e-12;
      const step = choleskySolve(cholesky(h, d), d, g);
      const slope = -dot(g, step);
      let t = 1;
      const trial = new Float64Array(d);
      for (let back = 0; ; back++) {
        for (let j = 0; j < d; j++) trial[j] = w[j]! - t * step[j]!;
        const ft = objective(trial);
        // Within rounding of the optimum (Newton decrement below 1e-14) the objective cannot tell
        // steps apart any more: take the full step, the quadratic model is exact there.
        if (ft <= f + 1e-4 * t * slope || -slope < 1e-14 * Math.max(1, f) || back >= 60) {
          f = ft;
          break;
        }
        t /= 2;
      }
      w.set(trial);
      iterations++;
    }
  }
  return { intercept: w[0]!, weights: w.slice(1), iterations, converged, gradientNorms: norms };
}

/**
 * The plaintext reference with refusals (models/refusals.ts): constant columns, no features,
 * non-finite values, complete separation and non-convergence are coded errors naming the features.
 * Newton with a line search by default.
 */
export function fitLogisticChecked(cols: readonly Float64Array[], y: Uint8Array, names?: readonly string[], options: Partial<LogisticOptions> = {}): LogisticModel {
  checkColumns(cols, names, 'the data');
  const model = fitLogistic(cols, y, { optimizer: 'newton', tolerance: 1e-8, maxIterations: 100, ...options });
  checkSeparation(cols, names, y, model);
  if (!model.converged) throw notConverged(cols, names, model.weights, model.iterations);
  return model;
}
