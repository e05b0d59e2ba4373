/**
 * The arbiter (run by the coordinator) in `vfl-lr`: owns the CKKS secret key, decrypts only
 * aggregates (sample Gram blocks, per-weight gradients), runs BFGS with a gradient-only line search
 * (models/wolfe.ts) and sends each party the move
 * for its own weights. It never holds a feature, a label or any per-enterprise value.
 */
import { IndomainError } from '../../engine/errors.ts';
import { maxAbs } from '../../engine/linalg.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { decryptorFor, deserialize, floodNoise, generateKeys, productNoise, secretKeyBytes, zeroCiphertexts, type Ckks, type Decryption, type KeyOwner } from '../he/ckks.ts';
import { CrossGramDealer } from '../mpc/cross-gram.ts';
import { initialLogisticHessian } from '../../models/bfgs.ts';
import { WolfeBfgs } from '../../models/wolfe.ts';
import { logit } from '../../models/logistic.ts';
import { roundTolerance, type VflConfig } from './config.ts';
import { assembleHessian, type HessianShares } from './hessian.ts';
import { accept, envelope, gradientDivisor, timed, type Profile } from './common.ts';

type Stage = 'init' | 'gradients' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  init: ['GuestInit', 'HostInit', 'ZeroRequest'],
  gradients: ['GuestGradient', 'HostGradient', 'GuestHessianShare', 'HostHessianShare', 'ZeroRequest'],
  done: ['ZeroRequest'],
};

/** Most encryptions of zero one request may ask for (degree 16 × 256 ciphertexts: a million rows). */
const MAX_ZEROS = 4096;

interface InitBody {
  rows: number;
  sampleRows: number;
  gram: Float64Array;
  eventRate?: number;
  crossShare: Uint8Array;
  crossBits: number;
}

export class VflArbiter implements Party {
  readonly name = 'arbiter';
  stage: Stage = 'init';
  round = 0;
  converged = false;
  /** ‖gradient‖∞ seen at each round. */
  readonly gradientNorms: number[] = [];
  /** Seconds per kind of work (benchmark profile). */
  readonly profile: Profile = {};
  private keys: KeyOwner | undefined;
  private dec: Decryption | undefined;
  private guestInit: InitBody | undefined;
  private hostInit: InitBody | undefined;
  private guestDim = 0;
  private hostDim = 0;
  private opt: WolfeBfgs | undefined;
  private pending: { guest?: Float64Array; host?: Float64Array; guestHessian?: HessianShares; hostHessian?: HessianShares } = {};
  /** The round that computes the weighted Hessian (−1: not yet asked for). */
  private hessianRound = -1;
  /** The sample Gram XᵀX (d × d) and its row count, for Hessian blocks that are not exchanged. */
  private gram = new Float64Array(0);
  private sampleRows = 0;
  private penalised: boolean[] = [];
  private dealer: CrossGramDealer | undefined;
  /** Standard deviation of the flooding noise on each gradient value the arbiter releases to itself. */
  private gradientNoise = 0;
  /**
   * The weights as the arbiter can rebuild them (the guest's intercept starts at the logit of the
   * event rate it reports, every other weight at 0, then the moves it sends): for the relative step test.
   */
  private weights = new Float64Array(0);
  /** The sigmoid tolerance of the current round (config.roundTolerance). */
  private tolerance = 0;
  /** Whether the run ended with a final quasi-Newton step after convergence (config.finalStep). */
  finalStepTaken = false;

