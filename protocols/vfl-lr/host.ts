/**
 * The host (feature holder, the platform) in `vfl-lr`. Holds its features and weights (no
 * intercept). Receives only one-time-padded values, its own steps and the round's metadata; sends
 * its windowed Chebyshev basis under a pad and its shares of the round's products (shares.ts).
 */
import { crossGram, linearPredictor } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { performance } from 'node:perf_hooks';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { importPublicKeys, type Ckks, type Evaluation } from '../he/ckks.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { CrossGramRight, deriveSeed } from '../mpc/cross-gram.ts';
import { add, encodeFixed, fromBytes, matVecInto, RESIDUES, rowDot, sub, toBytes, uniform } from '../mpc/rns.ts';
import { chebyshevBasis } from './chebyshev.ts';
import { assignWindows, basisVectors, chooseWindows, type SigmoidWindow } from './windows.ts';
import { checkColumns, extremeFeatures } from '../../models/refusals.ts';
import { finishRefusal } from './refusal.ts';
import { sharedRoundConfig, type VflConfig } from './config.ts';
import { accept, envelope, timed, type Profile } from './common.ts';
import { hessianBasis, HessianRight } from './hessian.ts';
import { BASIS_BITS, ColumnPads, columnBits, pad, padColumns, partCount, partRange, PeerColumns, ringSeed, stackBlocks } from './shares.ts';

/** HostBasis parts sent ahead of the residual parts that came back (the guest works on one while the host builds the next). */
const BASIS_AHEAD = 2;

/** The round's basis, sent a part at a time, and the host's shares summed as the parts return. */
interface RoundBasis {
  readonly sigmoidTolerance: number;
  readonly hessian: boolean;
  readonly windows: readonly SigmoidWindow[];
  readonly vectors: number;
  readonly which: Uint8Array;
  readonly u: Float64Array;
  /** Basis parts sent; residual parts done. */
  sent: number;
  done: number;
  /** The pads B′ of the parts sent, until their residual part comes back. */
  readonly basisPads: Map<number, Int32Array>;
  /** The guest's Residual parts and the arbiter's corrections, by part, until used. */
  readonly residuals: Map<number, { coefficients: Uint8Array; share: Uint8Array }>;
  readonly corrections: Map<number, Uint8Array>;
  /** Shares of Q_Gᵀr (once the guest's column count is known) and Q_Hᵀr (residues). */
  guestSum?: Int32Array;
  readonly hostSum: Int32Array;
  /** Work left for flush (after the messages it does not feed have gone out). */
  readonly todo: (() => Envelope[] | void)[];
}

