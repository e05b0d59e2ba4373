/**
 * Label privacy of the binning stage: the Gaussian mechanism on the platform features' fine-bin
 * event counts, applied by the bank (guest) once, before it plans the platform's coarse bins.
 *
 * Why. The platform knows the rows of each of its bins. Exact WOE per coarse bin gives it the exact
 * event count of the bin, a subset sum of labels over rows it knows; with enough features the 0/1
 * labels are the unique solution of that system (tests/attacks/binplan-labels.test.ts: 455 of 455
 * breast training labels recovered from exact WOE).
 *
 * Mechanism. Neighbouring training sets differ in the label of one row (the rows, and so every
 * bin's row count, are fixed and known to the platform). Changing one label changes exactly one
 * fine-bin event count of each of the F platform features by 1: L2 sensitivity Δ = √F. The bank
 * adds N(0, σ²) to every fine-bin count, σ = Δ·√(2 ln(1.25/δ))/ε (Dwork & Roth, "The Algorithmic
 * Foundations of Differential Privacy", 2014, Theorem A.1), and clips each to [0, rows of the
 * bin]. Theorem A.1 is stated for ε < 1; {@link gaussianDelta} computes the exact δ of this σ from
 * the tight condition of Balle & Wang ("Improving the Gaussian Mechanism for Differential Privacy",
 * ICML 2018, Theorem 8), and config validation refuses any (ε, δ) for which it exceeds δ (it is
 * orders of magnitude below δ over the accepted range, ε ∈ (0, 1], δ ∈ (0, 1e-3]).
 *
 * Guarantee. The noised counts are released once per job, and the merge plan, coarse WOE and IV
 * the platform receives are computed from them and from the bin row counts it already holds
 * (post-processing): BinPlan is (ε, δ)-differentially private in each training label. Not covered:
 * what vfl-lr training discloses to the platform (its own coefficients), and floating-point
 * artefacts of sampling the Gaussian in double precision (Mironov, CCS 2012).
 */
import { gaussian, type Rng } from '../../engine/rng.ts';

/** The label-privacy parameters of the scorecard stage (ScorecardConfig.labelPrivacy). */
export interface LabelPrivacy {
  /** ε of the (ε, δ) guarantee, in (0, 1] (the classical Gaussian mechanism's range). */
  readonly epsilon: number;
  /** δ of the guarantee, in (0, 1e-3]. */
  readonly delta: number;
}

/** σ of the noise on each fine-bin count, for `features` platform features released together. */
export function labelNoiseSigma(p: LabelPrivacy, features: number): number {
  return Math.sqrt(features) * sigmaPerSensitivity(p);
}

/** σ/Δ of the classical calibration, √(2 ln(1.25/δ))/ε. */
export function sigmaPerSensitivity(p: LabelPrivacy): number {
  return Math.sqrt(2 * Math.log(1.25 / p.delta)) / p.epsilon;
}

/**
 * The noised counts: each event count plus N(0, σ²) from the bank's secret randomness, clipped to
 * [0, rows of its bin]. `rng` must be cryptographic (cryptoRng or a secretRng stream).
 */
export function noisedCounts(events: ArrayLike<number>, totals: ArrayLike<number>, sigma: number, rng: Rng): Float64Array {
  const out = new Float64Array(events.length);
  for (let b = 0; b < events.length; b++) out[b] = Math.min(totals[b]!, Math.max(0, events[b]! + sigma * gaussian(rng)));
  return out;
}

/**
 * The exact δ at which the Gaussian mechanism with noise σ = ratio·Δ is ε-DP (Balle & Wang 2018,
 * Theorem 8): Φ(1/(2r) − εr) − e^ε·Φ(−1/(2r) − εr), r = σ/Δ.
 */
export function gaussianDelta(ratio: number, epsilon: number): number {
  const a = 1 / (2 * ratio);
  const b = epsilon * ratio;
  return normalCdf(a - b) - Math.exp(epsilon) * normalCdf(-a - b);
}

/** Φ(x), accurate to double precision relative error in both tails. */
export function normalCdf(x: number): number {
  return x >= 0 ? 1 - upperTail(x) : upperTail(-x);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Q(x) = 1 − Φ(x) for x ≥ 0. */
function upperTail(x: number): number {
  const density = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
  if (x < 3) {
    // Φ(x) − 1/2 = φ(x)·Σ x^(2n+1)/(1·3·…·(2n+1)): positive terms, no cancellation.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (x * x) / (2 * n + 1);
      sum += term;
    }
    return 0.5 - density * sum;
  }
  // Mills ratio as a continued fraction, x + 1/(x + 2/(x + 3/(x + …))), evaluated from the tail.
  let f = x;
  for (let k = 120; k >= 1; k--) f = x + k / f;
  return density / f;
}
