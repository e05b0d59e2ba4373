/**
 * Scorecard scaling, points tables, scoring and reason codes.
 *
 * Scaling (the usual points-to-double-the-odds form): with odds = good:bad,
 *   factor = PDO / ln 2,  offset = baseScore − factor · ln(baseOdds),
 *   score  = offset − factor · logit(P(event)) = offset − factor · (β₀ + Σ_j β_j · WOE_j).
 * Integer points: base = round(offset − factor·β₀) and, per bin b of feature j,
 * points_jb = round(−factor · β_j · WOE_jb). Score = base + Σ_j points_j(bin of row).
 *
 * Reason codes ("points below" the characteristic's best bin, as PMML's `pointsBelow` with
 * `baselineMethod="max"`): for each characteristic, the points lost against its highest-scoring
 * bin; the largest losses, in order, are the reasons. Ties keep characteristic order.
 */
import { IndomainError } from '../engine/errors.ts';
import type { BinSpec } from './binning.ts';

export interface Scaling {
  readonly baseScore: number;
  /** Good:bad odds at the base score. */
  readonly baseOdds: number;
  /** Points to double the odds. */
  readonly pdo: number;
}

export const DEFAULT_SCALING: Scaling = { baseScore: 600, baseOdds: 50, pdo: 20 };

export function scalingConstants(s: Scaling): { factor: number; offset: number } {
  if (!(s.pdo > 0) || !(s.baseOdds > 0) || !Number.isFinite(s.baseScore)) {
    throw new IndomainError('SC_BAD_CONFIG', `PDO ${s.pdo} and base odds ${s.baseOdds} must be positive, base score finite`, { field: 'scaling' });
  }
  const factor = s.pdo / Math.LN2;
  return { factor, offset: s.baseScore - factor * Math.log(s.baseOdds) };
}

/** One characteristic: a binned feature with its WOE, coefficient and integer points per bin. */
export interface Characteristic {
  /** The feature's name in exports: `guest_<column>` or `host_<column>`. */
  readonly name: string;
  readonly party: 'guest' | 'host';
  readonly spec: BinSpec;
  readonly woe: readonly number[];
  readonly coefficient: number;
  readonly points: readonly number[];
}

export function binPoints(woe: ArrayLike<number>, coefficient: number, s: Scaling): number[] {
  const { factor } = scalingConstants(s);
  return Array.from(woe, (w) => Math.round(-factor * coefficient * w) + 0);
}

export function basePoints(intercept: number, s: Scaling): number {
  const { factor, offset } = scalingConstants(s);
  return Math.round(offset - factor * intercept) + 0;
}

/** Score implied by a probability of the event (unrounded). */
export function scoreOfProbability(p: number, s: Scaling): number {
  const { factor, offset } = scalingConstants(s);
  return offset - factor * Math.log(p / (1 - p));
}

/**
 * Probability of the event that an integer score stands for: the inverse of
 * {@link scoreOfProbability}, σ((offset − score) / factor). Online scoring gives this, since the
 * bank holds the platform's integer points only, not its partial logit.
 */
export function probabilityOfScore(score: number, s: Scaling): number {
  const { factor, offset } = scalingConstants(s);
  return 1 / (1 + Math.exp((score - offset) / factor));
}

/**
 * Reason codes for one row: `lost[j]` is the points lost on characteristic j (best bin minus the
 * row's bin). Returns up to `top` characteristic indices with a positive loss, largest first.
 */
export function reasonCodes(lost: ArrayLike<number>, top: number): number[] {
  const idx: number[] = [];
  for (let j = 0; j < lost.length; j++) if (lost[j]! > 0) idx.push(j);
  idx.sort((a, b) => lost[b]! - lost[a]! || a - b);
  return idx.slice(0, top);
}

/** Two-sided p-value of a Wald z statistic. */
export function waldPValue(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** Complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
