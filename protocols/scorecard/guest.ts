/**
 * The guest (the bank, label holder) in `scorecard`: owns the CKKS key of this protocol, bins its
 * own features with its labels, decides the host's coarse bins from decrypted per-bin counts,
 * assembles the scorecard (its own characteristics, and the host's under `full` or one platform
 * partial score under `partial`), and computes the coefficients' standard errors from the
 * federated Fisher information.
 */
import { IndomainError } from '../../engine/errors.ts';
import { spdInverse } from '../../engine/linalg.ts';
import { binCounts, type BinSpec } from '../../models/binning.ts';
import { sigmoid } from '../../models/logistic.ts';
import { basePoints, binPoints } from '../../models/scorecard.ts';
import { selectFeatures, type Dropped } from '../../models/selection.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { decryptorFor, deserialize, encryptChunks, generateKeys, oneProductScale, importPublicKeys, secretKeyBytes, type Ckks, type Decryption, type Evaluation } from '../he/ckks.ts';
import type { FeatureDeclarations, ScorecardConfig } from './config.ts';
import {
  accept,
  applyFeaturePlan,
  binGroups,
  checkDeclarations,
  envelope,
  fineBinning,
  planFeature,
  shapeOf,
  ScorecardParty,
  type BinnedFeature,
  type FeaturePlan,
  type SideData,
} from './common.ts';
import type { SharedCharacteristic } from './host.ts';

type Stage = 'setup' | 'counts' | 'selection' | 'binned' | 'final' | 'fisher' | 'finished';
const EXPECTS: Record<Stage, readonly string[]> = {
  setup: [],
  counts: ['HostBinCounts'],
  selection: ['HostSelection'],
  binned: [],
  final: ['HostStability', 'HostPoints', 'HostPartialScores'],
  fisher: ['FisherBlocks'],
  finished: [],
};

/** What the guest learned about one host feature in binning. */
export interface HostFeatureView {
  readonly name: string;
  readonly kind: string;
  readonly fineBins: number;
  /** Decrypted (rounded) events and the host's row counts per fine bin. */
  readonly fineEvents: readonly number[];
  readonly fineTotals: readonly number[];
  readonly plan: FeaturePlan;
}

export interface HostSelectionView {
  readonly kept: string[];
  readonly dropped: Dropped[];
  readonly vif: Record<string, number>;
}

export interface DevScores {
  /** Joint logit β₀ + guest + host. */
  readonly logit: Float64Array;
  readonly prob: Float64Array;
  /** Integer total points. */
  readonly points: Float64Array;
  readonly hostPoints: Float64Array;
  readonly labels: Uint8Array;
}

