/**
 * Horizontal consortium scorecard (`consortium-scorecard`): banks with the same features and
 * different borrowers build one WOE scorecard, equal to the scorecard built from their rows pooled
 * on the same fine grid, while no bank's counts, gradient or Hessian leave it except in a secure sum.
 *
 * Flow.
 *   1. Histograms. Every bank counts its rows and events over a universal grid fixed in advance and
 *      independent of any data: per feature, 2,001 bins of width 0.01 in t = sign(x)·log10(1 + |x|)
 *      over t ∈ [−10, 10] (the outer bins open-ended), and a missing bin. The counts of every
 *      feature go through one secure sum (protocols/secagg, integers, exact): the coordinator gets
 *      the pooled histogram, and every bank too when the sum covers three banks or more.
 *   2. Bins, from the pooled histogram, by every party alike (deterministic): equal-frequency fine
 *      bins on universal-bin boundaries (`initialBins`), the smallest merged into its smaller
 *      neighbour until each holds `max(minBinRows, minBinShare·N)` rows, as models/binning.ts
 *      `initialBins` does on raw values; then models/binning.ts `mergePlan` (monotone WOE, at most
 *      `maxBins`) on the summed good/bad counts, WOE and IV from them (`woeIv`); features with IV
 *      below `minIv` are dropped.
 *   3. Coefficients: each bank WOE-encodes its own rows; consortium-lr (horizontal.ts, Newton over
 *      secure sums) fits the logistic regression on the WOE columns.
 *   4. Points (models/scorecard.ts) and PMML (models/export/pmml.ts), as the two-party scorecard.
 *
 * What each party learns: the pooled histogram of every feature at the universal grid's resolution
 * (rows and events per bin over all banks; secagg gives the banks a sum only over three banks or
 * more, though with two banks the bins and WOE still say much of the other's), the bins,
 * WOE, IV, and the model; per Newton round the pooled gradient and Hessian. No party learns one
 * bank's histogram, rows or gradient. A bank that drops out of the histogram sum is left out of the
 * scorecard (the sum covers the survivors; the LR then runs over them).
 */
import { IndomainError } from '../../engine/errors.ts';
import { applyPlan, assignBins, binLabels, mergeCounts, mergePlan, woeEncode, woeIv, type BinSpec } from '../../models/binning.ts';
import { basePoints, binPoints, DEFAULT_SCALING, type Scaling } from '../../models/scorecard.ts';
import type { ScorecardModel } from '../../models/export/model.ts';
import { SecAggJob, secAggConfig } from '../secagg/protocol.ts';
import { consortiumLrInMemory, type BankRows, type ConsortiumLrResult } from './horizontal.ts';

/** Universal grid: bins of this width in t = sign(x)·log10(1 + |x|) … */
export const GRID_STEP = 0.01;
/** …for t in [−GRID_LIMIT, GRID_LIMIT], the outer bins open-ended. */
export const GRID_LIMIT = 10;
const HALF = Math.round(GRID_LIMIT / GRID_STEP);
/** Value bins of the universal grid (the missing bin is one more). */
export const GRID_BINS = 2 * HALF + 1;

/** The universal grid's cut points in x: boundaries at t = (k + ½)·step, k = −HALF … HALF − 1. */
export const GRID_CUTS: readonly number[] = Array.from({ length: GRID_BINS - 1 }, (_, i) => {
  const t = (i - HALF + 0.5) * GRID_STEP;
  return Math.sign(t) * (10 ** Math.abs(t) - 1);
});

