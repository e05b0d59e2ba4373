/**
 * Population stability ("PSI (stability)" in the glossary's words, never PSI alone) and
 * characteristic stability, used by the validation report, the scorecard parties and post-loan
 * monitoring alike.
 */

/** One bin's term (a − e)·ln(a/e) between an expected and an actual share, shares floored at 1e-6. */
export function stabilityTerm(expected: number, actual: number): number {
  const e = Math.max(expected, 1e-6);
  const a = Math.max(actual, 1e-6);
  return (a - e) * Math.log(a / e);
}

/** Population stability index between two distributions over the same bins, given as shares. */
export function stabilityIndex(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let s = 0;
  for (let b = 0; b < expected.length; b++) s += stabilityTerm(expected[b]!, actual[b]!);
  return s;
}

/** Counts as shares of their total (an empty total counts as 1). */
export function shares(counts: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let b = 0; b < counts.length; b++) total += counts[b]!;
  return Float64Array.from(counts, (c) => c / Math.max(1, total));
}

/** Shares of rows per bin. */
export function binShares(bins: Int32Array, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < bins.length; i++) out[bins[i]!]!++;
  return shares(out);
}

/** Characteristic stability: Σ_b (test share − train share) · points_b. */
export function characteristicStability(train: ArrayLike<number>, test: ArrayLike<number>, points: readonly number[]): number {
  let s = 0;
  for (let b = 0; b < points.length; b++) s += (test[b]! - train[b]!) * points[b]!;
  return s;
}
