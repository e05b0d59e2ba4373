/**
 * The host (the platform) in `scorecard`: bins its own features, sums the guest's encrypted labels
 * per fine bin, applies the guest's merge plan, selects among its features, and after training
 * holds its points table, sends the guest partial scores of the test rows, the arbiter padded
 * shares of its training partials, and computes its part of the Fisher information under the
 * arbiter's key. Cut points and categories leave it only under the `full` policy.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import { binLabels, binTotals } from '../../models/binning.ts';
import { binPoints } from '../../models/scorecard.ts';
import { selectFeatures } from '../../models/selection.ts';
import { binShares, characteristicStability, stabilityIndex } from '../../models/stability.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { deserialize, encode, rerandomize, importPublicKeys, serialize, type Ckks, type CipherText, type Evaluation } from '../he/ckks.ts';
import { padShares, permuted, shareLayout, type ShareLayout } from './shares.ts';
import { PackedColumns } from '../he/packing.ts';
import type { FeatureDeclarations, ScorecardConfig } from './config.ts';
import {
  accept,
  applyFeaturePlan,
  crossOperandScale,
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
  final: ['ShareSeed', 'FisherWeights'],
  finished: [],
};

/** TEST ONLY switches of the in-memory run (see the host's constructor). */
export interface ScorecardTestSwitches {
  readonly trainRowsToBank?: boolean;
  readonly plainFisherVectors?: boolean;
  /** The guest's: plan the host's bins from exact event counts, without label-privacy noise. */
  readonly exactBinPlan?: boolean;
}

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
  /** The arbiter's vfl-lr keys: the Fisher information is computed under them. */
  private arbiter: Evaluation | undefined;
  private layout: ShareLayout | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly data: SideData,
    private readonly decl: FeatureDeclarations,
    private readonly config: ScorecardConfig,
    private readonly rng: Rng,
    /**
     * TEST ONLY, for tests/attacks/train-rows.test.ts: `trainRowsToBank` also sends the guest the
     * host's partial logit and points of every training row (the disclosure issue 12 removed);
     * `plainFisherVectors` sends [[w·x_Hl]] without re-randomising it, to show the attack that
     * re-randomisation defeats. Only the in-memory run sets them; no job spec or request reaches them.
     */
    private readonly testOnly: ScorecardTestSwitches = {},
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
      case 'ShareSeed':
        return this.onSeed(b.seed);
      case 'FisherWeights':
        return this.onFisherWeights(b.weights);
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
      // The same flood in every copy of a count (tests/attacks/flood-copies.test.ts).
      rerandomize(this.ev, sums, this.config.countFloodSigma, this.rng, packed.width);
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

  /**
   * After training: the host's weights (kept order) fix its points; the arbiter's public keys (from
   * vfl-lr's HeSetup) are those of the Fisher information. The final stage can start.
   */
  setModel(weights: Float64Array, arbiter: Evaluation): void {
    if (this.stage !== 'binned') throw new IndomainError('SC_WRONG_STAGE', `setModel in stage "${this.stage}"`);
    if (weights.length !== this.kept.length) throw new IndomainError('SC_BAD_MESSAGE', `${weights.length} weights for ${this.kept.length} kept host features`);
    this.weights = weights;
    this.arbiter = arbiter;
    this.points = this.kept.map((f, j) => binPoints(f.woe, weights[j]!, this.config.scaling));
    this.stage = 'final';
  }

  /** Its partial logit and integer points per row (never sent for training rows). */
  partial(which: 'train' | 'test'): { logit: Float64Array; points: Float64Array } {
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
        // Under `full` the bank holds the coefficients and WOE: a float partial logit would decode
        // into the enterprise's bins, so it gets the integer points only (the probability is the score's).
        testLogit: this.config.policy === 'full' ? new Float64Array(0) : test.logit,
        testPoints: test.points,
        maxPoints: this.points.reduce((s, p) => s + Math.max(...p), 0),
        minPoints: this.points.reduce((s, p) => s + Math.min(...p), 0),
      }),
    );
    if (this.testOnly.trainRowsToBank) {
      const train = this.partial('train');
      out.push(envelope(job, 'HostTrainScores', this.name, 'guest', { trainLogit: train.logit, trainPoints: train.points }));
    }
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

  /** The guest's seed: this party's padded shares of its training partials, to the arbiter. */
  private onSeed(seed: Uint8Array): Envelope[] {
    if (this.layout) throw new IndomainError('SC_WRONG_STAGE', 'a second ShareSeed');
    const train = this.partial('train');
    this.layout = shareLayout(seed, train.logit.length, 2);
    const [logit, points] = padShares(this.layout, [train.logit, train.points], 'host');
    return [envelope(this.config.job, 'HostTrainShares', this.name, 'arbiter', { logit, points })];
  }

  /**
   * The arbiter's [[w]] (w = p(1−p) per training row, in the shares' order): Σw·x_Hl and
   * Σw·x_Hk·x_Hl (one product, one rescale), flooded, to the arbiter; and [[w·x_Hl]] per kept
   * feature (not rescaled: the guest's columns multiply in next; scales in crossOperandScale,
   * common.ts), re-randomised, to the
   * guest, which cannot decrypt them.
   */
  private onFisherWeights(weights: Uint8Array[]): Envelope[] {
    if (!this.layout) throw new IndomainError('SC_WRONG_STAGE', 'FisherWeights before ShareSeed');
    const ev = this.arbiter!;
    const ck = ev.ckks;
    const h = this.trainColumns().map((c) => permuted(this.layout!, c));
    const m = h.length;
    const cols: Float64Array[] = [...h];
    for (let k = 0; k < m; k++) for (let l = k; l < m; l++) cols.push(Float64Array.from(h[k]!, (v, i) => v * h[l]![i]!));
    const w = weights.map((c) => deserialize(ck, c));
    // `period`: a packed product holds S/width copies of each sum, flooded alike in every copy.
    const finish = (ct: CipherText, sigma: number, period?: number): Uint8Array => {
      rerandomize(ev, ct, sigma, this.rng, period);
      const s = serialize(ck, ct);
      ct.delete();
      return s;
    };
    const packed = new PackedColumns(ev, cols);
    const direct = finish(packed.transposeTimes(w, true), this.config.fisherFloodSigma, packed.width);
    packed.release();
    const slots = ck.slots;
    const vectors = h.map((col) =>
      w.map((ct, c) => {
        const pt = encode(ck, col.subarray(c * slots, Math.min(col.length, (c + 1) * slots)), crossOperandScale(ck), ct);
        const prod = ck.evaluator.multiplyPlain(ct, pt) as CipherText;
        pt.delete();
        // Only the guest receives this and it cannot decrypt: the re-randomisation is what matters
        // (its c1 would otherwise be x_Hl times the arbiter's c1, which the guest also holds); the
        // flood is kept tiny, it only has to be positive.
        if (this.testOnly.plainFisherVectors) {
          const raw = prod.saveArray(ck.seal.ComprModeType.none);
          prod.delete();
          return raw;
        }
        return finish(prod, 2 ** -40);
      }),
    );
    for (const ct of w) ct.delete();
    this.stage = 'finished';
    return [
      envelope(this.config.job, 'FisherSums', this.name, 'arbiter', { columns: m, direct, cross: [] }),
      envelope(this.config.job, 'HostFisherVectors', this.name, 'guest', { vectors }),
    ];
  }
}
