/**
 * The host (feature holder, the platform) in `vfl-lr`. Holds its features and weights (no
 * intercept). Receives only ciphertexts and its own steps; sends an encrypted Chebyshev basis of
 * its normalised partial logits and two aggregates of them per round.
 */
import { crossGram, linearPredictor } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { performance } from 'node:perf_hooks';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { deserialize, encode, encryptChunks, importPublicKeys, productNoise, rerandomize, serialize, ZeroPool, type Ckks, type Evaluation } from '../he/ckks.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { CrossGramRight } from '../mpc/cross-gram.ts';
import { PackedColumns } from '../he/packing.ts';
import { chebyshevBasis } from './chebyshev.ts';
import { assignWindows, basisVectors, chooseWindows, windowDegree } from './windows.ts';
import { checkColumns, extremeFeatures } from '../../models/refusals.ts';
import { finishRefusal } from './refusal.ts';
import type { VflConfig } from './config.ts';
import { accept, envelope, gradientDivisor, timed, type Profile } from './common.ts';
import { hessianBasis, HessianRight } from './hessian.ts';

/** Most encryptions of zero one request asks for (the arbiter's limit). */
const MAX_ZERO_REQUEST = 4096;

type Stage = 'keys' | 'round' | 'residual' | 'update' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  // The arbiter's keys and the guest's padded sample may arrive in either order; encryptions of
  // zero from the arbiter whenever they are ready.
  keys: ['HeSetup', 'GuestPaddedSample', 'Zeros'],
  round: ['RoundStart', 'Finished', 'Zeros'],
  // The guest's padded Hessian side follows its residual in the Hessian's round.
  residual: ['Residual', 'GuestHessianPadded', 'Zeros'],
  update: ['Update', 'Finished', 'GuestHessianPadded', 'Zeros'],
  done: ['Zeros'],
};