export class ScorecardGuest extends ScorecardParty implements Party {
  readonly name = 'guest';
  stage: Stage = 'setup';
  /** Per own feature: events and totals per coarse bin on the training rows. */
  ownPlans: FeaturePlan[] = [];
  hostFeatures: HostFeatureView[] = [];
  hostSelection: HostSelectionView | undefined;
  intercept = 0;
  weights: Float64Array = new Float64Array(0);
  base = 0;
  points: number[][] = [];
  hostStability: { features: string[]; stability: Float64Array; csi: Float64Array } | undefined;
  hostCharacteristics: SharedCharacteristic[] | undefined;
  hostPointRange = { max: 0, min: 0 };
  train: DevScores | undefined;
  test: DevScores | undefined;
  /** Fisher information over [intercept, guest kept, host kept], row-major. */
  fisher: Float64Array | undefined;
  standardErrors: Float64Array | undefined;
  private hostLogits: { train: Float64Array; test: Float64Array } | undefined;
  private ev: Evaluation | undefined;
  private dec: Decryption | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly data: SideData,
    private readonly labels: { train: Uint8Array; test: Uint8Array },
    private readonly decl: FeatureDeclarations,
    private readonly config: ScorecardConfig,
    /** A secret key kept from an earlier run of this job (restart), and where to keep a new one. */
    private readonly keyStore?: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void },
  ) {
    super();
    checkDeclarations(data, decl, 'guest');
    if (labels.train.length !== (data.train[0]?.length ?? 0)) throw new IndomainError('SC_BAD_CONFIG', `${labels.train.length} labels for ${data.train[0]?.length ?? 0} training rows`);
  }

  start(): Envelope[] {
    if (this.stage !== 'setup') return [];
    const keys = generateKeys(this.ckks, this.keyStore?.stored);
    if (!this.keyStore?.stored) this.keyStore?.keep?.(secretKeyBytes(this.ckks, keys));
    this.ev = importPublicKeys(this.ckks, keys.publicKey, keys.galoisKeys);
    this.dec = decryptorFor(this.ckks, keys);
    const y = Float64Array.from(this.labels.train);
    // Own features: binned locally with the labels.
    this.features = fineBinning(this.data, this.decl, this.config);
    this.ownPlans = this.features.map((f, j) => {
      const c = binCounts(f.fineTrainBins, f.fine.bins, this.labels.train);
      const plan = planFeature(f.fine, c.events, c.totals, shapeOf(this.decl, f.name), this.config.maxBins);
      applyFeaturePlan(f, plan.mapping, plan.woe, plan.iv, this.data.train[j]!, this.data.test[j]!);
      return plan;
    });
    this.stage = 'counts';
    return [
      envelope(this.config.job, 'LabelSetup', this.name, 'host', {
        params: this.ckks.params.name,
        publicKey: keys.publicKey,
        galoisKeys: keys.galoisKeys,
        labels: encryptChunks(this.ev, y, oneProductScale(this.ckks)),
      }),
    ];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HostBinCounts':
        return this.onCounts(b.features, b.kinds, b.bins, b.missingOwn, b.totals, b.events);
      case 'HostSelection':
        return this.onSelection(b.kept, b.dropped, b.steps, b.reasons, b.vif);
      case 'HostStability':
        this.hostStability = { features: b.features, stability: b.stability, csi: b.csi };
        return [];
      case 'HostPoints':
        this.hostCharacteristics = parseCharacteristics(b.table);
        return [];
      case 'HostPartialScores':
        return this.onPartialScores(b);
      case 'FisherBlocks':
        return this.onFisher(b.host, b.cross);
    }
    return [];
  }

  private onCounts(names: string[], kinds: string[], bins: number[], missingOwn: number[], totals: Float64Array, events: Uint8Array[]): Envelope[] {
    const k = names.length;
    if (kinds.length !== k || bins.length !== k || missingOwn.length !== k) throw new IndomainError('SC_BAD_MESSAGE', 'feature lists of different lengths', { field: 'kinds' });
    if (!bins.every((x) => Number.isInteger(x) && x >= 1)) throw new IndomainError('SC_BAD_MESSAGE', 'bin counts must be positive integers', { field: 'bins' });
    const fine = bins.reduce((s, x) => s + x, 0);
    if (totals.length !== fine) throw new IndomainError('SC_BAD_MESSAGE', `${totals.length} totals for ${fine} bins`, { field: 'totals' });
    const groups = binGroups(bins, this.ckks.slots);
    if (events.length !== groups.length) throw new IndomainError('SC_BAD_MESSAGE', `${events.length} ciphertexts for ${groups.length} groups`, { field: 'events' });
    // Decrypt and round: counts are integers and the flooding noise is far below 1/2.
    const ev: number[] = [];
    groups.forEach((g, gi) => {
      const width = g.reduce((s, j) => s + bins[j]!, 0);
      const ct = deserialize(this.ckks, events[gi]!);
      ev.push(...Array.from(this.dec!.decrypt(ct, width), Math.round));
      ct.delete();
    });
    ev.forEach((e, i) => {
      if (!(e >= 0 && e <= totals[i]!)) throw new IndomainError('SC_BAD_MESSAGE', `bin ${i}: ${e} events among ${totals[i]} rows`, { field: 'events' });
    });
    const rows = this.labels.train.length;
    let off = 0;
    this.hostFeatures = names.map((name, j) => {
      const nb = bins[j]!;
      const kind = kinds[j]!;
      if (kind !== 'numeric' && kind !== 'numeric:u' && kind !== 'categorical') throw new IndomainError('SC_BAD_MESSAGE', `unknown kind "${kind}"`, { field: name });
      const own = missingOwn[j] === 1;
      const shadow: BinSpec = {
        feature: name,
        kind: kind === 'categorical' ? 'categorical' : 'numeric',
        cuts: [],
        categories: [],
        bins: nb,
        missingOwn: own,
        missingBin: own ? nb - 1 : 0,
        otherBin: 0,
      };
      const e = ev.slice(off, off + nb);
      const t = Array.from(totals.subarray(off, off + nb));
      off += nb;
      if (t.reduce((s, x) => s + x, 0) !== rows) throw new IndomainError('SC_BAD_MESSAGE', `bins of "${name}" hold ${t.reduce((s, x) => s + x, 0)} rows, not ${rows}`, { field: 'totals' });
      const plan = planFeature(shadow, e, t, kind === 'numeric:u' ? 'u' : 'monotone', this.config.maxBins);
      return { name, kind, fineBins: nb, fineEvents: e, fineTotals: t, plan };
    });
    this.stage = 'selection';
    const woe: number[] = [];
    for (const h of this.hostFeatures) woe.push(...h.plan.woe);
    return [
      envelope(this.config.job, 'BinPlan', this.name, 'host', {
        mapping: this.hostFeatures.flatMap((h) => Array.from(h.plan.mapping)),
        woe: Float64Array.from(woe),
        iv: Float64Array.from(this.hostFeatures.map((h) => h.plan.iv)),
      }),
    ];
  }

  private onSelection(kept: string[], dropped: string[], steps: string[], reasons: string[], vif: Float64Array): Envelope[] {
    if (dropped.length !== steps.length || dropped.length !== reasons.length || vif.length !== kept.length) {
      throw new IndomainError('SC_BAD_MESSAGE', 'selection lists of different lengths', { field: 'dropped' });
    }
    this.hostSelection = {
      kept,
      dropped: dropped.map((feature, i) => ({ feature, step: steps[i] as Dropped['step'], reason: reasons[i]! })),
      vif: Object.fromEntries(kept.map((k, i) => [k, vif[i]!])),
    };
    this.selection = selectFeatures(
      this.features.map((f) => ({ feature: f.name, iv: f.iv, column: f.trainWoe })),
      this.config,
    );
    this.stage = 'binned';
    return [];
  }

  /** After training: the intercept and the kept guest features' weights. */
  setModel(intercept: number, weights: Float64Array): void {
    if (this.stage !== 'binned') throw new IndomainError('SC_WRONG_STAGE', `setModel in stage "${this.stage}"`);
    if (weights.length !== this.kept.length) throw new IndomainError('SC_BAD_MESSAGE', `${weights.length} weights for ${this.kept.length} kept guest features`);
    this.intercept = intercept;
    this.weights = weights;
    this.base = basePoints(intercept, this.config.scaling);
    this.points = this.kept.map((f, j) => binPoints(f.woe, weights[j]!, this.config.scaling));
    this.stage = 'final';
  }

  private onPartialScores(b: Record<string, never>): Envelope[] {
    const trainLogit = b.trainLogit as Float64Array;
    const testLogit = b.testLogit as Float64Array;
    const nTrain = this.labels.train.length;
    const nTest = this.labels.test.length;
    if (trainLogit.length !== nTrain || testLogit.length !== nTest) {
      throw new IndomainError('SC_BAD_MESSAGE', `${trainLogit.length}/${testLogit.length} partial scores for ${nTrain}/${nTest} rows`, { field: 'trainLogit' });
    }
    if (this.config.policy === 'full' && !this.hostCharacteristics) throw new IndomainError('SC_BAD_MESSAGE', 'the full policy needs the host points table first', { field: 'table' });
    this.hostLogits = { train: trainLogit, test: testLogit };
    this.hostPointRange = { max: b.maxPoints, min: b.minPoints };
    this.train = this.devScores('train', trainLogit, b.trainPoints);
    this.test = this.devScores('test', testLogit, b.testPoints);
    // Encrypted p(1−p) alone and times each kept guest feature, for the host's Fisher blocks.
    const w = this.fisherWeights();
    const fresh = oneProductScale(this.ckks);
    const vectors = [encryptChunks(this.ev!, w, fresh)];
    for (const f of this.kept) {
      const v = new Float64Array(w.length);
      for (let i = 0; i < v.length; i++) v[i] = w[i]! * f.trainWoe[i]!;
      vectors.push(encryptChunks(this.ev!, v, fresh));
    }
    this.stage = 'fisher';
    return [envelope(this.config.job, 'FisherRequest', this.name, 'host', { vectors })];
  }

  private devScores(which: 'train' | 'test', hostLogit: Float64Array, hostPoints: Float64Array): DevScores {
    const n = hostLogit.length;
    const logit = Float64Array.from(hostLogit, (u) => u + this.intercept);
    const points = Float64Array.from(hostPoints, (p) => p + this.base);
    this.kept.forEach((f, j) => {
      const x = which === 'train' ? f.trainWoe : f.testWoe;
      const bins = which === 'train' ? f.trainBins : f.testBins;
      for (let i = 0; i < n; i++) {
        logit[i]! += this.weights[j]! * x[i]!;
        points[i]! += this.points[j]![bins[i]!]!;
      }
    });
    return { logit, prob: logit.map(sigmoid), points, hostPoints, labels: this.labels[which] };
  }

  /** p(1−p) at the fitted model over the training rows. */
  fisherWeights(): Float64Array {
    return this.train!.prob.map((p) => p * (1 - p));
  }

  private onFisher(hostBytes: Uint8Array, cross: Uint8Array[]): Envelope[] {
    const g = this.kept;
    const mg = g.length;
    const mh = this.hostLogits ? this.hostSelection!.kept.length : 0;
    if (cross.length !== mg) throw new IndomainError('SC_BAD_MESSAGE', `${cross.length} cross blocks for ${mg} guest features`, { field: 'cross' });
    const d = 1 + mg + mh;
    const f = new Float64Array(d * d);
    const set = (a: number, b: number, v: number) => {
      f[a * d + b] = v;
      f[b * d + a] = v;
    };
    // Guest block, intercept included: computed here in plaintext.
    const w = this.fisherWeights();
    const cols = [new Float64Array(w.length).fill(1), ...g.map((x) => x.trainWoe)];
    for (let a = 0; a <= mg; a++) {
      for (let b = a; b <= mg; b++) {
        let s = 0;
        const x = cols[a]!;
        const y = cols[b]!;
        for (let i = 0; i < w.length; i++) s += w[i]! * x[i]! * y[i]!;
        set(a, b, s);
      }
    }
    const hostCt = deserialize(this.ckks, hostBytes);
    const hv = this.dec!.decrypt(hostCt, mh + (mh * (mh + 1)) / 2);
    hostCt.delete();
    for (let l = 0; l < mh; l++) set(0, 1 + mg + l, hv[l]!);
    let o = mh;
    for (let k = 0; k < mh; k++) for (let l = k; l < mh; l++) set(1 + mg + k, 1 + mg + l, hv[o++]!);
    cross.forEach((bytes, j) => {
      const ct = deserialize(this.ckks, bytes);
      const v = this.dec!.decrypt(ct, mh);
      ct.delete();
      for (let l = 0; l < mh; l++) set(1 + j, 1 + mg + l, v[l]!);
    });
    this.fisher = f;
    const cov = spdInverse(f, d);
    this.standardErrors = Float64Array.from({ length: d }, (_, j) => Math.sqrt(cov[j * d + j]!));
    this.stage = 'finished';
    return [];
  }
}

