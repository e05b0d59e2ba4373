/** Training configuration shared by the three roles of `vfl-lr`. */
import { IndomainError } from '../../engine/errors.ts';
import { CKKS_PARAMS } from '../he/params.ts';

export interface VflConfig {
  readonly job: string;
  /** Name of the CKKS parameter set (protocols/he/params.ts). */
  readonly params: string;
  /** L2 penalty on feature weights (not the intercept). */
  readonly lambda: number;
  readonly maxIterations: number;
  /**
   * Converged when ‖gradient‖∞ ≤ max(tolerance, 3 × the flooding noise on each released gradient
   * value), or when the next quasi-Newton step is below `stepTolerance`.
   */
  readonly tolerance: number;
  /**
   * Converged when ‖H⁻¹g‖∞ (the full quasi-Newton step the arbiter would take, about the distance
   * to the optimum) is at most this times max(1, ‖w‖∞).
   */
  readonly stepTolerance: number;
  /** Largest degree K of the per-sample Chebyshev expansion of the sigmoid. */
  readonly chebyshevDegree: number;
  /**
   * Each window's degree is the smallest that approximates the sigmoid within the round's
   * tolerance over its half-width (chebyshevDegreeFor), up to `chebyshevDegree`. The round's
   * tolerance starts at `sigmoidToleranceStart` and follows the gradient down a fixed ladder
   * (1e-2, 3e-3, 1e-3, …) to this, the final one: far from the optimum a coarse sigmoid costs
   * nothing in accuracy and far fewer basis vectors.
   */
  readonly sigmoidTolerance: number;
  readonly sigmoidToleranceStart: number;
  /**
   * The final sigmoid tolerance of `vfl-lr` (three parties), in place of `sigmoidTolerance`: its
   * round is additive shares, where a basis vector costs a few milliseconds, not a ciphertext per
   * chunk, so it ends two orders finer. At 1e-4 the approximation's bias held the mixed shape at a
   * relative weight error of 3.6e-3; at 1e-6, 4.4e-4 (docs/perf/vfl-lr.md). vfl-lr-2p keeps
   * `sigmoidTolerance`.
   */
  readonly sharedSigmoidTolerance: number;
  /**
   * Largest window degree in `vfl-lr`, in place of `chebyshevDegree`: at 1e-6 a degree-16 window
   * spans ±2.5 logits, and partial logits over ±40 (breast) needed 17 windows; degree 32 spans ±6.
   */
  readonly sharedChebyshevDegree: number;
  /** Widest window half-width tried first (logit units); doubled while more than maxWindows are needed. */
  readonly windowHalfWidth: number;
  /** Most sigmoid windows the host may use in a round (protocols/vfl-lr/windows.ts). */
  readonly maxWindows: number;
  /** Window edges snap outward to multiples of this (logit units). */
  readonly windowGrid: number;
  /** Smallest window half-width (logit units). */
  readonly minHalfWidth: number;
  /**
   * One-window half-width in standard deviations of the partial logits, for the consortium hybrid's
   * platform (protocols/consortium/hybrid-platform.ts), which still sends one clamped window;
   * vfl-lr itself covers every row (windows.ts).
   */
  readonly windowStds: number;
  /** Rows (from the start of the aligned order) used for the initial Hessian. */
  readonly hessianSampleRows: number;
  /** Bits of noise flooding above the estimated decryption error of released values. */
  readonly floodMarginBits: number;
  /**
   * The round after the first whose ‖gradient‖∞ is at most this computes the one weighted Hessian
   * XᵀWX of the sample rows (protocols/vfl-lr/hessian.ts), from which BFGS restarts; 0: never.
   * 0.03 (the default) halves the rounds on default_credit; with `finalStep` the rare-events
   * shape holds its weight bound too (docs/perf/vfl-lr.md).
   */
  readonly hessianGradient: number;
  /** Largest padded matrix (32-bit words) of one Hessian block; a larger block is approximated. */
  readonly hessianBudgetWords: number;
  /**
   * On convergence by the step rule with ‖g‖∞ still above 3 × the flood, the arbiter sends the
   * last quasi-Newton step −H⁻¹g as a final Update (no gradient round follows it).
   */
  readonly finalStep: boolean;
  /**
   * A run that reaches maxIterations without converging ends in VFL_NOT_CONVERGED at each party,
   * and one whose final weights show separation in VFL_SEPARATION (refusal.ts);
   * false keeps the model as the run ends (a deliberately short run, e.g. a test).
   */
  readonly refuseUnconverged: boolean;
  /**
   * Rows per part of vfl-lr's shared round (protocols/vfl-lr/shares.ts): the basis, residual and
   * columns go a part at a time, so no party holds a round's values for every row at once, and
   * the parties overlap (the guest answers part c while the host builds part c + 1).
   */
  readonly partRows: number;
}

