/** Shared pieces of the two `scorecard` roles: envelope checks, local binning and planning. */
import { IndomainError } from '../../engine/errors.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import {
  applyPlan,
  assignBins,
  initialBins,
  mergeCounts,
  mergePlan,
  minBinCount,
  woeEncode,
  woeIv,
  type BinKind,
  type BinSpec,
  type Shape,
} from '../../models/binning.ts';
import type { ScorecardConfig, FeatureDeclarations } from './config.ts';
import type { Selection } from '../../models/selection.ts';
import { SC } from './messages.ts';

export function accept(env: Envelope, job: string, stage: string, expected: Readonly<Record<string, readonly string[]>>): void {
  if (env.protocol !== SC) throw new IndomainError('SC_BAD_MESSAGE', `protocol "${env.protocol}" is not ${SC}`);
  if (env.job !== job) throw new IndomainError('SC_BAD_MESSAGE', `message for job "${env.job}", this is job "${job}"`);
  const allowed = expected[stage] ?? [];
  if (!allowed.includes(env.type)) {
    throw new IndomainError('SC_WRONG_STAGE', `${env.type} from ${env.from} in stage "${stage}" (expects ${allowed.join(' or ') || 'nothing'})`);
  }
  const spec = messageSpec(env.protocol, env.type);
  // The declared sender role, not only the stage: the arbiter's aggregates come from the arbiter.
  const from: readonly string[] = typeof spec.from === 'string' ? [spec.from] : spec.from;
  if (!from.includes(env.from)) throw new IndomainError('SC_BAD_MESSAGE', `${env.type} from ${env.from}`, { field: 'from' });
  validateBody(spec, env.body, 'SC_BAD_MESSAGE');
}

export function envelope(job: string, type: string, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol: SC, type, round: 0, from, to, body };
}

/**
 * Scales of the Fisher information under the arbiter's key. [[w]] is encrypted at the rescale
 * prime's size (`oneProductScale`, 2^60 under ckks-n8192-l1), so that its fresh-encryption noise,
 * whose randomness the arbiter knows, is ~2^-45 per slot and cannot carry a party's plaintext
 * multipliers back to it. A party's own products are encoded at `ckks.scale` (2^40): one product,
 * 2^100, one rescale to 2^40. The cross block takes two plaintext products (the host's x_Hl, then
 * the guest's x_Ga), each at √scale (2^20): also 2^100 before the one rescale; the 2^20 encodings
 * round each value to ~1e-5, which moved the standard errors by 4.4e-8 and 7.1e-8 (two runs on
 * default_credit; 1.2e-10 with [[w]] at 2^40, whose noise the arbiter knows and no flood covered).
 */
export function crossOperandScale(ckks: { scale: number }): number {
  return Math.sqrt(ckks.scale);
}

/** One party's rows: feature columns over the aligned training and test rows. */
export interface SideData {
  readonly names: readonly string[];
  readonly train: readonly Float64Array[];
  readonly test: readonly Float64Array[];
}

/** A feature after binning, as its owner holds it. */
export interface BinnedFeature {
  readonly name: string;
  readonly fine: BinSpec;
  readonly fineTrainBins: Int32Array;
  spec: BinSpec;
  woe: Float64Array;
  iv: number;
  trainBins: Int32Array;
  testBins: Int32Array;
  trainWoe: Float64Array;
  testWoe: Float64Array;
}

export function checkDeclarations(data: SideData, decl: FeatureDeclarations, party: string): void {
  for (const f of [...(decl.categorical ?? []), ...(decl.uShaped ?? [])]) {
    if (!data.names.includes(f)) throw new IndomainError('SC_UNKNOWN_FEATURE', `${party} declares "${f}", which is not one of its features`, { field: f });
  }
  if (data.names.length === 0) throw new IndomainError('SC_NO_FEATURES', `the ${party} has no features`);
}

export function kindOf(decl: FeatureDeclarations, name: string): BinKind {
  return decl.categorical?.includes(name) ? 'categorical' : 'numeric';
}

