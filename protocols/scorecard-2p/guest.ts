/**
 * The guest (the bank) in `scorecard-2p`: the scorecard stage after `vfl-lr-2p` training, with no
 * arbiter. It wraps the binned ScorecardGuest (which receives the host's `scorecard` messages:
 * stability, points table under `full`, test-row partial scores) and adds the training side of
 * the report from the score histogram and the standard errors from the Fisher information, both
 * computed by the host under keys only this party holds. It decrypts aggregates only.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { decryptorFor, importPublicKeys, type Ckks, type Decryption, type KeyOwner } from '../he/ckks.ts';
import { bfvKeys, loadBfv, type Bfv, type BfvKeys } from '../he/bfv.ts';
import { fisherCovariance, type ScorecardGuest } from '../scorecard/guest.ts';
import type { ScorecardConfig } from '../scorecard/config.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { OwnerEncryptor } from '../vfl-lr-2p/common.ts';
import { decodeHistogram, guestBlocks, histogramLayout, readPolynomial, summariseHistogram, type HistogramLayout, type ScoreHistogram } from './histogram.ts';
import { assembleFisher, checkFisherWindows, encryptDiagonals, fisherCoefficients, fisherFlood, pairProducts } from './fisher.ts';
import { accept, envelope, fisherConfig } from './common.ts';
import type { SampleSummary } from '../../models/report.ts';

const EXPECTS = ['TrainScoreHistogram', 'HostFisherWindows', 'FisherBlocks', 'HostStandardErrors'];

export class TwoPartyScorecardGuest implements Party {
  readonly name = 'guest';
  /** The decrypted score histogram (what this party learns of the training rows). */
  histogram: ScoreHistogram | undefined;
  /** The Fisher information in the host's rotated coordinates, [1, x_G, x̃_H]. */
  fisher: Float64Array | undefined;
  standardErrors: Float64Array | undefined;
  private train: { summary: SampleSummary; edges: number[] } | undefined;
  private hostErrors: Float64Array | undefined;
  private layout: HistogramLayout | undefined;
  private bfvKeys: BfvKeys | undefined;
  private guestLowest = 0;
  private finished = false;
  private readonly received = new Set<string>();
  private readonly dec: Decryption;
  private readonly lr: VflConfig;

  constructor(
    private readonly ckks: Ckks,
    private readonly bfv: Bfv,
    /** The binned guest whose model is set (setModel) for this stage. */
    readonly sc: ScorecardGuest,
    /** This job's CKKS key pair from vfl-lr-2p training (TwoPartyGuest.keyOwner). */
    private readonly keys: KeyOwner,
    lrConfig: VflConfig,
    private readonly config: ScorecardConfig,
    /** Secret randomness (release floods). */
    private readonly rng: Rng,
    /** A BFV secret key kept from an earlier run of this job (a restarted node), and where to keep a new one. */
    private readonly keyStore?: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void },
  ) {
    this.dec = decryptorFor(ckks, keys);
    this.lr = fisherConfig(lrConfig);
  }

  /** The scorecard guest's setModel with this job's keys standing in for the arbiter's. */
  static setModel(sc: ScorecardGuest, ckks: Ckks, weights: Float64Array, keys: KeyOwner): void {
    sc.setModel(weights[0]!, weights.slice(1), importPublicKeys(ckks, keys.publicKey, keys.galoisKeys));
  }

  get done(): boolean {
    return this.finished && this.sc.done;
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    // The host's `scorecard` messages of this stage go to the binned guest, unchanged.
    if (env.protocol === 'scorecard') {
      const out = this.sc.receive(env);
      if (env.type === 'HostPartialScores') return [...out, this.histogramBlocks()];
      return [...out, ...this.finishIfComplete()];
    }
    accept(env, this.config.job, EXPECTS, this.received);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'TrainScoreHistogram':
        this.onHistogram(b.histogram);
        return this.finishIfComplete();
      case 'HostFisherWindows':
        return [this.fisherInput(b.centres, b.halfWidths, b.degrees)];
      case 'FisherBlocks':
        return this.onFisher(b);
      case 'HostStandardErrors':
        return this.onHostErrors(b.standardErrors);
    }
    return [];
  }

  private get rows(): number {
    return this.sc.kept[0]?.trainBins.length ?? this.sc.trainColumns()[0]?.length ?? 0;
  }

  /** Each training row's points and label as a monomial of its block, under a fresh BFV key. */
  private histogramBlocks(): Envelope {
    const own = this.sc.ownScores('train');
    const labels = this.labels();
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of own.points) {
      lo = Math.min(lo, p);
      hi = Math.max(hi, p);
    }
    const range = this.sc.hostPointRange;
    this.guestLowest = lo;
    this.layout = histogramLayout(this.bfv.degree, labels.length, hi - lo + 1, range.max - range.min + 1);
    const keys = bfvKeys(this.bfv, this.keyStore?.stored);
    if (!this.keyStore?.stored) this.keyStore?.keep?.(keys.secret);
    this.bfvKeys = keys;
    const offset = own.points.map((p) => p - lo);
    const blocks = guestBlocks(this.bfv, this.bfvKeys.encryptor, this.layout, offset, labels);
    return envelope(this.config.job, 'HistogramBlocks', this.name, 'host', { publicKey: this.bfvKeys.publicKey, guestRange: this.layout.guestRange, blocks });
  }

  private labels(): Uint8Array {
    return this.sc.trainLabels;
  }

  private onHistogram(bytes: Uint8Array): void {
    if (!this.layout || !this.bfvKeys) throw new IndomainError('SC_WRONG_STAGE', 'TrainScoreHistogram before HistogramBlocks');
    const ct = loadBfv(this.bfv, bytes, 'histogram');
    const pt = this.bfvKeys.decryptor.decrypt(ct)!;
    ct.delete();
    const coef = readPolynomial(this.bfv, pt, this.layout.spacing);
    pt.delete();
    const labels = this.labels();
    const events = labels.reduce((s, y) => s + y, 0);
    this.histogram = decodeHistogram(coef, this.layout, this.guestLowest + this.sc.hostPointRange.min, labels.length, events);
    this.train = summariseHistogram(this.histogram, this.config.scaling);
    this.bfvKeys.encryptor.delete();
    this.bfvKeys.decryptor.delete();
    this.bfvKeys = undefined;
  }

  /** Coefficients of σ′ in the host's basis, and its columns and their products, encrypted. */
  private fisherInput(centres: number[], halfWidths: number[], degrees: number[]): Envelope {
    const windows = checkFisherWindows(centres, halfWidths, degrees, this.lr);
    const n = this.rows;
    const own = this.sc.ownScores('train');
    const x = this.sc.trainColumns();
    const enc = new OwnerEncryptor(this.ckks, this.keys);
    try {
      const coefficients = fisherCoefficients(own.logit, windows).map((c) => enc.encryptChunks(c, this.ckks.scale));
      const ones = new Float64Array(n).fill(1);
      const columns = encryptDiagonals(enc, this.ckks, [ones, ...x], n);
      const products = x.length > 0 ? encryptDiagonals(enc, this.ckks, pairProducts(x), n) : [];
      return envelope(this.config.job, 'GuestFisherInput', this.name, 'host', { coefficients, columns, products });
    } finally {
      enc.release();
    }
  }

  /** Decrypt the blocks, invert, keep its own standard errors and send the host its rotated block. */
  private onFisher(b: Record<string, never>): Envelope[] {
    const pg = this.sc.kept.length;
    const ph = (b.cross as Uint8Array[]).length;
    const n = this.rows;
    const f = assembleFisher(this.ckks, this.dec, { host: b.host, guest: b.guest, products: b.products, cross: b.cross }, pg, ph, n, fisherFlood(this.ckks, n, this.lr), this.rng);
    this.fisher = f;
    const d = 1 + pg + ph;
    const cov = fisherCovariance(f, d);
    const se = new Float64Array(d).fill(NaN);
    for (let j = 0; j <= pg; j++) se[j] = Math.sqrt(cov[j * d + j]!);
    this.standardErrors = se;
    const block = new Float64Array(ph * ph);
    for (let k = 0; k < ph; k++) for (let l = 0; l < ph; l++) block[k * ph + l] = cov[(1 + pg + k) * d + 1 + pg + l]!;
    return [envelope(this.config.job, 'HostCovariance', this.name, 'host', { covariance: block }), ...this.finishIfComplete()];
  }

  private onHostErrors(errors: Float64Array): Envelope[] {
    if (this.config.policy !== 'full') throw new IndomainError('SC_BAD_MESSAGE', 'host standard errors under the partial policy', { field: 'standardErrors' });
    const pg = this.sc.kept.length;
    if (!this.standardErrors || errors.length !== this.standardErrors.length - 1 - pg) throw new IndomainError('SC_BAD_MESSAGE', `${errors.length} host standard errors`, { field: 'standardErrors' });
    this.hostErrors = errors;
    this.standardErrors.set(errors, 1 + pg);
    return this.finishIfComplete();
  }

  private finishIfComplete(): Envelope[] {
    if (this.finished || !this.train || !this.standardErrors || !this.sc.test) return [];
    if (this.config.policy === 'full' && !this.hostErrors) return [];
    this.finished = true;
    this.sc.setTrainingSide(this.train.summary, this.train.edges, this.standardErrors);
    return [];
  }
}