type Stage = 'keys' | 'round' | 'residual' | 'update' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  // The arbiter's keys and the guest's padded sample may arrive in either order; the guest's
  // padded columns from its HeSetup on, in parts, whenever they come.
  keys: ['HeSetup', 'GuestPaddedSample', 'GuestColumns'],
  round: ['RoundStart', 'Finished', 'GuestColumns'],
  // The guest's padded Hessian side follows its residual in the Hessian's round; the arbiter's
  // corrections and the guest's residual parts in any order.
  residual: ['Residual', 'BeaverCorrection', 'GuestHessianPadded', 'GuestColumns'],
  update: ['Update', 'Finished', 'GuestHessianPadded'],
  done: [],
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
  private readonly rows: number;
  private readonly parts: number;
  private initDone = false;
  private cross: CrossGramRight | undefined;
  /** This party's triple seed from HeSetup (the Hessian's pads are derived from it) and its ring seed. */
  private tripleSeed: Uint8Array | undefined;
  private seed: Uint8Array | undefined;
  private columnPads: ColumnPads | undefined;
  /** The seed of the gradient masks, shared with the guest (from its GuestPaddedSample). */
  private gradientSeed: Uint8Array | undefined;
  /** Fixed-point bits of this party's columns, and the columns themselves per part (residues). */
  private readonly bits: number;
  private own: Int32Array[] = [];
  /** The guest's padded columns per part, and its column count (intercept included). */
  private readonly guestColumns: PeerColumns;
  /** The host's side of this round's Hessian, until the guest's padded side arrives; whether the run's one Hessian was asked. */
  private hessian: HessianRight | undefined;
  private hessianAsked = false;
  /** This round's basis and shares, while its parts are exchanged. */
  private basis: RoundBasis | undefined;
  /** The configuration with vfl-lr's own final sigmoid tolerance (config.ts sharedRoundConfig). */
  private readonly config: VflConfig;

  constructor(
    private readonly ckks: Ckks,
    private readonly x: readonly Float64Array[],
    config: VflConfig,
    /** Unused since the round products moved to shared arithmetic; kept for the callers' signature. */
    _rng: Rng = cryptoRng,
    /** Feature names, for refusals only (they never leave this party). */
    private readonly names?: readonly string[],
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/residual-shares.test.ts): false sends the host's
     * residual share without its pad β, to show what the pad prevents.
     */
    private readonly maskShare = true,
  ) {
    this.config = sharedRoundConfig(config);
    this.rows = x[0]?.length ?? 0;
    checkColumns(x, names, 'the host');
    this.weights = new Float64Array(x.length);
    this.bits = columnBits(x, this.rows);
    this.parts = partCount(this.rows, config.partRows);
    this.guestColumns = new PeerColumns(this.rows, this.config.partRows, 'guest');
  }

  /** The arbiter's public and Galois keys, after HeSetup (the scorecard stage encrypts under them). */
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
    accept(env, this.config.job, this.stage, EXPECTS, this.stage === 'keys' ? 0 : this.round);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HeSetup':
        return this.onSetup(b.publicKey, b.galoisKeys, b.tripleSeed);
      case 'GuestPaddedSample':
        return this.onGuestSample(b.padded, b.maskSeed);
      case 'GuestColumns':
        this.guestColumns.add(b.chunk, b.columns);
        return this.ready();
      case 'RoundStart':
        return this.onRound(b.sigmoidTolerance, b.hessian);
      case 'GuestHessianPadded':
        return this.onGuestHessian(b);
      case 'Residual': {
        // A part is answered once: a second answer under the same pads B′, β would give the guest
        // Σ (E − E′)·B′, hence the basis (tests/attacks/residual-twice.test.ts). Only a part whose
        // basis has gone out can be answered.
        const r = this.inRound(b.chunk, 'Residual');
        if (r.residuals.has(b.chunk) || b.chunk < r.done || b.chunk >= r.sent) throw new IndomainError('VFL_BAD_MESSAGE', `residual part ${b.chunk} (answered ${r.done}, sent ${r.sent})`, { field: 'chunk' });
        r.residuals.set(b.chunk, { coefficients: b.coefficients, share: b.share });
        return this.ready();
      }
      case 'BeaverCorrection': {
        const r = this.inRound(b.chunk, 'BeaverCorrection');
        if (r.corrections.has(b.chunk) || b.chunk < r.done) throw new IndomainError('VFL_BAD_MESSAGE', `a second correction part ${b.chunk}`, { field: 'chunk' });
        r.corrections.set(b.chunk, b.correction);
        return this.ready();
      }
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
        this.basis = undefined;
        // A run that did not converge is refused here, naming this party's features (refusal.ts).
        const refusal = finishRefusal({ converged: b.converged, iterations: b.iterations }, this.x, this.weights, this.names, this.config.refuseUnconverged);
        if (refusal) throw refusal;
        return [];
      }
    }
    return [];
  }

  private sampleRows(): number {
    return Math.min(this.rows, this.config.hessianSampleRows);
  }

  private onSetup(publicKey: Uint8Array, galoisKeys: Uint8Array, tripleSeed: Uint8Array): Envelope[] {
    if (this.tripleSeed) throw new IndomainError('VFL_WRONG_STAGE', 'a second HeSetup');
    // Empty keys: a pipeline without a scorecard stage (the arbiter made none).
    if (publicKey.length > 0) this.ev = importPublicKeys(this.ckks, publicKey, galoisKeys);
    this.tripleSeed = tripleSeed;
    const seed = (this.seed = ringSeed(tripleSeed));
    const pads = (this.columnPads = new ColumnPads(seed));
    if (this.initDone) this.stage = 'round';
    const out = [envelope(this.config.job, 'HostPaddedSample', 0, this.name, 'guest', { padded: this.crossSide().padded(tripleSeed) })];
    // The columns once, padded, for the guest's side of every round's cross product.
    const { own, padded } = timed(this.profile, 'columns', () => padColumns(this.x, this.rows, this.config.partRows, this.bits, pads, 'host column'));
    this.own = own;
    padded.forEach((p, c) => out.push(envelope(this.config.job, 'HostColumns', 0, this.name, 'guest', { chunk: c, columns: toBytes(p) })));
    return out;
  }

  private crossSide(): CrossGramRight {
    return (this.cross ??= new CrossGramRight(this.x, this.sampleRows()));
  }

  /** Own sample Gram and this party's share of the cross Gram (protocols/mpc). */
  private onGuestSample(padded: Uint8Array, maskSeed: Uint8Array): Envelope[] {
    if (this.initDone) throw new IndomainError('VFL_WRONG_STAGE', 'a second GuestPaddedSample');
    this.initDone = true;
    this.gradientSeed = deriveSeed(maskSeed, 'indomain/vfl-lr/gradient-mask');
    const m = this.sampleRows();
    const sample = this.x.map((c) => c.subarray(0, m));
    const cross = this.crossSide();
    const crossShare = cross.share(padded, maskSeed);
    if (this.tripleSeed) this.stage = 'round';
    return [
      envelope(this.config.job, 'HostInit', 0, this.name, 'arbiter', { rows: this.rows, sampleRows: m, gram: crossGram(sample, sample), crossShare, crossBits: cross.q.bits, ringBits: this.bits }),
    ];
  }

  /** The round's part `chunk`, checked. */
  private inRound(chunk: number, what: string): RoundBasis {
    const r = this.basis;
    if (!r) throw new IndomainError('VFL_WRONG_STAGE', `${what} in a round without a basis`);
    if (!(Number.isInteger(chunk) && chunk >= 0 && chunk < this.parts)) throw new IndomainError('VFL_BAD_MESSAGE', `${what} part ${chunk} (of ${this.parts})`, { field: 'chunk' });
    return r;
  }

  private onRound(sigmoidTolerance: number, hessian: boolean): Envelope[] {
    if (!(sigmoidTolerance >= this.config.sigmoidTolerance && sigmoidTolerance <= this.config.sigmoidToleranceStart)) {
      throw new IndomainError('VFL_BAD_MESSAGE', 'sigmoid tolerance outside the configured range', { field: 'sigmoidTolerance' });
    }
    // One weighted Hessian per run, as RoundStart declares: asked again, at a point of its
    // choosing, it would give the arbiter XᵀWX at every step (tests/attacks/second-hessian.test.ts).
    if (hessian && this.hessianAsked) throw new IndomainError('VFL_BAD_MESSAGE', 'a second weighted Hessian in one run', { field: 'hessian' });
    if (hessian) this.hessianAsked = true;
    const u = linearPredictor(this.x, this.weights, this.rows);
    const t0 = performance.now();
    const windows = chooseWindows(u, { ...this.config, sigmoidTolerance }, () => extremeFeatures(this.x, this.weights, this.names).join(', '));
    const which = assignWindows(u, windows);
    this.profile['windows'] = (this.profile['windows'] ?? 0) + (performance.now() - t0) / 1000;
    const vectors = basisVectors(windows);
    this.basis = {
      sigmoidTolerance,
      hessian,
      windows,
      vectors,
      which,
      u,
      sent: 0,
      done: 0,
      basisPads: new Map(),
      residuals: new Map(),
      corrections: new Map(),
      hostSum: new Int32Array(RESIDUES * this.x.length),
      todo: [],
    };
    this.stage = 'residual';
    // The basis size at once, so the arbiter deals the round's triples while the first parts are built (flush).
    const out: Envelope[] = [envelope(this.config.job, 'BasisSize', this.round, this.name, 'arbiter', { vectors })];
    for (let c = 0; c < Math.min(BASIS_AHEAD, this.parts); c++) this.basis.todo.push(() => [this.basisPart()]);
    // The Hessian's side after the basis has gone out, so the guest starts on it first.
    if (hessian) {
      this.basis.todo.push(() => {
        this.hessian = timed(this.profile, 'hessian', () => new HessianRight(this.x, hessianBasis(u, which, windows, this.sampleRows(), this.config), this.sampleRows(), this.tripleSeed!, this.round, this.config.hessianBudgetWords));
        return [envelope(this.config.job, 'HostHessianPadded', this.round, this.name, 'guest', timed(this.profile, 'hessian', () => this.hessian!.padded()))];
      });
    }
    return out;
  }

  /** The basis of the next part: per window j, 1_j·T_k(τ_j) for k = 1..K_j and 1_j for all windows but the last, padded. */
  private basisPart(): Envelope {
    const b = this.basis!;
    const c = b.sent++;
    const [lo, hi] = partRange(c, this.rows, this.config.partRows);
    const len = hi - lo;
    const which = b.which.subarray(lo, hi);
    const u = b.u.subarray(lo, hi);
    const padded = timed(this.profile, 'basis', () => {
      const values = new Float64Array(b.vectors * len);
      const tau = new Float64Array(len);
      let v = 0;
      b.windows.forEach((w, j) => {
        // Rows outside window j get 0 in every vector of it.
        for (let i = 0; i < len; i++) tau[i] = which[i] === j ? Math.max(-1, Math.min(1, (u[i]! - w.centre) / w.halfWidth)) : 0;
        for (const tk of chebyshevBasis(tau, w.degree)) {
          for (let i = 0; i < len; i++) values[v * len + i] = which[i] === j ? tk[i]! : 0;
          v++;
        }
        if (j < b.windows.length - 1) {
          for (let i = 0; i < len; i++) values[v * len + i] = which[i] === j ? 1 : 0;
          v++;
        }
      });
      // encodeFixed is prime-major over all vectors × rows: vector-major within each prime, as rowDot reads.
      const bPad = uniform(this.seed!, pad.basis(this.round, c), b.vectors * len);
      b.basisPads.set(c, bPad);
      return encodeFixed(values, BASIS_BITS, 'basis', bPad);
    });
    return envelope(this.config.job, 'HostBasis', this.round, this.name, 'guest', {
      sigmoidTolerance: b.sigmoidTolerance,
      hessian: b.hessian,
      centres: b.windows.map((w) => w.centre),
      halfWidths: b.windows.map((w) => w.halfWidth),
      chunk: c,
      basis: toBytes(padded),
    });
  }

  /** The guest's padded side arrived: this party's shares of the Hessian blocks, for the arbiter. */
  private onGuestHessian(padded: Record<string, Uint8Array>): Envelope[] {
    const h = this.hessian;
    if (!h) throw new IndomainError('VFL_WRONG_STAGE', 'a padded Hessian side in a round without a Hessian');
    this.hessian = undefined;
    const s = timed(this.profile, 'hessian', () => h.shares(padded));
    return [envelope(this.config.job, 'HostHessianShare', this.round, this.name, 'arbiter', { rows: h.rows, ...s })];
  }

  /**
   * Every part whose residual, correction and guest columns are in, in order: r_H = Σ_v E_v·B′_v + c_H,
   * its padded share to the guest at once, the products with it left for flush; the next basis part.
   */
  private ready(): Envelope[] {
    const b = this.basis;
    if (!b || this.stage !== 'residual') return [];
    const out: Envelope[] = [];
    for (;;) {
      const c = b.done;
      const res = b.residuals.get(c);
      const corr = b.corrections.get(c);
      const guestCols = this.guestColumns.parts[c];
      if (c >= b.sent || !res || !corr || !guestCols) break;
      b.residuals.delete(c);
      b.corrections.delete(c);
      b.done++;
      const [lo, hi] = partRange(c, this.rows, this.config.partRows);
      const len = hi - lo;
      const round = this.round;
      const { rH, fG } = timed(this.profile, 'residual share', () => {
        const e = fromBytes(res.coefficients, b.vectors * len, 'coefficients');
        const fG = fromBytes(res.share, len, 'share');
        const rH = add(rowDot(e, b.basisPads.get(c)!, b.vectors, len), fromBytes(corr, len, 'correction'));
        b.basisPads.delete(c);
        return { rH, fG };
      });
      const fH = this.maskShare ? sub(rH, uniform(this.seed!, pad.beta(round, c), len)) : rH;
      out.push(envelope(this.config.job, 'ResidualShare', round, this.name, 'guest', { chunk: c, share: toBytes(fH) }));
      b.todo.push(() =>
        timed(this.profile, 'gradient products', () => {
          // Q_Hᵀ r_H + P_Hᵀ f_G (host block), (Q_G − P_G)ᵀ r_H (guest block).
          matVecInto(b.hostSum, this.own[c]!, this.x.length, rH, len);
          matVecInto(b.hostSum, this.columnPads!.get(c, this.x.length * len), this.x.length, fG, len);
          matVecInto((b.guestSum ??= new Int32Array(RESIDUES * this.guestColumns.dim)), guestCols, this.guestColumns.dim, rH, len);
        }),
      );
      if (b.sent < this.parts) out.push(this.basisPart());
    }
    return out;
  }

  /**
   * Work left after the messages it does not feed went out, a unit at a time (the transport calls
   * flush until it returns nothing, sending each unit's messages before the next): basis parts, the
   * Hessian's side, the products of the parts answered; the gradient shares once every part is in.
   */
  flush(): Envelope[] {
    const b = this.basis;
    if (!b) return [];
    while (b.todo.length > 0) {
      const out = b.todo.shift()!() ?? [];
      if (out.length > 0) return out;
    }
    if (b.done < this.parts) return [];
    this.basis = undefined;
    this.stage = 'update';
    // [guest block; host block], as the arbiter reads it.
    const dg = this.guestColumns.dim;
    const dh = this.x.length;
    const masked = sub(stackBlocks(b.guestSum!, dg, b.hostSum, dh), uniform(this.gradientSeed!, pad.gradient(this.round), dg + dh));
    return [envelope(this.config.job, 'HostGradient', this.round, this.name, 'arbiter', { share: toBytes(masked) })];
  }
}
