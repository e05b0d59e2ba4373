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
import { deserialize, encode, encryptChunks, importPublicKeys, productNoise, rerandomize, serialize, ZeroPool, type CipherText, type Ckks, type Evaluation } from '../he/ckks.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { CrossGramRight } from '../mpc/cross-gram.ts';
import { PackedColumns, type ProductSum } from '../he/packing.ts';
import { chebyshevBasis } from './chebyshev.ts';
import { assignWindows, basisVectors, chooseWindows, windowDegree, type SigmoidWindow } from './windows.ts';
import { checkColumns, extremeFeatures } from '../../models/refusals.ts';
import { finishRefusal } from './refusal.ts';
import type { VflConfig } from './config.ts';
import { accept, envelope, gradientDivisor, timed, type Profile } from './common.ts';
import { hessianBasis, HessianRight } from './hessian.ts';

/** Most encryptions of zero one request asks for (the arbiter's limit). */
const MAX_ZERO_REQUEST = 4096;
/**
 * HostBasis parts (one chunk of rows each) sent ahead of the residual parts that came back: the
 * guest works on one while the host encrypts the next, and neither holds a whole round's basis.
 */
const BASIS_AHEAD = 2;
/** Most arbiter zeros loaded onto the WebAssembly heap ahead of use (256 × 256 KiB). */
const LOADED_ZEROS = 256;

/** The round's basis, sent a chunk at a time, and the host's product summed as residuals return. */
interface RoundBasis {
  readonly sigmoidTolerance: number;
  readonly hessian: boolean;
  readonly windows: readonly SigmoidWindow[];
  readonly which: Uint8Array;
  readonly u: Float64Array;
  /** Basis chunks sent, residual chunks received. */
  sent: number;
  received: number;
  readonly sum: ProductSum;
  /** Residual chunks received, not yet in the product (flush adds them). */
  pending?: { chunk: number; cts: CipherText[] };
}

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
  /** This round's basis and product, while its parts are exchanged. */
  private basis: RoundBasis | undefined;

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
        return this.onResidual(b.chunk, b.chunks as Uint8Array[]);
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
        if (this.basis) this.packed?.discard(this.basis.sum);
        for (const ct of this.basis?.pending?.cts ?? []) ct.delete();
        this.basis = undefined;
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
    return timed(this.profile, 'background (diagonals, zeros)', () => this.packed!.prepareStep() || this.pool!.loadStep(LOADED_ZEROS));
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
    this.basis = { sigmoidTolerance, hessian, windows, which, u, sent: 0, received: 0, sum: this.packed!.begin() };
    this.stage = 'residual';
    const out: Envelope[] = [];
    while (this.basis.sent < Math.min(BASIS_AHEAD, this.packed!.chunks)) out.push(...this.basisPart());
    if (hessian) {
      this.hessian = timed(this.profile, 'hessian', () => new HessianRight(this.x, hessianBasis(u, which, windows, this.sampleRows(), this.config), this.sampleRows(), this.tripleSeed!, this.round, this.config.hessianBudgetWords));
      out.push(envelope(this.config.job, 'HostHessianPadded', this.round, this.name, 'guest', timed(this.profile, 'hessian', () => this.hessian!.padded())));
    }
    return out;
  }

  /**
   * The next chunk of rows of the round's basis: per window j, [[1_j·T_k(τ_j)]] for k = 1..K_j
   * and [[1_j]] for all windows but the last, each one ciphertext of this chunk's rows.
   */
  private basisPart(): Envelope[] {
    const b = this.basis!;
    const c = b.sent++;
    const slots = this.ckks.slots;
    const lo = c * slots;
    const len = Math.min(this.rows, lo + slots) - lo;
    const which = b.which.subarray(lo, lo + len);
    const u = b.u.subarray(lo, lo + len);
    const vectors: Uint8Array[][] = [];
    const tau = new Float64Array(len);
    const encrypt = (v: Float64Array) => vectors.push(timed(this.profile, 'encrypt basis', () => encryptChunks(this.ev!, v, this.ckks.scale, this.pool)));
    b.windows.forEach((w, j) => {
      // Rows outside window j get 0 in every vector of it: the indicator is applied before
      // encryption, so the guest's evaluation stays one plaintext multiplication deep.
      for (let i = 0; i < len; i++) tau[i] = which[i] === j ? Math.max(-1, Math.min(1, (u[i]! - w.centre) / w.halfWidth)) : 0;
      for (const tk of chebyshevBasis(tau, w.degree)) {
        for (let i = 0; i < len; i++) if (which[i] !== j) tk[i] = 0;
        encrypt(tk);
      }
      if (j < b.windows.length - 1) encrypt(Float64Array.from(which, (x) => (x === j ? 1 : 0)));
    });
    const out = [
      envelope(this.config.job, 'HostBasis', this.round, this.name, 'guest', {
        sigmoidTolerance: b.sigmoidTolerance,
        hessian: b.hessian,
        centres: b.windows.map((w) => w.centre),
        halfWidths: b.windows.map((w) => w.halfWidth),
        chunk: c,
        basis: vectors,
      }),
    ];
    if (b.sent === this.packed!.chunks) {
      // Zeros for the next round, expecting as many vectors (a shortfall falls back to the public key).
      const wanted = Math.min(MAX_ZERO_REQUEST, basisVectors(b.windows) * this.packed!.chunks - this.pool!.size);
      if (wanted > 0) out.push(envelope(this.config.job, 'ZeroRequest', this.round, this.name, 'arbiter', { count: wanted }));
    }
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

  /** A part of the guest's residual: the next basis part goes out first, flush adds it to the product. */
  private onResidual(chunk: number, chunks: Uint8Array[]): Envelope[] {
    const b = this.basis;
    if (!b) throw new IndomainError('VFL_WRONG_STAGE', 'a residual in a round without a basis');
    if (b.pending) throw new IndomainError('VFL_WRONG_STAGE', 'a residual part before the previous one was used');
    if (chunk !== b.received || chunks.length < 1 || chunk + chunks.length > b.sent) {
      throw new IndomainError('VFL_BAD_MESSAGE', `residual chunks ${chunk}..${chunk + chunks.length - 1}; expected from chunk ${b.received}, ${b.sent} sent`, { field: 'chunk' });
    }
    const cts = timed(this.profile, 'deserialise', () => chunks.map((c) => deserialize(this.ckks, c)));
    b.pending = { chunk, cts };
    b.received += chunks.length;
    const out: Envelope[] = [];
    while (b.sent < this.packed!.chunks && b.sent < b.received + BASIS_AHEAD) out.push(...this.basisPart());
    return out;
  }

  /** The residual part just received, into the host's product; the gradient once all are in. */
  flush(): Envelope[] {
    const b = this.basis;
    const p = b?.pending;
    if (!b || !p) return [];
    b.pending = undefined;
    timed(this.profile, 'gradient product', () => p.cts.forEach((ct, i) => this.packed!.add(b.sum, p.chunk + i, ct)));
    for (const ct of p.cts) ct.delete();
    if (b.received < this.packed!.chunks) return [];
    this.basis = undefined;
    const gradient = timed(this.profile, 'gradient product', () => this.packed!.finish(b.sum));
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