export function shapeOf(decl: FeatureDeclarations, name: string): Shape {
  return decl.uShaped?.includes(name) ? 'u' : 'monotone';
}

/** Fine bins of every feature of a party over its training rows. */
export function fineBinning(data: SideData, decl: FeatureDeclarations, c: ScorecardConfig): BinnedFeature[] {
  const rows = data.train[0]?.length ?? 0;
  const minCount = minBinCount(rows, c.minBinShare, c.minBinRows);
  return data.names.map((name, j) => {
    const fine = initialBins(name, data.train[j]!, kindOf(decl, name), { initialBins: c.initialBins, minCount });
    const fineTrainBins = assignBins(fine, data.train[j]!);
    return {
      name,
      fine,
      fineTrainBins,
      spec: fine,
      woe: new Float64Array(0),
      iv: 0,
      trainBins: fineTrainBins,
      testBins: new Int32Array(0),
      trainWoe: new Float64Array(0),
      testWoe: new Float64Array(0),
    };
  });
}

export interface FeaturePlan {
  readonly mapping: Int32Array;
  readonly events: Float64Array;
  readonly totals: Float64Array;
  readonly woe: Float64Array;
  readonly ivBins: Float64Array;
  readonly iv: number;
}

/** The label holder's decision for one feature from its fine counts. */
export function planFeature(spec: BinSpec, events: ArrayLike<number>, totals: ArrayLike<number>, shape: Shape, maxBins: number): FeaturePlan {
  const mapping = mergePlan(spec, events, totals, { shape, maxBins });
  const bins = Math.max(...mapping) + 1;
  const ce = mergeCounts(events, mapping, bins);
  const ct = mergeCounts(totals, mapping, bins);
  const w = woeIv(ce, ct);
  return { mapping, events: ce, totals: ct, woe: w.woe, ivBins: w.ivBins, iv: w.iv };
}

/** The owner applies a plan and the WOE it was given, and encodes its train and test rows. */
export function applyFeaturePlan(f: BinnedFeature, mapping: Int32Array, woe: Float64Array, iv: number, train: Float64Array, test: Float64Array): void {
  f.spec = applyPlan(f.fine, mapping);
  if (woe.length !== f.spec.bins) throw new IndomainError('SC_BAD_MESSAGE', `${woe.length} WOE values for ${f.spec.bins} bins`, { field: f.name });
  f.woe = woe;
  f.iv = iv;
  f.trainBins = assignBins(f.spec, train);
  f.testBins = assignBins(f.spec, test);
  f.trainWoe = woeEncode(f.trainBins, woe);
  f.testWoe = woeEncode(f.testBins, woe);
}

/**
 * Split features into groups whose fine bins fit one ciphertext each (greedy, in order); both
 * parties compute the same grouping from the bin counts alone.
 */
export function binGroups(bins: readonly number[], slots: number): number[][] {
  const groups: number[][] = [];
  let cur: number[] = [];
  let width = 0;
  bins.forEach((b, j) => {
    if (b > slots) throw new IndomainError('SC_BAD_CONFIG', `a feature has ${b} fine bins, more than ${slots} slots`);
    if (width + b > slots) {
      groups.push(cur);
      cur = [];
      width = 0;
    }
    cur.push(j);
    width += b;
  });
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** What both scorecard roles hold: their binned features and their selection. */
export abstract class ScorecardParty {
  abstract readonly stage: string;
  features: BinnedFeature[] = [];
  selection: Selection | undefined;

  /** Done with the current protocol run: binning finished, or the scorecard stage finished. */
  get done(): boolean {
    return this.stage === 'binned' || this.stage === 'finished';
  }

  /** Kept features in kept order. */
  get kept(): BinnedFeature[] {
    const names = this.selection?.kept ?? [];
    return names.map((n) => this.features.find((f) => f.name === n)!);
  }

  /** WOE-encoded training columns of the kept features (the training input). */
  trainColumns(): Float64Array[] {
    return this.kept.map((f) => f.trainWoe);
  }
}
