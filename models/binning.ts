/**
 * Scorecard binning: fine bins, merge plans, counts, WOE and IV.
 *
 * The same functions run at both parties. A party bins its own features with
 * {@link initialBins}: equal-frequency cut points over the non-missing values, then adjacent bins
 * below the minimum count merged, so that no count about a small group of enterprises is ever
 * computed or revealed. The label holder then decides the coarse bins with {@link mergePlan} from
 * per-bin event and row counts (for the feature holder's bins it gets those counts from the
 * federated protocol, protocols/scorecard): merge adjacent bins until the event rate is monotone
 * (or a declared U-shape), every bin has events and non-events, and at most `maxBins` remain.
 * The owner applies the plan with {@link applyPlan}; cut points never leave the owner.
 *
 * Conventions (the product glossary's): label 1 is the event (default, a "bad");
 * WOE_b = ln(%non-events_b / %events_b) = ln(share of goods / share of bads), so a riskier bin has a
 * lower WOE and a well-behaved coefficient of P(event) on a WOE-encoded feature is negative.
 * Numeric bin k holds cuts[k−1] ≤ x < cuts[k]. Missing values have a bin of their own (always the
 * last) when there are at least `minCount` of them, and otherwise join bin `missingBin`.
 */
import { IndomainError } from '../engine/errors.ts';

export type BinKind = 'numeric' | 'categorical';

export interface BinSpec {
  readonly feature: string;
  readonly kind: BinKind;
  /** Numeric: ascending cut points (bins = cuts.length + 1 value bins). */
  readonly cuts: readonly number[];
  /** Categorical: the category codes of each value bin. */
  readonly categories: readonly (readonly number[])[];
  /** Number of bins, the missing bin included when it is its own. */
  readonly bins: number;
  /** True when missing values have their own bin, the last one. */
  readonly missingOwn: boolean;
  /** The bin missing values go to. */
  readonly missingBin: number;
  /** Categorical: the bin for a category not seen in training (the largest bin). */
  readonly otherBin: number;
}

export interface BinningOptions {
  /** Equal-frequency fine bins before merging. */
  readonly initialBins: number;
  /** Smallest number of rows in any bin (already the larger of the share and the floor). */
  readonly minCount: number;
}

/** The smallest bin size for n rows: at least `share` of the rows and at least `floor` rows. */
export function minBinCount(n: number, share: number, floor: number): number {
  return Math.max(floor, Math.ceil(share * n));
}

function valueBins(spec: BinSpec): number {
  return spec.missingOwn ? spec.bins - 1 : spec.bins;
}

/** Fine bins of one column (NaN = missing), merged up to the minimum count. */
export function initialBins(feature: string, col: Float64Array, kind: BinKind, o: BinningOptions): BinSpec {
  if (!(o.initialBins >= 2) || !(o.minCount >= 1)) throw new IndomainError('SC_BAD_CONFIG', 'initialBins must be ≥ 2 and minCount ≥ 1', { field: feature });
  const present: number[] = [];
  let missing = 0;
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    if (Number.isNaN(v)) missing++;
    else present.push(v);
  }
  const missingOwn = missing >= o.minCount;
  if (kind === 'categorical') return categoricalBins(feature, present, missingOwn, o.minCount);
  present.sort((a, b) => a - b);
  const n = present.length;
  let cuts: number[] = [];
  for (let k = 1; k < o.initialBins && n > 0; k++) {
    const v = present[Math.floor((k * n) / o.initialBins)]!;
    if (v > present[0]! && (cuts.length === 0 || v > cuts[cuts.length - 1]!)) cuts.push(v);
  }
  // Merge value bins below the minimum count: the smallest first, into its smaller neighbour.
  for (;;) {
    const counts = countNumeric(present, cuts);
    if (counts.length <= 1) break;
    let small = -1;
    for (let b = 0; b < counts.length; b++) if (counts[b]! < o.minCount && (small < 0 || counts[b]! < counts[small]!)) small = b;
    if (small < 0) break;
    const left = small > 0 ? counts[small - 1]! : Infinity;
    const right = small < counts.length - 1 ? counts[small + 1]! : Infinity;
    // Removing cut j merges bins j and j + 1.
    const cut = left <= right ? small - 1 : small;
    cuts = cuts.filter((_, j) => j !== cut);
  }
  const vb = cuts.length + 1;
  return { feature, kind, cuts, categories: [], bins: vb + (missingOwn ? 1 : 0), missingOwn, missingBin: missingOwn ? vb : 0, otherBin: 0 };
}

function countNumeric(sorted: readonly number[], cuts: readonly number[]): number[] {
  const counts = new Array<number>(cuts.length + 1).fill(0);
  for (const v of sorted) counts[numericBin(cuts, v)]!++;
  return counts;
}

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

