/** Scorecard configuration shared by both parties of the `scorecard` protocol. */
import { IndomainError } from '../../engine/errors.ts';
import { CKKS_PARAMS } from '../he/params.ts';
import { gaussianDelta, sigmaPerSensitivity, type LabelPrivacy } from './label-privacy.ts';
import { DEFAULT_SCALING, scalingConstants, type Scaling } from '../../models/scorecard.ts';

export type DisclosurePolicy = 'full' | 'partial';

/**
 * Differential privacy of the training labels in what the platform receives from binning (the
 * merge plan, WOE and IV of its bins): see protocols/scorecard/label-privacy.ts.
 */
export type { LabelPrivacy } from './label-privacy.ts';

export interface ScorecardConfig {
  readonly job: string;
  readonly params: string;
  /** Equal-frequency fine bins per numeric feature before merging. */
  readonly initialBins: number;
  /** Every bin holds at least this share of the training rows… */
  readonly minBinShare: number;
  /** …and at least this many rows. */
  readonly minBinRows: number;
  /** At most this many coarse value bins per feature (the missing bin not counted). */
  readonly maxBins: number;
  readonly minIv: number;
  readonly maxCorrelation: number;
  readonly maxVif: number;
  readonly scaling: Scaling;
  /** The platform's disclosure policy for its bins and points. */
  readonly policy: DisclosurePolicy;
  /** Reason codes returned per scored enterprise. */
  readonly reasonCodes: number;
  /** Deviation of the noise added to encrypted per-bin event counts before the guest decrypts (counts are rounded). */
  readonly countFloodSigma: number;
  /**
   * Deviation of the noise added to encrypted Fisher-information sums before the arbiter decrypts
   * them (the same in every copy of a packed sum). The parties rotate before rescaling
   * (PackedColumns `precise`), so the CKKS error of those sums measured 3.7–8.7e-9 (breast and
   * default_credit, under the guest's key before the sums moved to the arbiter's; it was
   * 1.2–1.6e-6 rotating after the rescale); 1e-7 floods 3.5 bits above the largest, and the part
   * the arbiter could relate to its own encryption of [[w]] is ~2^-45 per slot (common.ts).
   * Standard errors stay within 1e-6 of the exact ones. A precision/security trade-off, as the
   * arbiter's in vfl-lr.
   */
  readonly fisherFloodSigma: number;
  /** (ε, δ) of the Gaussian noise on the platform features' event counts before the bank plans their bins. */
  readonly labelPrivacy: LabelPrivacy;
}

/** Per-party feature declarations (each party declares its own). */
export interface FeatureDeclarations {
  readonly categorical?: readonly string[];
  /** Features whose WOE may be U-shaped instead of monotone. */
  readonly uShaped?: readonly string[];
}

export const DEFAULT_SCORECARD: Omit<ScorecardConfig, 'job'> = {
  params: 'ckks-n8192-l1',
  initialBins: 20,
  minBinShare: 0.05,
  minBinRows: 20,
  maxBins: 8,
  minIv: 0.02,
  maxCorrelation: 0.7,
  maxVif: 10,
  scaling: DEFAULT_SCALING,
  policy: 'full',
  reasonCodes: 3,
  countFloodSigma: 0.05,
  fisherFloodSigma: 1e-7,
  labelPrivacy: { epsilon: 1, delta: 1e-6 },
};

export function scorecardConfig(job: string, overrides: Partial<ScorecardConfig> = {}): ScorecardConfig {
  const c: ScorecardConfig = { ...DEFAULT_SCORECARD, ...overrides, job };
  const bad = (field: string, why: string): never => {
    throw new IndomainError('SC_BAD_CONFIG', why, { field });
  };
  if (!CKKS_PARAMS[c.params]) bad('params', `unknown parameter set "${c.params}"`);
  if (!Number.isInteger(c.initialBins) || c.initialBins < 2 || c.initialBins > 200) bad('initialBins', 'must be an integer in 2..200');
  if (!(c.minBinShare >= 0 && c.minBinShare < 0.5)) bad('minBinShare', 'must be in [0, 0.5)');
  if (!Number.isInteger(c.minBinRows) || c.minBinRows < 1) bad('minBinRows', 'must be a positive integer');
  if (!Number.isInteger(c.maxBins) || c.maxBins < 1) bad('maxBins', 'must be a positive integer');
  if (!(c.minIv >= 0)) bad('minIv', 'must be ≥ 0');
  if (!(c.maxCorrelation > 0 && c.maxCorrelation <= 1)) bad('maxCorrelation', 'must be in (0, 1]');
  if (!(c.maxVif >= 1)) bad('maxVif', 'must be ≥ 1');
  if (c.policy !== 'full' && c.policy !== 'partial') bad('policy', `must be "full" or "partial", not "${String(c.policy)}"`);
  if (!Number.isInteger(c.reasonCodes) || c.reasonCodes < 0) bad('reasonCodes', 'must be a non-negative integer');
  if (!(c.countFloodSigma > 0 && c.countFloodSigma <= 0.1)) bad('countFloodSigma', 'must be in (0, 0.1] so that counts round exactly');
  if (!(c.fisherFloodSigma > 0)) bad('fisherFloodSigma', 'must be > 0');
  const lp = c.labelPrivacy as Partial<LabelPrivacy> | null;
  if (typeof lp !== 'object' || lp === null || Array.isArray(lp)) bad('labelPrivacy', 'must be an object { epsilon, delta }');
  const extra = Object.keys(lp!).filter((k) => k !== 'epsilon' && k !== 'delta');
  if (extra.length > 0) bad(`labelPrivacy.${extra[0]}`, 'is not a field of labelPrivacy (epsilon, delta)');
  if (!(typeof lp!.epsilon === 'number' && lp!.epsilon > 0 && lp!.epsilon <= 1)) bad('labelPrivacy.epsilon', 'must be a number in (0, 1]');
  if (!(typeof lp!.delta === 'number' && lp!.delta > 0 && lp!.delta <= 1e-3)) bad('labelPrivacy.delta', 'must be a number in (0, 0.001]');
  // The classical calibration, checked against the exact condition (label-privacy.ts).
  if (!(gaussianDelta(sigmaPerSensitivity(c.labelPrivacy), c.labelPrivacy.epsilon) <= c.labelPrivacy.delta)) bad('labelPrivacy', 'the Gaussian calibration does not reach this (epsilon, delta)');
  scalingConstants(c.scaling);
  return c;
}