export class VflHost implements Party {
  readonly name = 'host';
  stage: Stage = 'keys';
  round = 0;
  readonly weights: Float64Array;
  converged = false;
  iterations = 0;
  /** Seconds per kind of work (benchmark profile). */
  readonly profile: Profile = {};
  private ev: Evaluation | undefined;
  private packed: PackedColumns | undefined;
  private readonly rows: number;
  private initDone = false;
  private cross: CrossGramRight | undefined;
  /** Encryptions of zero from the arbiter, for the next basis. */
  private pool: ZeroPool | undefined;
  /** This party's triple seed from HeSetup (the Hessian's pads are derived from it). */
  private tripleSeed: Uint8Array | undefined;
  /** The host's side of this round's Hessian, until the guest's padded side arrives. */
  private hessian: HessianRight | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly x: readonly Float64Array[],
    private readonly config: VflConfig,
    /** This party's secret randomness (flooding what it re-randomises); the OS generator by default. */
    private readonly rng: Rng = cryptoRng,
    /** Feature names, for refusals only (they never leave this party). */
    private readonly names?: readonly string[],
  ) {
    this.rows = x[0]?.length ?? 0;
    checkColumns(x, names, 'the host');
    this.weights = new Float64Array(x.length);
  }

  /** The arbiter's public and Galois keys, after HeSetup (the scorecard stage encrypts under them too). */
  get arbiterKeys(): Evaluation | undefined {
    return this.ev;
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS, env.type === 'Zeros' ? env.round : this.stage === 'keys' ? 0 : this.round);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HeSetup':
        return this.onSetup(b.publicKey, b.galoisKeys, b.tripleSeed);
      case 'Zeros':
        if (!this.pool) throw new IndomainError('VFL_WRONG_STAGE', 'encryptions of zero before the keys');
        if (this.stage !== 'done') this.pool.supply(b.zeros as Uint8Array[]);
        return [];
      case 'GuestPaddedSample':
        return this.onGuestSample(b.padded, b.maskSeed);
      case 'RoundStart':
        return this.onRound(b.sigmoidTolerance, b.hessian);
      case 'GuestHessianPadded':
        return this.onGuestHessian(b);
      case 'Residual':
        return this.onResidual(b.chunks as Uint8Array[]);
      case 'Update': {
        const step = b.step as Float64Array;
        if (step.length !== this.weights.length) throw new IndomainError('VFL_BAD_MESSAGE', `step has ${step.length} values, host has ${this.weights.length} weights`, { field: 'step' });
        for (let j = 0; j < step.length; j++) this.weights[j] += step[j]!;
        this.round++;
        this.stage = 'round';
        return [];
      }
      case 'Finished': {
        this.converged = b.converged;
        this.iterations = b.iterations;
        this.stage = 'done';
        this.packed?.release();
        this.pool?.release();
        // A run that did not converge is refused here, naming this party's features (refusal.ts).
        const refusal = finishRefusal({ converged: b.converged, iterations: b.iterations }, this.x, this.weights, this.names, this.config.refuseUnconverged);
        if (refusal) throw refusal;
        return [];
      }
    }
    return [];
  }

  /** Idle time: the diagonals of the first product, then loading the arbiter's zeros. */
  background(): boolean {
    if (!this.packed || !this.pool || this.stage === 'done') return false;
    return timed(this.profile, 'background (diagonals, zeros)', () => this.packed!.prepareStep() || this.pool!.loadStep());
  }

  private sampleRows(): number {
    return Math.min(this.rows, this.config.hessianSampleRows);
  }

  private onSetup(publicKey: Uint8Array, galoisKeys: Uint8Array, tripleSeed: Uint8Array): Envelope[] {
    if (this.ev) throw new IndomainError('VFL_WRONG_STAGE', 'a second HeSetup');
    this.ev = importPublicKeys(this.ckks, publicKey, galoisKeys);
    this.tripleSeed = tripleSeed;
    this.packed = new PackedColumns(this.ev, this.x, gradientDivisor(this.rows), this.ckks.operandScale);
    this.pool = new ZeroPool(this.ev);
    if (this.initDone) this.stage = 'round';
    // Round 0's weights are zero, so its one window is the narrowest and its degree known now.
    const degree = windowDegree(this.config.minHalfWidth, { ...this.config, sigmoidTolerance: this.config.sigmoidToleranceStart });
    return [
      envelope(this.config.job, 'HostPaddedSample', 0, this.name, 'guest', { padded: this.crossSide().padded(tripleSeed) }),
      envelope(this.config.job, 'ZeroRequest', 0, this.name, 'arbiter', { count: degree * this.packed.chunks }),
    ];
  }

  private crossSide(): CrossGramRight {
    return (this.cross ??= new CrossGramRight(this.x, this.sampleRows()));
  }

  /** Own sample Gram and this party's share of the cross Gram (protocols/mpc). */
  private onGuestSample(padded: Uint8Array, maskSeed: Uint8Array): Envelope[] {
    if (this.initDone) throw new IndomainError('VFL_WRONG_STAGE', 'a second GuestPaddedSample');
    this.initDone = true;
    const m = this.sampleRows();
    const sample = this.x.map((c) => c.subarray(0, m));
    const cross = this.crossSide();
    const crossShare = cross.share(padded, maskSeed);
    if (this.ev) this.stage = 'round';
    return [
      envelope(this.config.job, 'HostInit', 0, this.name, 'arbiter', { rows: this.rows, sampleRows: m, gram: crossGram(sample, sample), crossShare, crossBits: cross.q.bits }),
    ];
  }

  private onRound(sigmoidTolerance: number, hessian: boolean): Envelope[] {
    if (!(sigmoidTolerance >= this.config.sigmoidTolerance && sigmoidTolerance <= this.config.sigmoidToleranceStart)) {
      throw new IndomainError('VFL_BAD_MESSAGE', 'sigmoid tolerance outside the configured range', { field: 'sigmoidTolerance' });
    }
    const u = linearPredictor(this.x, this.weights, this.rows);
    const t0 = performance.now();
    const windows = chooseWindows(u, { ...this.config, sigmoidTolerance }, () => extremeFeatures(this.x, this.weights, this.names).join(', '));
    const which = assignWindows(u, windows);
    this.profile['windows'] = (this.profile['windows'] ?? 0) + (performance.now() - t0) / 1000;
    const basis: Uint8Array[][] = [];
    const tau = new Float64Array(this.rows);
    windows.forEach((w, j) => {
      // Rows outside window j get 0 in every vector of it: the indicator is applied before
      // encryption, so the guest's evaluation stays one plaintext multiplication deep.
      for (let i = 0; i < this.rows; i++) tau[i] = which[i] === j ? Math.max(-1, Math.min(1, (u[i]! - w.centre) / w.halfWidth)) : 0;
      const t = chebyshevBasis(tau, w.degree);
      for (const tk of t) {
        for (let i = 0; i < this.rows; i++) if (which[i] !== j) tk[i] = 0;
        basis.push(timed(this.profile, 'encrypt basis', () => encryptChunks(this.ev!, tk, this.ckks.scale, this.pool)));
      }
      if (j < windows.length - 1) {
        const indicator = new Float64Array(this.rows);
        for (let i = 0; i < this.rows; i++) indicator[i] = which[i] === j ? 1 : 0;
        basis.push(timed(this.profile, 'encrypt basis', () => encryptChunks(this.ev!, indicator, this.ckks.scale, this.pool)));
      }
    });
    this.stage = 'residual';
    const out = [
      envelope(this.config.job, 'HostBasis', this.round, this.name, 'guest', {
        sigmoidTolerance,
        hessian,
        centres: windows.map((w) => w.centre),
        halfWidths: windows.map((w) => w.halfWidth),
        basis,
      }),
    ];
    if (hessian) {
      this.hessian = timed(this.profile, 'hessian', () => new HessianRight(this.x, hessianBasis(u, which, windows, this.sampleRows(), this.config), this.sampleRows(), this.tripleSeed!, this.round, this.config.hessianBudgetWords));
      out.push(envelope(this.config.job, 'HostHessianPadded', this.round, this.name, 'guest', timed(this.profile, 'hessian', () => this.hessian!.padded())));
    }
    // Zeros for the next round, expecting as many vectors (a shortfall falls back to the public key).
    const wanted = Math.min(MAX_ZERO_REQUEST, basisVectors(windows) * this.packed!.chunks - this.pool!.size);
    if (wanted > 0) out.push(envelope(this.config.job, 'ZeroRequest', this.round, this.name, 'arbiter', { count: wanted }));
    return out;
  }

  /** The guest's padded side arrived: this party's shares of the Hessian blocks, for the arbiter. */
  private onGuestHessian(padded: Record<string, Uint8Array>): Envelope[] {
    const h = this.hessian;
    if (!h) throw new IndomainError('VFL_WRONG_STAGE', 'a padded Hessian side in a round without a Hessian');
    this.hessian = undefined;
    const s = timed(this.profile, 'hessian', () => h.shares(padded));
    return [envelope(this.config.job, 'HostHessianShare', this.round, this.name, 'arbiter', { rows: h.rows, ...s })];
  }

  private onResidual(chunks: Uint8Array[]): Envelope[] {
    const residual = timed(this.profile, 'deserialise', () => chunks.map((c) => deserialize(this.ckks, c)));
    const gradient = timed(this.profile, 'gradient product', () => this.packed!.transposeTimes(residual));
    for (const ct of residual) ct.delete();
    const penalty = new Float64Array(this.weights.length);
    const divisor = gradientDivisor(this.rows);
    for (let j = 0; j < penalty.length; j++) penalty[j] = this.config.lambda * this.weights[j]! * divisor;
    const pp = encode(this.ckks, penalty, gradient.scale, gradient);
    this.ckks.evaluator.addPlain(gradient, pp, gradient);
    pp.delete();
    // Computed from the guest's residual (itself from the arbiter's zeros): re-randomised before
    // it goes to the arbiter, flooded at the arbiter's own release margin over the product's noise.
    timed(this.profile, 're-randomise', () => rerandomize(this.ev!, gradient, productNoise(this.ckks, this.packed!.chunks) * 2 ** this.config.floodMarginBits, this.rng, this.packed!.width));
    const g = timed(this.profile, 'serialise', () => serialize(this.ckks, gradient));
    gradient.delete();
    this.stage = 'update';
    return [envelope(this.config.job, 'HostGradient', this.round, this.name, 'arbiter', { gradient: g })];
  }
}
