/**
 * The host (the platform) in `scorecard`: bins its own features, sums the guest's encrypted labels
 * per fine bin, applies the guest's merge plan, selects among its features, and after training
 * holds its points table, sends partial scores for the development sample and its blocks of the
 * Fisher information. Cut points and categories leave it only under the `full` policy.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import { binLabels, binTotals } from '../../models/binning.ts';
import { binPoints } from '../../models/scorecard.ts';
import { selectFeatures } from '../../models/selection.ts';
import { binShares, characteristicStability, stabilityIndex } from '../../models/stability.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { deserialize, rerandomize, importPublicKeys, serialize, type Ckks, type Evaluation } from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import type { FeatureDeclarations, ScorecardConfig } from './config.ts';
import {
  accept,
  applyFeaturePlan,
  binGroups,
  checkDeclarations,
  envelope,
  fineBinning,
  kindOf,
  shapeOf,
  ScorecardParty,
  type BinnedFeature,
  type SideData,
} from './common.ts';

type Stage = 'setup' | 'plan' | 'binned' | 'final' | 'finished';
const EXPECTS: Record<Stage, readonly string[]> = {
  setup: ['LabelSetup'],
  plan: ['BinPlan'],
  binned: [],
  final: ['FisherRequest'],
  finished: [],
};

/** A host characteristic as sent under the `full` policy. */
export interface SharedCharacteristic {
  feature: string;
  kind: 'numeric' | 'categorical';
  cuts: number[];
  categories: number[][];
  bins: number;
  missingOwn: boolean;
  missingBin: number;
  otherBin: number;
  woe: number[];
  coefficient: number;
  points: number[];
  labels: string[];
}

