/**
 * Local preprocessing each party applies to its own columns before joint training: z-scores with
 * the mean and standard deviation of its training rows, missing values imputed at the mean (0
 * after scaling). Keeps CKKS values in range and the optimiser well conditioned; the transform is
 * kept with the model so raw-scale inputs can be scored.
 */
import { columnStats } from './table.ts';

export interface Standardizer {
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

export function fitStandardizer(cols: readonly Float64Array[]): Standardizer {
  const mean = new Float64Array(cols.length);
  const std = new Float64Array(cols.length);
  cols.forEach((c, j) => {
    const s = columnStats(c);
    mean[j] = s.mean;
    std[j] = s.std > 0 ? s.std : 1;
  });
  return { mean, std };
}

export function applyStandardizer(s: Standardizer, cols: readonly Float64Array[]): Float64Array[] {
  return cols.map((c, j) => {
    const out = new Float64Array(c.length);
    const m = s.mean[j]!;
    const d = s.std[j]!;
    for (let i = 0; i < c.length; i++) out[i] = Number.isNaN(c[i]!) ? 0 : (c[i]! - m) / d;
    return out;
  });
}
