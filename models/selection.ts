/**
 * Feature selection for scorecards, run by each party over its own WOE-encoded features:
 * IV thresholds, then pairwise correlation, then variance inflation. Every drop is recorded with
 * its reason, for the validation report.
 */
import { spdInverse } from '../engine/linalg.ts';

export interface SelectionOptions {
  /** Drop features with IV below this (0.02: "not predictive" in the usual rule of thumb). */
  readonly minIv: number;
  /** Drop the lower-IV feature of any pair with |r| above this. */
  readonly maxCorrelation: number;
  /** Drop the highest-VIF feature while any VIF exceeds this. */
  readonly maxVif: number;
}

export interface Dropped {
  readonly feature: string;
  readonly step: 'iv' | 'correlation' | 'vif';
  readonly reason: string;
}

export interface Candidate {
  readonly feature: string;
  readonly iv: number;
  /** WOE-encoded column over the training rows. */
  readonly column: Float64Array;
}

export interface Selection {
  readonly kept: string[];
  readonly dropped: Dropped[];
  /** VIF of each kept feature among the party's kept features. */
  readonly vif: Record<string, number>;
}

/** Pearson correlation matrix of columns (row-major, k × k). Constant columns correlate 0. */
export function correlationMatrix(cols: readonly Float64Array[]): Float64Array {
  const k = cols.length;
  const n = cols[0]?.length ?? 0;
  const centred = cols.map((c) => {
    let m = 0;
    for (let i = 0; i < n; i++) m += c[i]!;
    m /= n;
    const out = new Float64Array(n);
    let ss = 0;
    for (let i = 0; i < n; i++) {
      out[i] = c[i]! - m;
      ss += out[i]! * out[i]!;
    }
    const s = Math.sqrt(ss);
    if (s > 0) for (let i = 0; i < n; i++) out[i]! /= s;
    return out;
  });
  const r = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    r[a * k + a] = 1;
    for (let b = a + 1; b < k; b++) {
      let s = 0;
      const x = centred[a]!;
      const y = centred[b]!;
      for (let i = 0; i < n; i++) s += x[i]! * y[i]!;
      r[a * k + b] = s;
      r[b * k + a] = s;
    }
  }
  return r;
}

/** Variance inflation factors: the diagonal of the inverse correlation matrix. */
export function varianceInflation(cols: readonly Float64Array[]): Float64Array {
  const k = cols.length;
  if (k === 0) return new Float64Array(0);
  if (k === 1) return Float64Array.of(1);
  const inv = spdInverse(correlationMatrix(cols), k);
  const out = new Float64Array(k);
  for (let j = 0; j < k; j++) out[j] = inv[j * k + j]!;
  return out;
}

export function selectFeatures(cands: readonly Candidate[], o: SelectionOptions): Selection {
  const dropped: Dropped[] = [];
  let kept = [...cands].sort((a, b) => b.iv - a.iv || (a.feature < b.feature ? -1 : 1));
  kept = kept.filter((c) => {
    if (c.iv >= o.minIv) return true;
    dropped.push({ feature: c.feature, step: 'iv', reason: `IV ${c.iv.toFixed(4)} < ${o.minIv}` });
    return false;
  });
  // Correlation: walk in IV order; a feature correlated with a stronger kept one goes.
  const r = correlationMatrix(kept.map((c) => c.column));
  const k = kept.length;
  const keep: number[] = [];
  for (let j = 0; j < k; j++) {
    const clash = keep.find((i) => Math.abs(r[i * k + j]!) > o.maxCorrelation);
    if (clash === undefined) keep.push(j);
    else {
      dropped.push({
        feature: kept[j]!.feature,
        step: 'correlation',
        reason: `|r| = ${Math.abs(r[clash * k + j]!).toFixed(3)} > ${o.maxCorrelation} with ${kept[clash]!.feature} (IV ${kept[clash]!.iv.toFixed(4)} ≥ ${kept[j]!.iv.toFixed(4)})`,
      });
    }
  }
  kept = keep.map((j) => kept[j]!);
  // VIF: drop the worst offender until none exceeds the limit.
  let vif = varianceInflation(kept.map((c) => c.column));
  for (;;) {
    let worst = -1;
    for (let j = 0; j < vif.length; j++) if (vif[j]! > o.maxVif && (worst < 0 || vif[j]! > vif[worst]!)) worst = j;
    if (worst < 0) break;
    dropped.push({ feature: kept[worst]!.feature, step: 'vif', reason: `VIF ${vif[worst]!.toFixed(2)} > ${o.maxVif}` });
    kept = kept.filter((_, j) => j !== worst);
    vif = varianceInflation(kept.map((c) => c.column));
  }
  // Report kept features in their original order.
  const order = new Map(cands.map((c, i) => [c.feature, i]));
  kept.sort((a, b) => order.get(a.feature)! - order.get(b.feature)!);
  const finalVif = varianceInflation(kept.map((c) => c.column));
  return { kept: kept.map((c) => c.feature), dropped, vif: Object.fromEntries(kept.map((c, j) => [c.feature, finalVif[j]!])) };
}