export class ScorecardHost extends ScorecardParty implements Party {
  readonly name = 'host';
  stage: Stage = 'setup';
  /** Weights of the kept features, in kept order, after training. */
  weights: Float64Array = new Float64Array(0);
  points: number[][] = [];
  private ev: Evaluation | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly data: SideData,
    private readonly decl: FeatureDeclarations,
    private readonly config: ScorecardConfig,
    private readonly rng: Rng,
  ) {
    super();
    checkDeclarations(data, decl, 'host');
  }

  start(): Envelope[] {
    if (this.stage !== 'final') return [];
    return this.finalMessages();
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'LabelSetup':
        return this.onLabels(b.publicKey, b.galoisKeys, b.labels);
      case 'BinPlan':
        return this.onPlan(b.mapping, b.woe, b.iv);
      case 'FisherRequest':
        return this.onFisher(b.vectors);
    }
    return [];
  }

  private onLabels(publicKey: Uint8Array, galoisKeys: Uint8Array, labels: Uint8Array[]): Envelope[] {
    this.ev = importPublicKeys(this.ckks, publicKey, galoisKeys);
    this.features = fineBinning(this.data, this.decl, this.config);
    const rows = this.data.train[0]!.length;
    const y = labels.map((c) => deserialize(this.ckks, c));
    const bins = this.features.map((f) => f.fine.bins);
    const totals: number[] = [];
    const events: Uint8Array[] = [];
    for (const group of binGroups(bins, this.ckks.slots)) {
      // One indicator column per fine bin of the group: Σ_i [bin(i) = b]·y_i per bin.
      const indicators: Float64Array[] = [];
      for (const j of group) {
        const f = this.features[j]!;
        totals.push(...binTotals(f.fineTrainBins, f.fine.bins));
        for (let b = 0; b < f.fine.bins; b++) {
          const col = new Float64Array(rows);
          for (let i = 0; i < rows; i++) if (f.fineTrainBins[i] === b) col[i] = 1;
          indicators.push(col);
        }
      }
      const packed = new PackedColumns(this.ev, indicators);
      const sums = packed.transposeTimes(y);
      packed.release();
      rerandomize(this.ev, sums, this.config.countFloodSigma, this.rng);
      events.push(serialize(this.ckks, sums));
      sums.delete();
    }
    for (const ct of y) ct.delete();
    this.stage = 'plan';
    return [
      envelope(this.config.job, 'HostBinCounts', this.name, 'guest', {
        features: this.features.map((f) => f.name),
        kinds: this.features.map((f) => (kindOf(this.decl, f.name) === 'categorical' ? 'categorical' : shapeOf(this.decl, f.name) === 'u' ? 'numeric:u' : 'numeric')),
        bins,
        missingOwn: this.features.map((f) => (f.fine.missingOwn ? 1 : 0)),
        totals: Float64Array.from(totals),
        events,
      }),
    ];
  }

  private onPlan(mapping: number[], woe: Float64Array, iv: Float64Array): Envelope[] {
    const fineTotal = this.features.reduce((s, f) => s + f.fine.bins, 0);
    if (mapping.length !== fineTotal || iv.length !== this.features.length) {
      throw new IndomainError('SC_BAD_MESSAGE', `plan of ${mapping.length} bins and ${iv.length} IVs for ${fineTotal} bins of ${this.features.length} features`, { field: 'mapping' });
    }
    let mo = 0;
    let wo = 0;
    this.features.forEach((f, j) => {
      const m = Int32Array.from(mapping.slice(mo, mo + f.fine.bins));
      mo += f.fine.bins;
      const coarse = Math.max(...m) + 1;
      const w = woe.slice(wo, wo + coarse);
      wo += coarse;
      applyFeaturePlan(f, m, w, iv[j]!, this.data.train[j]!, this.data.test[j]!);
    });
    if (wo !== woe.length) throw new IndomainError('SC_BAD_MESSAGE', `${woe.length} WOE values for ${wo} coarse bins`, { field: 'woe' });
    this.selection = selectFeatures(
      this.features.map((f) => ({ feature: f.name, iv: f.iv, column: f.trainWoe })),
      this.config,
    );
    this.stage = 'binned';
    const s = this.selection;
    return [
      envelope(this.config.job, 'HostSelection', this.name, 'guest', {
        kept: s.kept,
        dropped: s.dropped.map((d) => d.feature),
        steps: s.dropped.map((d) => d.step),
        reasons: s.dropped.map((d) => d.reason),
        vif: Float64Array.from(s.kept.map((k) => s.vif[k]!)),
      }),
    ];
  }

  /** After training: the host's weights (kept order) fix its points; the final stage can start. */
  setModel(weights: Float64Array): void {
    if (this.stage !== 'binned') throw new IndomainError('SC_WRONG_STAGE', `setModel in stage "${this.stage}"`);
    if (weights.length !== this.kept.length) throw new IndomainError('SC_BAD_MESSAGE', `${weights.length} weights for ${this.kept.length} kept host features`);
    this.weights = weights;
    this.points = this.kept.map((f, j) => binPoints(f.woe, weights[j]!, this.config.scaling));
    this.stage = 'final';
  }

  private partial(which: 'train' | 'test'): { logit: Float64Array; points: Float64Array } {
    const kept = this.kept;
    const rows = (which === 'train' ? kept[0]?.trainBins : kept[0]?.testBins)?.length ?? this.data[which][0]!.length;
    const logit = new Float64Array(rows);
    const points = new Float64Array(rows);
    kept.forEach((f, j) => {
      const x = which === 'train' ? f.trainWoe : f.testWoe;
      const bins = which === 'train' ? f.trainBins : f.testBins;
      const w = this.weights[j]!;
      const p = this.points[j]!;
      for (let i = 0; i < rows; i++) {
        logit[i]! += w * x[i]!;
        points[i]! += p[bins[i]!]!;
      }
    });
    return { logit, points };
  }

  private finalMessages(): Envelope[] {
    const job = this.config.job;
    const train = this.partial('train');
    const test = this.partial('test');
    const kept = this.kept;
    const out: Envelope[] = [];
    const stability: number[] = [];
    const csi: number[] = [];
    kept.forEach((f, j) => {
      const a = binShares(f.trainBins, f.spec.bins);
      const b = binShares(f.testBins, f.spec.bins);
      stability.push(stabilityIndex(a, b));
      csi.push(characteristicStability(a, b, this.points[j]!));
    });
    out.push(envelope(job, 'HostStability', this.name, 'guest', { features: kept.map((f) => f.name), stability: Float64Array.from(stability), csi: Float64Array.from(csi) }));
    if (this.config.policy === 'full') out.push(envelope(job, 'HostPoints', this.name, 'guest', { table: this.sharedCharacteristics() }));
    out.push(
      envelope(job, 'HostPartialScores', this.name, 'guest', {
        trainLogit: train.logit,
        trainPoints: train.points,
        testLogit: test.logit,
        testPoints: test.points,
        maxPoints: this.points.reduce((s, p) => s + Math.max(...p), 0),
        minPoints: this.points.reduce((s, p) => s + Math.min(...p), 0),
      }),
    );
    return out;
  }

  /** The host's characteristics with cut points: sent only under the `full` policy. */
  sharedCharacteristics(): SharedCharacteristic[] {
    return this.kept.map((f, j) => ({
      feature: f.name,
      kind: f.spec.kind,
      cuts: [...f.spec.cuts],
      categories: f.spec.categories.map((c) => [...c]),
      bins: f.spec.bins,
      missingOwn: f.spec.missingOwn,
      missingBin: f.spec.missingBin,
      otherBin: f.spec.otherBin,
      woe: [...f.woe],
      coefficient: this.weights[j]!,
      points: this.points[j]!,
      labels: binLabels(f.spec),
    }));
  }

  private onFisher(vectors: Uint8Array[][]): Envelope[] {
    const ev = this.ev!;
    const h = this.trainColumns();
    const m = h.length;
    if (vectors.length < 1) throw new IndomainError('SC_BAD_MESSAGE', 'no vectors', { field: 'vectors' });
    const load = (chunks: Uint8Array[]) => chunks.map((c) => deserialize(this.ckks, c));
    // [[w]] against host columns and their pairwise products: X_Hᵀw and X_Hᵀ diag(w) X_H.
    const cols: Float64Array[] = [...h];
    for (let k = 0; k < m; k++) {
      for (let l = k; l < m; l++) {
        const c = new Float64Array(h[k]!.length);
        for (let i = 0; i < c.length; i++) c[i] = h[k]![i]! * h[l]![i]!;
        cols.push(c);
      }
    }
    const finish = (ct: ReturnType<PackedColumns['transposeTimes']>): Uint8Array => {
      rerandomize(ev, ct, this.config.fisherFloodSigma, this.rng);
      const s = serialize(this.ckks, ct);
      ct.delete();
      return s;
    };
    const w = load(vectors[0]!);
    const hostPacked = new PackedColumns(ev, cols);
    const host = finish(hostPacked.transposeTimes(w, true));
    hostPacked.release();
    for (const ct of w) ct.delete();
    // [[w ⊙ x_Gj]] against host columns: the guest×host block, one ciphertext per guest column.
    const crossPacked = new PackedColumns(ev, h);
    const cross = vectors.slice(1).map((chunks) => {
      const v = load(chunks);
      const out = finish(crossPacked.transposeTimes(v, true));
      for (const ct of v) ct.delete();
      return out;
    });
    crossPacked.release();
    this.stage = 'finished';
    return [envelope(this.config.job, 'FisherBlocks', this.name, 'guest', { host, cross })];
  }
}