function categoricalBins(feature: string, present: readonly number[], missingOwn: boolean, minCount: number): BinSpec {
  const counts = new Map<number, number>();
  for (const v of present) counts.set(v, (counts.get(v) ?? 0) + 1);
  const codes = [...counts.keys()].sort((a, b) => a - b);
  const big = codes.filter((c) => counts.get(c)! >= minCount).map((c) => [c]);
  const small = codes.filter((c) => counts.get(c)! < minCount);
  const size = (cats: readonly number[]) => cats.reduce((s, c) => s + counts.get(c)!, 0);
  let categories: number[][] = big;
  if (small.length > 0) {
    if (size(small) >= minCount || big.length === 0) categories = [...big, small];
    else {
      // Too few rows even together: the small categories join the largest bin.
      let largest = 0;
      for (let b = 1; b < big.length; b++) if (size(big[b]!) > size(big[largest]!)) largest = b;
      big[largest] = [...big[largest]!, ...small].sort((a, b) => a - b);
    }
  }
  if (categories.length === 0) categories = [[]];
  let otherBin = 0;
  for (let b = 1; b < categories.length; b++) if (size(categories[b]!) > size(categories[otherBin]!)) otherBin = b;
  const vb = categories.length;
  return { feature, kind: 'categorical', cuts: [], categories, bins: vb + (missingOwn ? 1 : 0), missingOwn, missingBin: missingOwn ? vb : 0, otherBin };
}

/** The bin of one value (NaN is missing): the rule every scorer and export follows. */
export function binOf(spec: Omit<BinSpec, 'feature'>, v: number): number {
  if (Number.isNaN(v)) return spec.missingBin;
  if (spec.kind === 'numeric') return numericBin(spec.cuts, v);
  const b = spec.categories.findIndex((c) => c.includes(v));
  return b >= 0 ? b : spec.otherBin;
}

/** The bin of every row: {@link binOf} over a column, with the category lookup built once. */
export function assignBins(spec: BinSpec, col: Float64Array): Int32Array {
  const out = new Int32Array(col.length);
  if (spec.kind === 'numeric') {
    for (let i = 0; i < col.length; i++) out[i] = binOf(spec, col[i]!);
    return out;
  }
  const lookup = new Map<number, number>();
  spec.categories.forEach((cats, b) => cats.forEach((c) => lookup.set(c, b)));
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    out[i] = Number.isNaN(v) ? spec.missingBin : (lookup.get(v) ?? spec.otherBin);
  }
  return out;
}

/** Rows and events per bin. */
export function binCounts(bins: Int32Array, count: number, labels: Uint8Array): { totals: Float64Array; events: Float64Array } {
  const totals = new Float64Array(count);
  const events = new Float64Array(count);
  for (let i = 0; i < bins.length; i++) {
    totals[bins[i]!]!++;
    events[bins[i]!]! += labels[i]!;
  }
  return { totals, events };
}

/** Rows per bin (what the feature holder knows without labels). */
export function binTotals(bins: Int32Array, count: number): Float64Array {
  const totals = new Float64Array(count);
  for (let i = 0; i < bins.length; i++) totals[bins[i]!]!++;
  return totals;
}

export interface WoeIv {
  readonly woe: Float64Array;
  /** IV contribution per bin. */
  readonly ivBins: Float64Array;
  readonly iv: number;
}

/**
 * WOE and IV per bin. A bin with no events or no non-events (possible only for the missing bin
 * after merging) gets 0.5 added to both counts, the usual correction; a feature whose bins hold no
 * events, or only events, gets WOE 0 everywhere and IV 0.
 */
export function woeIv(events: ArrayLike<number>, totals: ArrayLike<number>): WoeIv {
  const k = totals.length;
  let e = 0;
  let t = 0;
  for (let b = 0; b < k; b++) {
    e += events[b]!;
    t += totals[b]!;
  }
  const ne = t - e;
  const woe = new Float64Array(k);
  const ivBins = new Float64Array(k);
  let iv = 0;
  // No events or no non-events at all (a noised count release can clip every bin to 0 or to its
  // rows on a small sample): the feature tells the classes apart nowhere, so every WOE and the IV
  // are 0 (the 0.5 correction would divide by a class total of 0).
  if (!(e > 0 && ne > 0)) return { woe, ivBins, iv };
  for (let b = 0; b < k; b++) {
    let eb = events[b]!;
    let nb = totals[b]! - eb;
    if (totals[b]! === 0) continue;
    if (eb === 0 || nb === 0) {
      eb += 0.5;
      nb += 0.5;
    }
    const pe = eb / e;
    const pn = nb / ne;
    woe[b] = Math.log(pn / pe);
    ivBins[b] = (pn - pe) * woe[b]!;
    iv += ivBins[b]!;
  }
  return { woe, ivBins, iv };
}