export const DEFAULT_VFL: Omit<VflConfig, 'job'> = {
  params: 'ckks-n8192-l1',
  lambda: 1e-4,
  maxIterations: 60,
  tolerance: 1e-6,
  stepTolerance: 1e-4,
  chebyshevDegree: 16,
  sigmoidTolerance: 1e-4,
  sigmoidToleranceStart: 1e-2,
  windowHalfWidth: 4,
  maxWindows: 16,
  windowGrid: 0.5,
  minHalfWidth: 1,
  windowStds: 4,
  hessianSampleRows: 4096,
  floodMarginBits: 4,
  hessianGradient: 0.03,
  hessianBudgetWords: 2 ** 24,
  // The restart reaches the step rule in fewer rounds, often with the gradient still above the
  // flood (rare events: relative weight error 9.7e-4 without the last step, 1.3–3.2e-4 with it).
  finalStep: true,
  refuseUnconverged: true,
  partRows: 4096,
  sharedSigmoidTolerance: 1e-6,
  sharedChebyshevDegree: 32,
};

export function vflConfig(job: string, overrides: Partial<VflConfig> = {}): VflConfig {
  const c: VflConfig = { ...DEFAULT_VFL, ...overrides, job };
  const bad = (field: string, why: string): never => {
    throw new IndomainError('VFL_BAD_CONFIG', why, { field });
  };
  if (!CKKS_PARAMS[c.params]) bad('params', `unknown parameter set "${c.params}"`);
  if (!(c.lambda >= 0)) bad('lambda', 'must be ≥ 0');
  if (!Number.isInteger(c.maxIterations) || c.maxIterations < 1) bad('maxIterations', 'must be a positive integer');
  if (!(c.tolerance > 0)) bad('tolerance', 'must be > 0');
  if (!Number.isInteger(c.chebyshevDegree) || c.chebyshevDegree < 1 || c.chebyshevDegree > 16) bad('chebyshevDegree', 'must be 1..16');
  if (!(c.sigmoidTolerance >= 1e-6 && c.sigmoidTolerance < 0.1)) bad('sigmoidTolerance', 'must be in [1e-6, 0.1)');
  if (!(c.sigmoidToleranceStart >= c.sigmoidTolerance && c.sigmoidToleranceStart < 0.1)) bad('sigmoidToleranceStart', 'must be in [sigmoidTolerance, 0.1)');
  if (!Number.isInteger(c.sharedChebyshevDegree) || c.sharedChebyshevDegree < 1 || c.sharedChebyshevDegree > 64) bad('sharedChebyshevDegree', 'must be 1..64');
  if (!(c.sharedSigmoidTolerance >= 1e-7 && c.sharedSigmoidTolerance <= c.sigmoidToleranceStart)) bad('sharedSigmoidTolerance', 'must be in [1e-7, sigmoidToleranceStart]');
  if (!(c.windowHalfWidth > 0) || !(c.minHalfWidth > 0) || !(c.windowGrid > 0)) bad('windowHalfWidth', 'window must be positive');
  if (!Number.isInteger(c.maxWindows) || c.maxWindows < 1 || c.maxWindows > 16) bad('maxWindows', 'must be 1..16');
  if (!(c.stepTolerance >= 0)) bad('stepTolerance', 'must be ≥ 0');
  if (!(c.hessianGradient >= 0 && c.hessianGradient < 1)) bad('hessianGradient', 'must be in [0, 1)');
  if (!Number.isInteger(c.hessianBudgetWords) || c.hessianBudgetWords < 1 || c.hessianBudgetWords > 2 ** 26) bad('hessianBudgetWords', 'must be an integer in 1..2^26');
  if (typeof c.finalStep !== 'boolean') bad('finalStep', 'must be true or false');
  if (!Number.isInteger(c.partRows) || c.partRows < 16 || c.partRows > 2 ** 20) bad('partRows', 'must be an integer in 16..2^20');
  if (!Number.isInteger(c.hessianSampleRows) || c.hessianSampleRows < 1) bad('hessianSampleRows', 'must be a positive integer');
  // The flood hides what a decryption carries beyond its value: a job spec may raise it, never lower it.
  if (!Number.isInteger(c.floodMarginBits) || c.floodMarginBits < DEFAULT_VFL.floodMarginBits || c.floodMarginBits > 16) bad('floodMarginBits', `must be an integer in ${DEFAULT_VFL.floodMarginBits}..16`);
  return c;
}

/**
 * The configuration `vfl-lr`'s roles work with: its own final sigmoid tolerance and degree cap in
 * place of vfl-lr-2p's, and windows as wide as the cap allows from the first try (fewer, wider
 * windows take fewer basis vectors: on default_credit 208 MB a run instead of 255 MB at ±4).
 */
export function sharedRoundConfig(c: VflConfig): VflConfig {
  return { ...c, sigmoidTolerance: c.sharedSigmoidTolerance, chebyshevDegree: c.sharedChebyshevDegree, windowHalfWidth: 1024 };
}

/**
 * The sigmoid tolerance for the next round: the largest value of the ladder 10^(−k/2) at or below
 * the gradient's ∞-norm, within [final, start], never above the previous round's (a monotone
 * schedule, so line-search trials compare like with like as the run ends).
 */
export function roundTolerance(c: VflConfig, gradientNorm: number, previous: number): number {
  let t = c.sigmoidTolerance;
  for (let k = 2; k <= 12; k++) {
    const v = 10 ** (-k / 2);
    if (v <= gradientNorm) {
      t = v;
      break;
    }
  }
  return Math.min(previous, c.sigmoidToleranceStart, Math.max(c.sigmoidTolerance, t));
}