  /**
   * `keys.stored`: a secret key kept from an earlier run of this job (restart); `keys.keep` is
   * called with a newly generated one, for the owner's store.
   */
  constructor(
    private readonly ckks: Ckks,
    private readonly config: VflConfig,
    private readonly rng: Rng,
    private readonly keyStore?: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void },
  ) {}

  /** This job's key pair, for the arbiter's part of the scorecard stage (same owner, same process). */
  get keyOwner(): KeyOwner | undefined {
    return this.keys;
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    this.keys = generateKeys(this.ckks, this.keyStore?.stored);
    if (!this.keyStore?.stored) this.keyStore?.keep?.(secretKeyBytes(this.ckks, this.keys));
    this.dec = decryptorFor(this.ckks, this.keys);
    this.dealer = new CrossGramDealer(this.rng.bytes(32));
    const body = { params: this.ckks.params.name, publicKey: this.keys.publicKey, galoisKeys: this.keys.galoisKeys };
    return [
      envelope(this.config.job, 'HeSetup', 0, this.name, 'guest', { ...body, tripleSeed: this.dealer.leftSeed }),
      envelope(this.config.job, 'HeSetup', 0, this.name, 'host', { ...body, tripleSeed: this.dealer.rightSeed }),
    ];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS, env.type === 'ZeroRequest' ? env.round : this.round);
    const b = env.body as unknown as InitBody & { gradient: Uint8Array; count: number };
    switch (env.type) {
      case 'ZeroRequest': {
        if (!(b.count >= 1 && b.count <= MAX_ZEROS)) throw new IndomainError('VFL_BAD_MESSAGE', `${b.count} encryptions of zero asked for (1..${MAX_ZEROS})`, { field: 'count' });
        if (this.stage === 'done') return [];
        return [envelope(this.config.job, 'Zeros', env.round, this.name, 'host', { zeros: timed(this.profile, 'encryptions of zero', () => zeroCiphertexts(this.ckks, this.keys!, b.count)) })];
      }
      case 'GuestInit':
        this.guestInit = b;
        return this.maybeStart();
      case 'HostInit':
        this.hostInit = b;
        return this.maybeStart();
      case 'GuestGradient':
        this.pending.guest = timed(this.profile, 'decrypt', () => this.decryptReleased(b.gradient, this.guestDim));
        return this.maybeStep();
      case 'HostGradient':
        this.pending.host = timed(this.profile, 'decrypt', () => this.decryptReleased(b.gradient, this.hostDim));
        return this.maybeStep();
      case 'GuestHessianShare':
      case 'HostHessianShare': {
        if (this.round !== this.hessianRound) throw new IndomainError('VFL_WRONG_STAGE', `${env.type} in round ${this.round}, which computes no Hessian`);
        const h = env.body as unknown as HessianShares;
        if (!h.bits.every(Number.isInteger) || !h.columns.every(Number.isInteger) || h.shares.length !== 3 || h.bits.length !== 3 || h.columns.length !== 3 || h.exponents.length !== 3 || !h.exponents.every((e) => e.every(Number.isInteger))) {
          throw new IndomainError('VFL_BAD_MESSAGE', 'Hessian shares must be three blocks with integer bits and columns', { field: 'shares' });
        }
        if (env.type === 'GuestHessianShare') this.pending.guestHessian = h;
        else this.pending.hostHessian = h;
        return this.maybeStep();
      }
    }
    return [];
  }

  /**
   * Decrypt a party's Xᵀd/√n + λw√n, flood it before anything derived from it is released, and
   * divide by √n. The flood is `floodMarginBits` above the product's ciphertext noise
   * (`productNoise`: the key- and randomness-dependent part of the error, measured at 5–6e-7 in
   * these units); on default_credit it is 2^-16·√6 ≈ 3.7e-5 here, 2.4e-7 in gradient units,
   * far below the convergence tolerance.
   */
  private decryptReleased(bytes: Uint8Array, count: number): Float64Array {
    const ct = deserialize(this.ckks, bytes);
    const values = this.dec!.decrypt(ct, count);
    ct.delete();
    const rows = this.guestInit!.rows;
    const sigma = productNoise(this.ckks, Math.ceil(rows / this.ckks.slots)) * 2 ** this.config.floodMarginBits;
    const flooded = floodNoise(values, sigma, this.rng);
    const divisor = gradientDivisor(rows);
    for (let j = 0; j < flooded.length; j++) flooded[j] /= divisor;
    return flooded;
  }

  private maybeStart(): Envelope[] {
    const g = this.guestInit;
    const h = this.hostInit;
    if (!g || !h) return [];
    if (g.rows !== h.rows || g.sampleRows !== h.sampleRows) {
      throw new IndomainError('VFL_ROW_MISMATCH', `guest has ${g.rows} rows (sample ${g.sampleRows}), host ${h.rows} (sample ${h.sampleRows})`);
    }
    const mg = Math.round(Math.sqrt(g.gram.length));
    const mh = Math.round(Math.sqrt(h.gram.length));
    if (mg * mg !== g.gram.length || mh * mh !== h.gram.length) {
      throw new IndomainError('VFL_BAD_MESSAGE', `Gram blocks of ${g.gram.length} and ${h.gram.length} values`);
    }
    this.guestDim = mg;
    this.hostDim = mh;
    const d = mg + mh;
    const gram = new Float64Array(d * d);
    for (let i = 0; i < mg; i++) for (let j = 0; j < mg; j++) gram[i * d + j] = g.gram[i * mg + j]!;
    for (let i = 0; i < mh; i++) for (let j = 0; j < mh; j++) gram[(mg + i) * d + mg + j] = h.gram[i * mh + j]!;
    const cross = this.dealer!.combine(
      { share: g.crossShare, bits: g.crossBits, columns: mg },
      { share: h.crossShare, bits: h.crossBits, columns: mh },
      g.sampleRows,
    );
    for (let j = 0; j < mg; j++) {
      for (let l = 0; l < mh; l++) {
        gram[j * d + mg + l] = cross[j * mh + l]!;
        gram[(mg + l) * d + j] = cross[j * mh + l]!;
      }
    }
    const penalised = Array.from({ length: d }, (_, j) => j > 0);
    this.gram = gram;
    this.sampleRows = g.sampleRows;
    this.penalised = penalised;
    // The flood on each released gradient value (three independent floods reach the arbiter's
    // gradient: the guest's, the host's and its own), so that BFGS ignores curvature pairs below it.
    const flood = (productNoise(this.ckks, Math.ceil(g.rows / this.ckks.slots)) * 2 ** this.config.floodMarginBits * Math.sqrt(3)) / gradientDivisor(g.rows);
    this.opt = new WolfeBfgs(initialLogisticHessian(gram, d, g.sampleRows, g.eventRate!, this.config.lambda, penalised), d, { gradientNoise: flood });
    this.gradientNoise = flood;
    this.weights = new Float64Array(d);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, g.eventRate!)));

    this.stage = 'gradients';
    this.tolerance = this.config.sigmoidToleranceStart;
    return [envelope(this.config.job, 'RoundStart', this.round, this.name, 'host', { sigmoidTolerance: this.tolerance, hessian: false })];
  }

  private maybeStep(): Envelope[] {
    const { guest, host, guestHessian, hostHessian } = this.pending;
    if (!guest || !host) return [];
    if (this.round === this.hessianRound && (!guestHessian || !hostHessian)) return [];
    this.pending = {};
    if (guestHessian && hostHessian) {
      // BFGS restarts from the weighted Hessian at this point (protocols/vfl-lr/hessian.ts).
      const h = timed(this.profile, 'hessian', () =>
        assembleHessian(this.dealer!.leftSeed, this.dealer!.rightSeed, this.round, guestHessian, hostHessian, this.guestDim, this.hostDim, this.sampleRows, this.gram),
      );
      const d = this.guestDim + this.hostDim;
      for (let j = 0; j < d; j++) h[j * d + j] += (this.penalised[j] ? this.config.lambda : 0) + 1e-8;
      this.opt = new WolfeBfgs(h, d, { gradientNoise: this.gradientNoise });
    }
    const grad = new Float64Array(this.guestDim + this.hostDim);
    grad.set(guest, 0);
    grad.set(host, this.guestDim);
    const norm = maxAbs(grad);
    this.gradientNorms.push(norm);
    const job = this.config.job;
    const opt = this.opt!;
    const update = (move: Float64Array): Envelope[] => {
      for (let j = 0; j < move.length; j++) this.weights[j] += move[j]!;
      const out = [
        envelope(job, 'Update', this.round, this.name, 'guest', { step: move.slice(0, this.guestDim) }),
        envelope(job, 'Update', this.round, this.name, 'host', { step: move.slice(this.guestDim) }),
      ];
      this.round++;
      return out;
    };
    const finish = (converged: boolean): Envelope[] => {
      this.converged = converged;
      this.stage = 'done';
      const body = { converged, iterations: this.round, gradientNorm: norm };
      return [envelope(job, 'Finished', this.round, this.name, 'guest', body), envelope(job, 'Finished', this.round, this.name, 'host', body)];
    };
    // Converged to within the flooding noise: the gradient is at the noise's level, or the next
    // quasi-Newton step is negligible.
    // Only at the final sigmoid tolerance: a coarser one biases the gradient by more than this.
    const converged =
      this.tolerance <= this.config.sigmoidTolerance &&
      (norm <= Math.max(this.config.tolerance, 3 * this.gradientNoise) || opt.predictedStep(grad) <= this.config.stepTolerance * Math.max(1, maxAbs(this.weights)));
    if (converged) {
      // Stopped by the step rule with the gradient still above the flood: the last quasi-Newton
      // step carries signal, so it is taken (an Update with no round after it) before Finished.
      // At the noise floor it would only add the flood's H⁻¹-scaled noise again.
      if (this.config.finalStep && norm > 3 * this.gradientNoise) {
        this.finalStepTaken = true;
        return [...update(opt.finalStep(grad)), ...finish(true)];
      }
      return finish(true);
    }
    if (this.round >= this.config.maxIterations) return finish(false);
    const out = update(opt.next(grad));
    this.tolerance = roundTolerance(this.config, norm, this.tolerance);
    // The one Hessian of the run, in the round after the gradient first falls below hessianGradient.
    const hessian = this.hessianRound < 0 && norm <= this.config.hessianGradient;
    if (hessian) this.hessianRound = this.round;
    return [...out, envelope(job, 'RoundStart', this.round, this.name, 'host', { sigmoidTolerance: this.tolerance, hessian })];
  }

  /** Quasi-Newton steps accepted and curvature restarts (the other rounds were line-search trials). */
  get steps(): { accepted: number; resets: number } {
    return { accepted: this.opt?.accepted ?? 0, resets: this.opt?.resets ?? 0 };
  }

  /** Rounds completed (steps taken). */
  get iterations(): number {
    return this.round;
  }
}