function numericBin(cuts: readonly number[], v: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v >= cuts[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ConsortiumScorecardConfig {
  readonly job: string;
  readonly initialBins: number;
  readonly minBinShare: number;
  readonly minBinRows: number;
  readonly maxBins: number;
  readonly minIv: number;
  readonly scaling: Scaling;
  readonly reasonCodes: number;
  readonly lambda: number;
  readonly threshold?: number;
}

export const DEFAULT_CONSORTIUM_SCORECARD: Omit<ConsortiumScorecardConfig, 'job'> = {
  initialBins: 20,
  minBinShare: 0.05,
  minBinRows: 20,
  maxBins: 8,
  minIv: 0.02,
  scaling: DEFAULT_SCALING,
  reasonCodes: 3,
  lambda: 1e-4,
};

/** Per feature, GRID_BINS value bins then the missing bin, rows then events: one bank's secure-sum input. */
export function bankHistogram(x: readonly Float64Array[], y: Uint8Array): Float64Array {
  const per = 2 * (GRID_BINS + 1);
  const out = new Float64Array(per * x.length);
  x.forEach((col, f) => {
    const base = f * per;
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!;
      const b = Number.isNaN(v) ? GRID_BINS : numericBin(GRID_CUTS, v);
      out[base + b]!++;
      out[base + GRID_BINS + 1 + b]! += y[i]!;
    }
  });
  return out;
}

/** One feature's scorecard characteristic before the LR: its coarse bins and their WOE and IV. */
export interface PlannedFeature {
  readonly feature: string;
  readonly spec: BinSpec;
  readonly woe: Float64Array;
  readonly iv: number;
  readonly totals: Float64Array;
  readonly events: Float64Array;
}

/**
 * Fine bins of one feature from its pooled universal histogram: equal-frequency cuts on grid
 * boundaries, then the smallest bin below `minCount` merged into its smaller neighbour (the rule of
 * models/binning.ts `initialBins`). Returns the fine spec and each universal bin's fine bin.
 */
function fineBins(feature: string, totals: Float64Array, missing: number, initialBins: number, minCount: number): { spec: BinSpec; map: Int32Array } {
  const n = totals.reduce((s, v) => s + v, 0);
  let cutsAt: number[] = []; // universal bin where a fine bin starts
  let first = 0;
  while (first < GRID_BINS - 1 && totals[first] === 0) first++;
  let cum = 0;
  let next = 1;
  for (let u = 0; u < GRID_BINS && next < initialBins; u++) {
    cum += totals[u]!;
    // Fine bin k starts at the universal bin holding the ⌊k·n/initialBins⌋-th value (0-based),
    // unless that is the first occupied bin or the previous cut's.
    while (next < initialBins && cum > Math.floor((next * n) / initialBins)) {
      if (u > first && (cutsAt.length === 0 || cutsAt[cutsAt.length - 1]! < u)) cutsAt.push(u);
      next++;
    }
  }
  const countsOf = (cuts: number[]) => {
    const c = new Array<number>(cuts.length + 1).fill(0);
    let b = 0;
    for (let u = 0; u < GRID_BINS; u++) {
      while (b < cuts.length && u >= cuts[b]!) b++;
      c[b] += totals[u]!;
    }
    return c;
  };
  for (;;) {
    const counts = countsOf(cutsAt);
    if (counts.length <= 1) break;
    let small = -1;
    for (let b = 0; b < counts.length; b++) if (counts[b]! < minCount && (small < 0 || counts[b]! < counts[small]!)) small = b;
    if (small < 0) break;
    const left = small > 0 ? counts[small - 1]! : Infinity;
    const right = small < counts.length - 1 ? counts[small + 1]! : Infinity;
    const cut = left <= right ? small - 1 : small;
    cutsAt = cutsAt.filter((_, j) => j !== cut);
  }
  const missingOwn = missing >= minCount;
  const vb = cutsAt.length + 1;
  const spec: BinSpec = { feature, kind: 'numeric', cuts: cutsAt.map((u) => GRID_CUTS[u - 1]!), categories: [], bins: vb + (missingOwn ? 1 : 0), missingOwn, missingBin: missingOwn ? vb : 0, otherBin: 0 };
  const map = new Int32Array(GRID_BINS + 1);
  let b = 0;
  for (let u = 0; u < GRID_BINS; u++) {
    while (b < cutsAt.length && u >= cutsAt[b]!) b++;
    map[u] = b;
  }
  map[GRID_BINS] = spec.missingBin;
  return { spec, map };
}

/** Bins, WOE and IV of every feature from the pooled histogram (what every party computes alike). */
export function planFromHistogram(features: readonly string[], pooled: Float64Array, o: Omit<ConsortiumScorecardConfig, 'job'>): PlannedFeature[] {
  const per = 2 * (GRID_BINS + 1);
  if (pooled.length !== per * features.length) throw new IndomainError('SC_BAD_MESSAGE', `histogram of ${pooled.length} values for ${features.length} features`, { field: 'histogram' });
  return features.map((feature, f) => {
    const totalsU = pooled.subarray(f * per, f * per + GRID_BINS + 1);
    const eventsU = pooled.subarray(f * per + GRID_BINS + 1, (f + 1) * per);
    const n = totalsU.reduce((s, v) => s + v, 0);
    const minCount = Math.max(o.minBinRows, Math.ceil(o.minBinShare * n));
    const { spec: fine, map } = fineBins(feature, totalsU.subarray(0, GRID_BINS), totalsU[GRID_BINS]!, o.initialBins, minCount);
    const fineTotals = mergeCounts(totalsU, map, fine.bins);
    const fineEvents = mergeCounts(eventsU, map, fine.bins);
    const plan = mergePlan(fine, fineEvents, fineTotals, { shape: 'monotone', maxBins: o.maxBins });
    const spec = applyPlan(fine, plan);
    const totals = mergeCounts(fineTotals, plan, spec.bins);
    const events = mergeCounts(fineEvents, plan, spec.bins);
    const { woe, iv } = woeIv(events, totals);
    return { feature, spec, woe, iv, totals, events };
  });
}

/** The WOE columns of one bank's rows for the kept features. */
export function woeColumns(x: readonly Float64Array[], features: readonly string[], kept: readonly PlannedFeature[]): Float64Array[] {
  return kept.map((k) => woeEncode(assignBins(k.spec, x[features.indexOf(k.feature)]!), k.woe));
}

/** The exported scorecard from the kept features and the LR on their WOE columns. */
export function scorecardModel(name: string, kept: readonly PlannedFeature[], fit: { intercept: number; weights: ArrayLike<number> }, o: Omit<ConsortiumScorecardConfig, 'job'>): ScorecardModel {
  return {
    name,
    scaling: o.scaling,
    policy: 'full',
    intercept: fit.intercept,
    basePoints: basePoints(fit.intercept, o.scaling),
    characteristics: kept.map((k, j) => ({
      field: `guest_${k.feature}`,
      party: 'guest' as const,
      spec: { kind: k.spec.kind, cuts: k.spec.cuts, categories: k.spec.categories, bins: k.spec.bins, missingOwn: k.spec.missingOwn, missingBin: k.spec.missingBin, otherBin: k.spec.otherBin },
      binLabels: binLabels(k.spec),
      woe: [...k.woe],
      coefficient: fit.weights[j]!,
      points: binPoints(k.woe, fit.weights[j]!, o.scaling),
    })),
    hostPartial: null,
    reasonCodes: o.reasonCodes,
  };
}

export interface ConsortiumScorecardResult {
  readonly features: PlannedFeature[];
  readonly kept: PlannedFeature[];
  readonly histogram: { sum: Float64Array; banks: string[]; seconds: number; bytesPerBank: Record<string, number> };
  readonly lr: ConsortiumLrResult;
  readonly model: ScorecardModel;
}

/** Build the scorecard with every bank and the coordinator in this process. */
export async function consortiumScorecardInMemory(input: {
  readonly config: Partial<ConsortiumScorecardConfig> & Pick<ConsortiumScorecardConfig, 'job'>;
  readonly features: readonly string[];
  readonly banks: ReadonlyMap<string, BankRows>;
}): Promise<ConsortiumScorecardResult> {
  const o: ConsortiumScorecardConfig = { ...DEFAULT_CONSORTIUM_SCORECARD, ...input.config };
  const names = [...input.banks.keys()];
  for (const [b, rows] of input.banks) {
    if (rows.x.length !== input.features.length) throw new IndomainError('SECAGG_BAD_CONFIG', `bank ${names.indexOf(b) + 1} holds ${rows.x.length} features, the consortium ${input.features.length}`, { field: 'features' });
  }
  const job = new SecAggJob(secAggConfig({ job: `${o.job}/histogram`, banks: names, fractionBits: 0, ...(o.threshold ? { threshold: o.threshold } : {}) }));
  await job.setup();
  const hist = await job.aggregate(1, new Map(names.map((b) => [b, bankHistogram(input.banks.get(b)!.x, input.banks.get(b)!.y)])));
  const features = planFromHistogram(input.features, hist.sum, o);
  const kept = features.filter((f) => f.iv >= o.minIv);
  if (kept.length === 0) throw new IndomainError('SC_BAD_CONFIG', `no feature reaches IV ${o.minIv}`, { field: 'minIv' });
  // Only the banks the histogram covers take part in the LR.
  const woeBanks = new Map(hist.banks.map((b) => [b, { x: woeColumns(input.banks.get(b)!.x, input.features, kept), y: input.banks.get(b)!.y }]));
  const lr = await consortiumLrInMemory({ config: { job: `${o.job}/lr`, lambda: o.lambda, ...(o.threshold ? { threshold: o.threshold } : {}) }, banks: woeBanks });
  return { features, kept, histogram: { sum: hist.sum, banks: hist.banks, seconds: hist.seconds, bytesPerBank: hist.bytesPerBank }, lr, model: scorecardModel(o.job, kept, lr, o) };
}