export type Shape = 'monotone' | 'u';

export interface MergeOptions {
  readonly shape: Shape;
  readonly maxBins: number;
}

/**
 * Decide the coarse bins from fine-bin counts: `mapping[b]` is the coarse bin of fine bin b.
 * Numeric value bins stay contiguous and ordered; categorical value bins are ordered by event
 * rate; the missing bin, when it is its own, stays its own and last.
 */
export function mergePlan(spec: BinSpec, events: ArrayLike<number>, totals: ArrayLike<number>, o: MergeOptions): Int32Array {
  const vb = valueBins(spec);
  if (events.length !== spec.bins || totals.length !== spec.bins) {
    throw new IndomainError('SC_BAD_MESSAGE', `${events.length} event counts and ${totals.length} totals for ${spec.bins} bins`, { field: spec.feature });
  }
  // The order in which value bins are adjacent.
  const order = Array.from({ length: vb }, (_, b) => b);
  const rate = (b: number) => (totals[b]! > 0 ? events[b]! / totals[b]! : 0);
  if (spec.kind === 'categorical') order.sort((a, b) => rate(a) - rate(b) || a - b);
  const seqE = order.map((b) => events[b]!);
  const seqT = order.map((b) => totals[b]!);
  // Groups as [start, end) ranges over the sequence.
  let groups: Array<[number, number]>;
  if (spec.kind === 'categorical' || vb <= 1) groups = order.map((_, i) => [i, i + 1]);
  else if (o.shape === 'monotone') {
    const inc = pava(seqE, seqT, 0, vb, +1);
    const dec = pava(seqE, seqT, 0, vb, -1);
    groups = groupIv(seqE, seqT, inc) >= groupIv(seqE, seqT, dec) ? inc : dec;
  } else {
    groups = pava(seqE, seqT, 0, vb, +1);
    let best = groupIv(seqE, seqT, groups);
    for (let t = 1; t < vb; t++) {
      for (const dir of [+1, -1]) {
        const g = [...pava(seqE, seqT, 0, t, -dir), ...pava(seqE, seqT, t, vb, dir)];
        const iv = groupIv(seqE, seqT, g);
        if (iv > best + 1e-12) {
          best = iv;
          groups = g;
        }
      }
    }
  }
  groups = mergePure(seqE, seqT, groups);
  while (groups.length > Math.max(1, o.maxBins)) groups = mergeCheapest(seqE, seqT, groups);
  const mapping = new Int32Array(spec.bins);
  groups.forEach(([s, e], g) => {
    for (let i = s; i < e; i++) mapping[order[i]!] = g;
  });
  if (spec.missingOwn) mapping[vb] = groups.length;
  return mapping;
}

function sumRange(a: readonly number[], s: number, e: number): number {
  let t = 0;
  for (let i = s; i < e; i++) t += a[i]!;
  return t;
}

/** Pool adjacent violators over [from, to): groups whose event rates strictly rise (dir +1) or fall. */
function pava(ev: readonly number[], tot: readonly number[], from: number, to: number, dir: number): Array<[number, number]> {
  const blocks: Array<{ s: number; e: number; ev: number; t: number }> = [];
  for (let i = from; i < to; i++) {
    blocks.push({ s: i, e: i + 1, ev: ev[i]!, t: tot[i]! });
    while (blocks.length >= 2) {
      const b = blocks[blocks.length - 1]!;
      const a = blocks[blocks.length - 2]!;
      const ra = a.t > 0 ? a.ev / a.t : 0;
      const rb = b.t > 0 ? b.ev / b.t : 0;
      if (dir * (rb - ra) > 0) break;
      blocks.splice(blocks.length - 2, 2, { s: a.s, e: b.e, ev: a.ev + b.ev, t: a.t + b.t });
    }
  }
  return blocks.map((b) => [b.s, b.e]);
}

function groupCounts(ev: readonly number[], tot: readonly number[], groups: ReadonlyArray<[number, number]>): { e: number[]; t: number[] } {
  return { e: groups.map(([s, e]) => sumRange(ev, s, e)), t: groups.map(([s, e]) => sumRange(tot, s, e)) };
}

function groupIv(ev: readonly number[], tot: readonly number[], groups: ReadonlyArray<[number, number]>): number {
  const c = groupCounts(ev, tot, groups);
  return woeIv(c.e, c.t).iv;
}