/** Check the host's shared characteristics (the `full` policy's points table, a list of records). */
export function parseCharacteristics(parsed: unknown): SharedCharacteristic[] {
  if (!Array.isArray(parsed)) throw new IndomainError('SC_BAD_MESSAGE', 'points table is not a list', { field: 'table' });
  const nums = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  return parsed.map((c: Record<string, unknown>, i) => {
    const ok =
      typeof c.feature === 'string' &&
      (c.kind === 'numeric' || c.kind === 'categorical') &&
      nums(c.cuts) &&
      Array.isArray(c.categories) &&
      (c.categories as unknown[]).every(nums) &&
      Number.isInteger(c.bins) &&
      typeof c.missingOwn === 'boolean' &&
      Number.isInteger(c.missingBin) &&
      Number.isInteger(c.otherBin) &&
      nums(c.woe) &&
      typeof c.coefficient === 'number' &&
      nums(c.points) &&
      (c.points as number[]).every(Number.isInteger) &&
      Array.isArray(c.labels) &&
      (c.points as number[]).length === c.bins &&
      (c.woe as number[]).length === c.bins;
    if (!ok) throw new IndomainError('SC_BAD_MESSAGE', `characteristic ${i} is malformed`, { field: 'table' });
    return c as unknown as SharedCharacteristic;
  });
}
