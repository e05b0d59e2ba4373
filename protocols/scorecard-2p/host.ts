/**
 * The host (the platform) in `scorecard-2p`. It wraps the binned ScorecardHost (which sends its
 * `scorecard` messages: stability, points table under `full`, test-row partial scores) and, holding
 * no key, computes on the guest's ciphertexts: the training score histogram (convolving the
 * guest's per-row monomials with its own points, histogram.ts) and the Fisher blocks in its secret
 * rotation from training (fisher.ts), each re-randomised and flooded before it leaves. It rotates
 * its block of the inverse Fisher back and, under `full` only, returns its standard errors.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { importPublicKeys, importRelinKeys, type Ckks, type Evaluation } from '../he/ckks.ts';
import { bfvPublicEncryptor, loadBfv, type Bfv } from '../he/bfv.ts';
import type { ScorecardHost } from '../scorecard/host.ts';
import type { ScorecardConfig } from '../scorecard/config.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { rotateColumns } from '../vfl-lr-2p/common.ts';
import { histogramLayout, hostConvolve, type HistogramSwitches } from './histogram.ts';
import { fisherBasis, fisherFlood, fisherWindows, hostFisherBlocks, unrotateCovariance } from './fisher.ts';
import { accept, envelope, fisherConfig } from './common.ts';
import type { RelinKeys } from 'node-seal/implementation/relin-keys.js';

/** What the host keeps from vfl-lr-2p training (TwoPartyHost.rotation and .guestKeys). */
export interface TwoPartyTrainingHost {
  readonly rotation: Float64Array;
  readonly guestKeys: { readonly publicKey: Uint8Array; readonly galoisKeys: Uint8Array; readonly relinKeys: Uint8Array };
}

/**
 * TEST ONLY switches (tests/attacks/two-party-scorecard-*.test.ts); no job spec or request reaches
 * them: the histogram's (histogram.ts HistogramSwitches); `flood: false` also leaves the Fisher
 * blocks unflooded (re-randomised only).
 */
export interface ScorecardHostDefences extends HistogramSwitches {}

export class TwoPartyScorecardHost implements Party {
  readonly name = 'host';
  /** Standard errors of its kept coefficients (its own, rotated back). */
  standardErrors: Float64Array | undefined;
  private finished = false;
  private readonly received = new Set<string>();
  private readonly ev: Evaluation;
  private readonly relinKeys: RelinKeys;
  private readonly xr: Float64Array[];
  private readonly lr: VflConfig;
  private basis: Float64Array[] | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly bfv: Bfv,
    /** The binned host whose model is set (setModel) for this stage. */
    readonly sc: ScorecardHost,
    private readonly training: TwoPartyTrainingHost,
    lrConfig: VflConfig,
    private readonly config: ScorecardConfig,
    /** Secret randomness (pads, floods, re-randomisation). */
    private readonly rng: Rng,
    private readonly defences: ScorecardHostDefences = {},
  ) {
    this.ev = importPublicKeys(ckks, training.guestKeys.publicKey, training.guestKeys.galoisKeys);
    this.relinKeys = importRelinKeys(ckks, training.guestKeys.relinKeys);
    const p = sc.kept.length;
    if (training.rotation.length !== p * p) throw new IndomainError('SC_BAD_CONFIG', `a rotation of ${training.rotation.length} values for ${p} kept host features`);
    this.xr = rotateColumns(sc.trainColumns(), training.rotation);
    this.lr = fisherConfig(lrConfig);
  }

  /** The scorecard host's setModel with the guest's public keys standing in for the arbiter's. */
  static setModel(sc: ScorecardHost, ckks: Ckks, weights: Float64Array, guestKeys: TwoPartyTrainingHost['guestKeys']): void {
    sc.setModel(weights, importPublicKeys(ckks, guestKeys.publicKey, guestKeys.galoisKeys));
  }

  get done(): boolean {
    return this.finished;
  }

  /** The scorecard stage's messages to the guest, and the windows of the Fisher weights. */
  start(): Envelope[] {
    const out = this.sc.start();
    const u = this.sc.partial('train').logit;
    const windows = fisherWindows(u, this.lr);
    this.basis = fisherBasis(u, windows);
    out.push(
      envelope(this.config.job, 'HostFisherWindows', this.name, 'guest', {
        centres: windows.map((w) => w.centre),
        halfWidths: windows.map((w) => w.halfWidth),
        degrees: windows.map((w) => w.degree),
      }),
    );
    return out;
  }

  receive(env: Envelope): Envelope[] {
    const expects = ['HistogramBlocks', 'GuestFisherInput', ...(this.received.has('GuestFisherInput') ? ['HostCovariance'] : [])];
    accept(env, this.config.job, expects, this.received);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HistogramBlocks':
        return [this.onBlocks(b.publicKey, b.guestRange, b.blocks)];
      case 'GuestFisherInput':
        return [this.onFisher(b)];
      case 'HostCovariance':
        return this.onCovariance(b.covariance);
    }
    return [];
  }

  private pointRange(): { min: number; max: number } {
    return { min: this.sc.points.reduce((s, p) => s + Math.min(...p), 0), max: this.sc.points.reduce((s, p) => s + Math.max(...p), 0) };
  }

  private onBlocks(publicKey: Uint8Array, guestRange: number, bytes: Uint8Array[]): Envelope {
    const points = this.sc.partial('train').points;
    const range = this.pointRange();
    const layout = histogramLayout(this.bfv.degree, points.length, guestRange, range.max - range.min + 1);
    const enc = bfvPublicEncryptor(this.bfv, publicKey);
    const blocks = bytes.map((x) => loadBfv(this.bfv, x, 'blocks'));
    try {
      const histogram = hostConvolve(this.bfv, layout, points.map((p) => p - range.min), blocks, enc, this.rng, this.defences);
      return envelope(this.config.job, 'TrainScoreHistogram', this.name, 'guest', { histogram });
    } finally {
      for (const ct of blocks) ct.delete();
      enc.delete();
    }
  }

  private onFisher(b: Record<string, never>): Envelope {
    const n = this.xr[0]?.length ?? 0;
    const flood = this.defences.flood === false ? 1e-30 : fisherFlood(this.ckks, n, this.lr);
    const blocks = hostFisherBlocks(this.ckks, this.ev, this.relinKeys, this.xr, this.basis!, { coefficients: b.coefficients, columns: b.columns, products: b.products }, flood, this.rng);
    this.basis = undefined;
    return envelope(this.config.job, 'FisherBlocks', this.name, 'guest', blocks);
  }

  private onCovariance(rotated: Float64Array): Envelope[] {
    const p = this.xr.length;
    if (rotated.length !== p * p) throw new IndomainError('SC_BAD_MESSAGE', `a covariance of ${rotated.length} values for ${p} host features`, { field: 'covariance' });
    const cov = unrotateCovariance(rotated, this.training.rotation, p);
    this.standardErrors = Float64Array.from({ length: p }, (_, l) => Math.sqrt(cov[l * p + l]!));
    this.finished = true;
    this.relinKeys.delete();
    // Under `full` the bank holds the host's coefficients (HostPoints): their errors go with them.
    if (this.config.policy !== 'full') return [];
    return [envelope(this.config.job, 'HostStandardErrors', this.name, 'guest', { standardErrors: this.standardErrors })];
  }
}