/** Merge every group with no events or no non-events into the neighbour with the closer rate. */
function mergePure(ev: readonly number[], tot: readonly number[], groups: Array<[number, number]>): Array<[number, number]> {
  let g = groups;
  for (;;) {
    if (g.length <= 1) return g;
    const c = groupCounts(ev, tot, g);
    const bad = c.e.findIndex((e, i) => e === 0 || e === c.t[i]);
    if (bad < 0) return g;
    const rate = (i: number) => c.e[i]! / c.t[i]!;
    let with_: number;
    if (bad === 0) with_ = 1;
    else if (bad === g.length - 1) with_ = bad - 1;
    else with_ = Math.abs(rate(bad - 1) - rate(bad)) <= Math.abs(rate(bad + 1) - rate(bad)) ? bad - 1 : bad + 1;
    g = joinAt(g, Math.min(bad, with_));
  }
}

/** Merge the adjacent pair whose merging loses the least IV. */
function mergeCheapest(ev: readonly number[], tot: readonly number[], groups: Array<[number, number]>): Array<[number, number]> {
  let best = 0;
  let bestIv = -Infinity;
  for (let i = 0; i + 1 < groups.length; i++) {
    const iv = groupIv(ev, tot, joinAt(groups, i));
    if (iv > bestIv) {
      bestIv = iv;
      best = i;
    }
  }
  return joinAt(groups, best);
}

function joinAt(g: ReadonlyArray<[number, number]>, i: number): Array<[number, number]> {
  return [...g.slice(0, i), [g[i]![0], g[i + 1]![1]], ...g.slice(i + 2)];
}

/** The coarse spec that a merge plan describes. */
export function applyPlan(spec: BinSpec, mapping: Int32Array): BinSpec {
  const vb = valueBins(spec);
  if (mapping.length !== spec.bins) throw new IndomainError('SC_BAD_MESSAGE', `plan of ${mapping.length} bins for ${spec.bins}`, { field: spec.feature });
  let coarse = 0;
  for (let b = 0; b < vb; b++) coarse = Math.max(coarse, mapping[b]! + 1);
  const seen = new Set<number>();
  for (let b = 0; b < vb; b++) seen.add(mapping[b]!);
  if (seen.size !== coarse) throw new IndomainError('SC_BAD_MESSAGE', 'plan leaves a coarse bin empty', { field: spec.feature });
  const bins = coarse + (spec.missingOwn ? 1 : 0);
  if (spec.missingOwn && mapping[vb] !== coarse) throw new IndomainError('SC_BAD_MESSAGE', 'plan moves the missing bin', { field: spec.feature });
  if (spec.kind === 'numeric') {
    const cuts: number[] = [];
    for (let b = 1; b < vb; b++) {
      if (mapping[b]! < mapping[b - 1]!) throw new IndomainError('SC_BAD_MESSAGE', 'plan reorders numeric bins', { field: spec.feature });
      if (mapping[b] !== mapping[b - 1]) cuts.push(spec.cuts[b - 1]!);
    }
    return { ...spec, cuts, bins, missingBin: spec.missingOwn ? coarse : mapping[spec.missingBin]!, otherBin: 0 };
  }
  const categories: number[][] = Array.from({ length: coarse }, () => []);
  for (let b = 0; b < vb; b++) categories[mapping[b]!]!.push(...spec.categories[b]!);
  for (const c of categories) c.sort((a, b) => a - b);
  return { ...spec, categories, bins, missingBin: spec.missingOwn ? coarse : mapping[spec.missingBin]!, otherBin: mapping[spec.otherBin]! };
}

/** Fine counts summed into coarse bins. */
export function mergeCounts(values: ArrayLike<number>, mapping: Int32Array, bins: number): Float64Array {
  const out = new Float64Array(bins);
  for (let b = 0; b < mapping.length; b++) out[mapping[b]!]! += values[b]!;
  return out;
}

/** Human-readable bin labels, e.g. "[1.5, 3)", "{1, 2}", "missing". */
export function binLabels(spec: BinSpec): string[] {
  const vb = valueBins(spec);
  const out: string[] = [];
  for (let b = 0; b < vb; b++) {
    if (spec.kind === 'categorical') out.push(`{${spec.categories[b]!.join(', ')}}${b === spec.otherBin ? ' + other' : ''}`);
    else {
      const lo = b === 0 ? '-inf' : String(spec.cuts[b - 1]);
      const hi = b === vb - 1 ? '+inf' : String(spec.cuts[b]);
      out.push(`[${lo}, ${hi})`);
    }
    if (!spec.missingOwn && spec.missingBin === b) out[b] += ' + missing';
  }
  if (spec.missingOwn) out.push('missing');
  return out;
}

/** A column's WOE encoding: each row's bin WOE. */
export function woeEncode(bins: Int32Array, woe: Float64Array): Float64Array {
  const out = new Float64Array(bins.length);
  for (let i = 0; i < bins.length; i++) out[i] = woe[bins[i]!]!;
  return out;
}
