/**
 * The guest (the bank, label holder) in `scorecard`: owns the CKKS key of this protocol, bins its
 * own features with its labels, decides the host's coarse bins from decrypted per-bin counts
 * after adding label-privacy noise (label-privacy.ts: the BinPlan the host receives is
 * (ε, δ)-differentially private in each training label), assembles the scorecard (its own
 * characteristics, and the host's under `full` or one platform partial score under `partial`),
 * and computes the coefficients' standard errors from the
 * Fisher information the arbiter assembles. Of the platform it holds per-row values of the test
 * (validation) rows only; the training sample's report comes from the arbiter as aggregates.
 */
import { IndomainError } from '../../engine/errors.ts';
import { spdInverse } from '../../engine/linalg.ts';
import { binCounts, type BinSpec } from '../../models/binning.ts';
import { logit as logOdds, sigmoid } from '../../models/logistic.ts';
import type { SampleSummary } from '../../models/report.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { PackedColumns } from '../he/packing.ts';
import { basePoints, binPoints, probabilityOfScore } from '../../models/scorecard.ts';
import { selectFeatures, type Dropped } from '../../models/selection.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import {
  decryptorFor,
  deserialize,
  encryptChunks,
  generateKeys,
  oneProductScale,
  importPublicKeys,
  rerandomize,
  secretKeyBytes,
  serialize,
  type Ckks,
  type CipherText,
  type Decryption,
  type Evaluation,
} from '../he/ckks.ts';
import { unpackGroups } from './arbiter.ts';
import { padShares, permuted, shareLayout, type ShareLayout } from './shares.ts';
import type { FeatureDeclarations, ScorecardConfig } from './config.ts';
import {
  accept,
  applyFeaturePlan,
  coarseCounts,
  crossOperandScale,
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
import type { ScorecardTestSwitches, SharedCharacteristic } from './host.ts';
import { labelNoiseSigma, noisedCounts } from './label-privacy.ts';

type Stage = 'setup' | 'counts' | 'selection' | 'binned' | 'final' | 'finished';
/** In `final` each arrives once, in any order (from host and arbiter). */
const FINAL = ['HostStability', 'HostPoints', 'HostPartialScores', 'HostTrainScores', 'TrainSummary', 'FisherWeights', 'HostFisherVectors', 'FisherMatrix'] as const;
const EXPECTS: Record<Stage, readonly string[]> = {
  setup: [],
  counts: ['HostBinCounts'],
  selection: ['HostSelection'],
  binned: [],
  final: FINAL,
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
  /** The differentially private events per fine bin (label-privacy.ts), from which `plan` is made. */
  readonly noisedEvents: readonly number[];
  /** What the host received and the model uses: merge, WOE and IV from the noised counts. */
  readonly plan: FeaturePlan;
  /** The exact events, WOE and IV of the same coarse bins, for the bank's own report only. */
  readonly exact: FeaturePlan;
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
  /** σ of the label-privacy noise on the host's fine event counts (0 only under the test switch). */
  labelNoiseSigma = 0;
  hostSelection: HostSelectionView | undefined;
  intercept = 0;
  weights: Float64Array = new Float64Array(0);
  base = 0;
  points: number[][] = [];
  hostStability: { features: string[]; stability: Float64Array; csi: Float64Array } | undefined;
  hostCharacteristics: SharedCharacteristic[] | undefined;
  hostPointRange = { max: 0, min: 0 };
  /** The test (validation) rows, joint with the host's partial scores. */
  test: DevScores | undefined;
  /** The training sample as the arbiter summarised it, and the score band edges. */
  trainSummary: SampleSummary | undefined;
  bandEdges: number[] | undefined;
  /** Fisher information over [intercept, guest kept, host kept], row-major, from the arbiter. */
  fisher: Float64Array | undefined;
  standardErrors: Float64Array | undefined;
  /** Only with the test-only switch `trainRowsToBank`: the host's training partials (the old disclosure). */
  hostTrain: { logit: Float64Array; points: Float64Array } | undefined;
  private ev: Evaluation | undefined;
  /** The arbiter's vfl-lr keys: the Fisher information is computed under them. */
  private arbiter: Evaluation | undefined;
  private layout: ShareLayout | undefined;
  private readonly received = new Set<string>();
  private fisherWeights: Uint8Array[] | undefined;
  private hostVectors: Uint8Array[][] | undefined;
  private dec: Decryption | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly data: SideData,
    private readonly labels: { train: Uint8Array; test: Uint8Array },
    private readonly decl: FeatureDeclarations,
    private readonly config: ScorecardConfig,
    /** A secret key kept from an earlier run of this job (restart), and where to keep a new one. */
    private readonly keyStore?: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void },
    /**
     * Secret randomness (cryptographic: a secretRng stream or cryptoRng): the label-privacy noise
     * of the host's event counts, the share seed and the flooding of its Fisher sums.
     */
    private readonly rng: Rng = cryptoRng,
    /**
     * TEST ONLY, for tests/attacks/binplan-labels.test.ts and checks of arithmetic exactness:
     * `exactBinPlan` plans the host's bins from the exact event counts (no label-privacy noise).
     * Only the in-memory run sets it; no job spec or request reaches it.
     */
    private readonly testOnly: Pick<ScorecardTestSwitches, 'exactBinPlan'> = {},
  ) {
    super();
    checkDeclarations(data, decl, 'guest');
    if (labels.train.length !== (data.train[0]?.length ?? 0)) throw new IndomainError('SC_BAD_CONFIG', `${labels.train.length} labels for ${data.train[0]?.length ?? 0} training rows`);
  }

  /** The training rows' labels (this party's own). */
  get trainLabels(): Uint8Array {
    return this.labels.train;
  }

  start(): Envelope[] {
    if (this.stage === 'final') return this.startFinal();
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
    if (this.stage === 'final') {
      if (this.received.has(env.type)) throw new IndomainError('SC_WRONG_STAGE', `a second ${env.type}`);
      this.received.add(env.type);
    }
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HostBinCounts':
        return this.onCounts(b.features, b.kinds, b.bins, b.missingOwn, b.totals, b.events);
      case 'HostSelection':
        return this.onSelection(b.kept, b.dropped, b.steps, b.reasons, b.vif);
      case 'HostStability':
        this.hostStability = { features: b.features, stability: b.stability, csi: b.csi };
        return this.finishIfComplete();
      case 'HostPoints':
        this.hostCharacteristics = parseCharacteristics(b.table);
        return this.finishIfComplete();
      case 'HostPartialScores':
        return this.onPartialScores(b);
      case 'HostTrainScores':
        this.hostTrain = { logit: b.trainLogit, points: b.trainPoints };
        return [];
      case 'TrainSummary':
        return this.onTrainSummary(b.metrics, b.edges, b.deciles, b.bands);
      case 'FisherWeights':
        this.fisherWeights = b.weights;
        return this.fisherSums();
      case 'HostFisherVectors':
        this.hostVectors = b.vectors;
        return this.fisherSums();
      case 'FisherMatrix':
        return this.onFisherMatrix(b.fisher);
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
    // Label privacy: one release of every host feature's fine counts, Gaussian noise of L2
    // sensitivity √k (one label moves one fine count per feature); all the host receives is
    // computed from these and the totals it holds (label-privacy.ts).
    this.labelNoiseSigma = this.testOnly.exactBinPlan ? 0 : labelNoiseSigma(this.config.labelPrivacy, k);
    const noised = this.testOnly.exactBinPlan ? Float64Array.from(ev) : noisedCounts(ev, totals, this.labelNoiseSigma, this.rng);
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
      const dp = Array.from(noised.subarray(off, off + nb));
      off += nb;
      if (t.reduce((s, x) => s + x, 0) !== rows) throw new IndomainError('SC_BAD_MESSAGE', `bins of "${name}" hold ${t.reduce((s, x) => s + x, 0)} rows, not ${rows}`, { field: 'totals' });
      const plan = planFeature(shadow, dp, t, kind === 'numeric:u' ? 'u' : 'monotone', this.config.maxBins);
      return { name, kind, fineBins: nb, fineEvents: e, fineTotals: t, noisedEvents: dp, plan, exact: coarseCounts(plan.mapping, e, t) };
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

  /**
   * After training: the intercept, the kept guest features' weights and the arbiter's public keys
   * (from vfl-lr's HeSetup), under which the Fisher information is computed.
   */
  setModel(intercept: number, weights: Float64Array, arbiter: Evaluation): void {
    if (this.stage !== 'binned') throw new IndomainError('SC_WRONG_STAGE', `setModel in stage "${this.stage}"`);
    if (weights.length !== this.kept.length) throw new IndomainError('SC_BAD_MESSAGE', `${weights.length} weights for ${this.kept.length} kept guest features`);
    this.intercept = intercept;
    this.weights = weights;
    this.arbiter = arbiter;
    this.base = basePoints(intercept, this.config.scaling);
    this.points = this.kept.map((f, j) => binPoints(f.woe, weights[j]!, this.config.scaling));
    this.stage = 'final';
  }

  /**
   * The seed of the training-row shares to the host, and this party's shares to the arbiter: its
   * partial logit (intercept included), its points (base included) and the labels, in the secret
   * order. The arbiter sees each label, unlinked to any row; the partials only padded.
   */
  private startFinal(): Envelope[] {
    if (this.layout) return [];
    const seed = this.rng.bytes(32);
    const n = this.labels.train.length;
    this.layout = shareLayout(seed, n, 2);
    const own = this.ownScores('train');
    const [logit, points] = padShares(this.layout, [own.logit, own.points], 'guest');
    const labels = Uint8Array.from(this.layout.order, (i) => this.labels.train[i]!);
    return [
      envelope(this.config.job, 'ShareSeed', this.name, 'host', { seed }),
      envelope(this.config.job, 'GuestTrainShares', this.name, 'arbiter', { logit, points, labels }),
    ];
  }

  private onPartialScores(b: Record<string, never>): Envelope[] {
    const testLogit = b.testLogit as Float64Array;
    const testPoints = b.testPoints as Float64Array;
    const nTest = this.labels.test.length;
    // Under `full` the platform sends integer points only (no partial logit: with the table this
    // bank holds, it would decode into the enterprise's bins).
    const full = this.config.policy === 'full';
    if (testLogit.length !== (full ? 0 : nTest) || testPoints.length !== nTest) {
      throw new IndomainError('SC_BAD_MESSAGE', `${testLogit.length}/${testPoints.length} partial scores for ${nTest} test rows`, { field: 'testLogit' });
    }
    if (testPoints.some((p) => !Number.isInteger(p))) throw new IndomainError('SC_BAD_MESSAGE', 'platform partial points must be integers', { field: 'testPoints' });
    if (this.config.policy === 'full' && !this.hostCharacteristics) throw new IndomainError('SC_BAD_MESSAGE', 'the full policy needs the host points table first', { field: 'table' });
    this.hostPointRange = { max: b.maxPoints, min: b.minPoints };
    const own = this.ownScores('test');
    const points = own.points.map((p, i) => p + testPoints[i]!);
    // Under `full`, the log-odds the integer score stands for: the probability online scoring gives.
    const logit = full ? points.map((s) => logOdds(probabilityOfScore(s, this.config.scaling))) : own.logit.map((u, i) => u + testLogit[i]!);
    this.test = { logit, prob: logit.map(sigmoid), points, hostPoints: testPoints, labels: this.labels.test };
    return this.finishIfComplete();
  }

  /** This party's part of each row's score: β₀ + Σ own, and base + own points. */
  ownScores(which: 'train' | 'test'): { logit: Float64Array; points: Float64Array } {
    const n = this.labels[which].length;
    const logit = new Float64Array(n).fill(this.intercept);
    const points = new Float64Array(n).fill(this.base);
    this.kept.forEach((f, j) => {
      const x = which === 'train' ? f.trainWoe : f.testWoe;
      const bins = which === 'train' ? f.trainBins : f.testBins;
      for (let i = 0; i < n; i++) {
        logit[i]! += this.weights[j]! * x[i]!;
        points[i]! += this.points[j]![bins[i]!]!;
      }
    });
    return { logit, points };
  }

  private onTrainSummary(metrics: Float64Array, edges: Float64Array, deciles: Float64Array, bands: Float64Array): Envelope[] {
    if (metrics.length !== 6) throw new IndomainError('SC_BAD_MESSAGE', `${metrics.length} metrics, 6 expected`, { field: 'metrics' });
    const [auc, ks, gini, logLoss, n, events] = metrics;
    if (n !== this.labels.train.length) throw new IndomainError('SC_BAD_MESSAGE', `a summary of ${n} rows for ${this.labels.train.length}`, { field: 'metrics' });
    const d = unpackGroups(deciles, 'deciles');
    const bd = unpackGroups(bands, 'bands');
    if (d.length !== 10 || edges.length < 1 || bd.length !== edges.length + 1) throw new IndomainError('SC_BAD_MESSAGE', `${d.length} deciles, ${bd.length} bands for ${edges.length} edges`, { field: 'bands' });
    this.bandEdges = Array.from(edges);
    this.trainSummary = { metrics: { auc: auc!, ks: ks!, gini: gini!, logLoss: logLoss!, n: n!, events: events! }, deciles: d, bands: bd };
    return this.finishIfComplete();
  }

  /**
   * With the arbiter's [[w]] (w = p(1−p) per training row, in the shares' order) and the host's
   * [[w·x_Hl]]: Σw, Σw·x_Ga, Σw·x_Ga·x_Gb and Σw·x_Ga·x_Hl under the arbiter's key, flooded and
   * re-randomised, to the arbiter. Scales: see crossOperandScale (common.ts).
   */
  private fisherSums(): Envelope[] {
    if (!this.fisherWeights || !this.hostVectors) return [];
    const ev = this.arbiter!;
    const ck = ev.ckks;
    const x = this.kept.map((f) => permuted(this.layout!, f.trainWoe));
    const mg = x.length;
    const n = this.labels.train.length;
    const direct: Float64Array[] = [new Float64Array(n).fill(1), ...x];
    for (let a = 0; a < mg; a++) for (let b = a; b < mg; b++) direct.push(Float64Array.from(x[a]!, (v, i) => v * x[b]![i]!));
    const load = (chunks: Uint8Array[]) => chunks.map((c) => deserialize(ck, c));
    // A packed product holds S/width copies of each sum: the same flood in every copy.
    const finish = (ct: CipherText, width: number): Uint8Array => {
      rerandomize(ev, ct, this.config.fisherFloodSigma, this.rng, width);
      const out = serialize(ck, ct);
      ct.delete();
      return out;
    };
    const w = load(this.fisherWeights);
    const own = new PackedColumns(ev, direct);
    const directSum = finish(own.transposeTimes(w, true), own.width);
    own.release();
    for (const ct of w) ct.delete();
    const cols = new PackedColumns(ev, x, 1, crossOperandScale(ck));
    const cross = this.hostVectors.map((chunks) => {
      const v = load(chunks);
      const out = finish(cols.transposeTimes(v, true), cols.width);
      for (const ct of v) ct.delete();
      return out;
    });
    cols.release();
    this.fisherWeights = undefined;
    this.hostVectors = undefined;
    return [envelope(this.config.job, 'FisherSums', this.name, 'arbiter', { columns: mg, direct: directSum, cross })];
  }

  private onFisherMatrix(f: Float64Array): Envelope[] {
    const d = 1 + this.kept.length + (this.hostSelection?.kept.length ?? 0);
    if (f.length !== d * d) throw new IndomainError('SC_BAD_MESSAGE', `a Fisher matrix of ${f.length} values for ${d} terms`, { field: 'fisher' });
    this.fisher = f;
    const cov = fisherCovariance(f, d);
    this.standardErrors = Float64Array.from({ length: d }, (_, j) => Math.sqrt(cov[j * d + j]!));
    return this.finishIfComplete();
  }

  /**
   * The training side of the report and the standard errors when no arbiter computes them (the
   * two-party stage, protocols/scorecard-2p): the summary and band edges from the score
   * histogram, the standard errors over [intercept, guest kept, host kept] (NaN where the host's
   * policy withholds them). Completes the stage like TrainSummary and FisherMatrix do.
   */
  setTrainingSide(summary: SampleSummary, edges: readonly number[], standardErrors: Float64Array, fisher?: Float64Array): void {
    if (this.stage !== 'final') throw new IndomainError('SC_WRONG_STAGE', `setTrainingSide in stage "${this.stage}"`);
    const d = 1 + this.kept.length + (this.hostSelection?.kept.length ?? 0);
    if (standardErrors.length !== d) throw new IndomainError('SC_BAD_MESSAGE', `${standardErrors.length} standard errors for ${d} terms`, { field: 'standardErrors' });
    this.trainSummary = summary;
    this.bandEdges = [...edges];
    this.standardErrors = standardErrors;
    this.fisher = fisher;
    this.finishIfComplete();
  }

  private finishIfComplete(): Envelope[] {
    const ready = this.test && this.trainSummary && this.standardErrors && this.hostStability && (this.config.policy !== 'full' || this.hostCharacteristics);
    if (ready) this.stage = 'finished';
    return [];
  }
}

/**
 * The inverse of an information matrix; all NaN when it is not positive definite: a (nearly)
 * separating fit leaves the flooded information matrix indefinite, the standard errors are not
 * estimable, and the report shows them as such rather than failing the job.
 */
export function fisherCovariance(f: Float64Array, d: number): Float64Array {
  try {
    return spdInverse(f, d);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return new Float64Array(d * d).fill(NaN);
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
