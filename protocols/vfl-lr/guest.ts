/**
 * The guest (label holder, the bank) in `vfl-lr`. Holds its features, labels and weights
 * (intercept first). Receives only one-time-padded values, the host's windows, its own steps and
 * the round's metadata; sends its per-row coefficients under a pad and its shares of the round's
 * products (shares.ts).
 */
import { crossGram, linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import type { Rng } from '../../engine/rng.ts';
import { importPublicKeys, type Ckks, type Evaluation } from '../he/ckks.ts';
import { CrossGramLeft, deriveSeed } from '../mpc/cross-gram.ts';
import { add, encodeFixed, fromBytes, matVecInto, RESIDUES, rowDot, sub, toBytes, uniform } from '../mpc/rns.ts';
import { eventRate, logit } from '../../models/logistic.ts';
import { tabulatedCoefficients } from './chebyshev.ts';
import { basisVectors, windowDegree, type SigmoidWindow } from './windows.ts';
import { checkColumns } from '../../models/refusals.ts';
import { sharedRoundConfig, type VflConfig } from './config.ts';
import { accept, envelope, timed, type Profile } from './common.ts';
import { hessianCoefficients, HessianLeft } from './hessian.ts';
import { checkOwnSeparation, finishRefusal } from './refusal.ts';
import { COEF_BITS, ColumnPads, columnBits, pad, padColumns, partCount, partRange, PeerColumns, RESIDUAL_BITS, ringSeed, stackBlocks } from './shares.ts';

type Stage = 'keys' | 'basis' | 'update' | 'done';

/** The round's expansion, from its first HostBasis part, and the guest's shares summed over parts. */
interface RoundParts {
  readonly sigmoidTolerance: number;
  readonly hessian: boolean;
  readonly centres: readonly number[];
  readonly halfWidths: readonly number[];
  readonly windows: readonly SigmoidWindow[];
  readonly vectors: number;
  /** Per window, the per-sample coefficients coef_k (k = 0..K_j) over all rows. */
  readonly coefs: readonly Float64Array[][];
  /** Next basis part expected; residual shares of the host used. */
  next: number;
  shares: number;
  /** Shares of Q_Gᵀr and Q_Hᵀr (residues). */
  readonly guestSum: Int32Array;
  hostSum?: Int32Array;
  /** Work left for flush (after the messages it does not feed have gone out). */
  readonly todo: (() => Envelope[] | void)[];
}
const EXPECTS: Record<Stage, readonly string[]> = {
  // The arbiter's keys and the host's padded sample may arrive in either order; the host's padded
  // columns in parts from its HeSetup on.
  keys: ['HeSetup', 'HostPaddedSample', 'HostColumns'],
  // The round's basis arrives in parts, the host's shares after each; the host's padded Hessian
  // side may come between them.
  basis: ['HostBasis', 'ResidualShare', 'Finished', 'HostHessianPadded', 'HostColumns'],
  // The host's padded Hessian side follows its basis in the Hessian's round.
  update: ['Update', 'Finished', 'HostHessianPadded'],
  done: [],
};

export class VflGuest implements Party {
  readonly name = 'guest';
  stage: Stage = 'keys';
  round = 0;
  /** Intercept first, then one weight per feature column. */
  readonly weights: Float64Array;
  converged = false;
  iterations = 0;
  /** Seconds per kind of work (benchmark profile). */
  readonly profile: Profile = {};
  private readonly x: Float64Array[];
  private readonly rows: number;
  private readonly parts: number;
  private ev: Evaluation | undefined;
  private cross: CrossGramLeft | undefined;
  private hostPadded: Uint8Array | undefined;
  /** This round's expansion and shares, while its parts arrive. */
  private current: RoundParts | undefined;
  /** This party's triple seed from HeSetup (the Hessian's pads are derived from it) and its ring seed. */
  private tripleSeed: Uint8Array | undefined;
  private seed: Uint8Array | undefined;
  private columnPads: ColumnPads | undefined;
  /** The seed of the gradient masks, which the guest makes and sends the host (GuestPaddedSample). */
  private gradientSeed: Uint8Array | undefined;
  /** Fixed-point bits of this party's columns, and the columns per part (residues). */
  private readonly bits: number;
  private own: Int32Array[] = [];
  /** The host's padded columns per part, and its column count. */
  private readonly hostColumns: PeerColumns;
  /** The guest's side of this round's Hessian, until the host's padded side arrives; whether the run's one Hessian was asked. */
  private hessian: HessianLeft | undefined;
  private hessianAsked = false;
  /** The configuration with vfl-lr's own final sigmoid tolerance (config.ts sharedRoundConfig). */
  private readonly config: VflConfig;

  /**
   * `rng`: this party's secret randomness (the cross-Gram output mask, from which the gradient
   * masks' seed is derived); deterministic per job in a node, so that a restarted guest replays
   * the same messages.
   */
  constructor(
    private readonly ckks: Ckks,
    cols: readonly Float64Array[],
    private readonly y: Uint8Array,
    config: VflConfig,
    private readonly rng: Rng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/residual-shares.test.ts): false sends the guest's
     * residual share without its pad α, to show what the pad prevents.
     */
    private readonly maskShare = true,
    /** Feature names, for refusals only (they never leave this party). */
    private readonly names?: readonly string[],
  ) {
    this.config = sharedRoundConfig(config);
    if (cols.some((c) => c.length !== y.length)) throw new IndomainError('VFL_ROW_MISMATCH', 'guest columns and labels differ in length');
    checkColumns(cols, names, 'the guest');
    checkOwnSeparation(cols, y, names);
    this.x = [ones(y.length), ...cols];
    this.rows = y.length;
    this.weights = new Float64Array(this.x.length);
    const rate = eventRate(y);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, rate)));
    this.bits = columnBits(this.x, this.rows);
    this.parts = partCount(this.rows, config.partRows);
    this.hostColumns = new PeerColumns(this.rows, this.config.partRows, 'host');
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
      case 'HeSetup': {
        if (this.seed) throw new IndomainError('VFL_WRONG_STAGE', 'a second HeSetup');
        // Empty keys: a pipeline without a scorecard stage (the arbiter made none).
        if ((b.publicKey as Uint8Array).length > 0) this.ev = importPublicKeys(this.ckks, b.publicKey, b.galoisKeys);
        this.cross = new CrossGramLeft(this.x, this.sampleRows(), b.tripleSeed, this.rng.bytes(32));
        this.tripleSeed = b.tripleSeed;
        this.seed = ringSeed(b.tripleSeed);
        const pads = (this.columnPads = new ColumnPads(this.seed));
        const sample = this.cross.padded();
        this.gradientSeed = deriveSeed(sample.maskSeed, 'indomain/vfl-lr/gradient-mask');
        const out = [envelope(this.config.job, 'GuestPaddedSample', 0, this.name, 'host', sample)];
        // The columns once, padded, for the host's side of every round's cross product.
        const { own, padded } = timed(this.profile, 'columns', () => padColumns(this.x, this.rows, this.config.partRows, this.bits, pads, 'guest column'));
        this.own = own;
        padded.forEach((p, c) => out.push(envelope(this.config.job, 'GuestColumns', 0, this.name, 'host', { chunk: c, columns: toBytes(p) })));
        return this.hostPadded ? [...out, this.init()] : out;
      }
      case 'HostPaddedSample':
        if (this.hostPadded) throw new IndomainError('VFL_WRONG_STAGE', 'a second HostPaddedSample');
        this.hostPadded = b.padded;
        return this.cross ? [this.init()] : [];
      case 'HostColumns':
        this.hostColumns.add(b.chunk, b.columns);
        return [];
      case 'HostBasis':
        return timed(this.profile, 'residual (coefficients, shares)', () => this.onBasis(b.sigmoidTolerance, b.hessian, b.centres, b.halfWidths, b.chunk, b.basis));
      case 'ResidualShare':
        return this.onShare(b.chunk, b.share);
      case 'HostHessianPadded': {
        const h = this.hessian;
        if (!h) throw new IndomainError('VFL_WRONG_STAGE', 'a padded Hessian side in a round without a Hessian');
        this.hessian = undefined;
        const s = timed(this.profile, 'hessian', () => h.shares(b));
        return [envelope(this.config.job, 'GuestHessianShare', this.round, this.name, 'arbiter', { rows: h.rows, ...s })];
      }
      case 'Update': {
        const step = b.step as Float64Array;
        if (step.length !== this.weights.length) throw new IndomainError('VFL_BAD_MESSAGE', `step has ${step.length} values, guest has ${this.weights.length} weights`, { field: 'step' });
        for (let j = 0; j < step.length; j++) this.weights[j] += step[j]!;
        this.round++;
        this.stage = 'basis';
        return [];
      }
      case 'Finished': {
        this.converged = b.converged;
        this.iterations = b.iterations;
        this.stage = 'done';
        this.current = undefined;
        // A run that did not converge is refused here, naming this party's features (refusal.ts).
        const refusal = finishRefusal({ converged: b.converged, iterations: b.iterations }, this.x.slice(1), this.weights.subarray(1), this.names, this.config.refuseUnconverged);
        if (refusal) throw refusal;
        return [];
      }
    }
    return [];
  }

  private sampleRows(): number {
    return Math.min(this.rows, this.config.hessianSampleRows);
  }

  /** Own sample Gram and event rate, and this party's share of the cross Gram (protocols/mpc). */
  private init(): Envelope {
    const m = this.sampleRows();
    const sample = this.x.map((c) => c.subarray(0, m));
    const crossShare = this.cross!.share(this.hostPadded!);
    this.stage = 'basis';
    return envelope(this.config.job, 'GuestInit', 0, this.name, 'arbiter', {
      rows: this.rows,
      sampleRows: m,
      eventRate: eventRate(this.y),
      gram: crossGram(sample, sample),
      crossShare,
      crossBits: this.cross!.q.bits,
      ringBits: this.bits,
    });
  }

  /**
   * One part of the round: the per-row coefficients C of σ(u_G + c_j + R_j τ) − y in every window,
   * padded (E = C − A) for the host, and this party's share of the residual,
   * r_G = Σ_v C_v·F_v + c_G + (coef_{J,0} − y)·2^52, padded by α for the host. The first part of a
   * round fixes its windows and computes every window's coefficients; later parts must carry the same.
   */
  private onBasis(sigmoidTolerance: number, hessian: boolean, centres: number[], halfWidths: number[], chunk: number, basisBytes: Uint8Array): Envelope[] {
    let a: Float64Array | undefined;
    if (!this.current) {
      if (!(sigmoidTolerance >= this.config.sigmoidTolerance && sigmoidTolerance <= this.config.sigmoidToleranceStart)) {
        throw new IndomainError('VFL_BAD_MESSAGE', 'sigmoid tolerance outside the configured range', { field: 'sigmoidTolerance' });
      }
      // One weighted Hessian per run (as the host checks the arbiter's RoundStart).
      if (hessian && this.hessianAsked) throw new IndomainError('VFL_BAD_MESSAGE', 'a second weighted Hessian in one run', { field: 'hessian' });
      if (hessian) this.hessianAsked = true;
      const windows = this.checkWindows(centres, halfWidths, sigmoidTolerance);
      const n = this.rows;
      const logit = (a = linearPredictor(this.x, this.weights, n));
      const shifted = (c: number) => {
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) out[i] = logit[i]! + c;
        return out;
      };
      // Each window's per-sample coefficients, once a round (the last window's constant term is used by all).
      const coefs = windows.map((w) => tabulatedCoefficients(shifted(w.centre), w.halfWidth, w.degree));
      this.current = { sigmoidTolerance, hessian, centres, halfWidths, windows, vectors: basisVectors(windows), coefs, next: 0, shares: 0, guestSum: new Int32Array(RESIDUES * this.x.length), todo: [] };
    } else {
      const p = this.current;
      const same = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
      if (p.sigmoidTolerance !== sigmoidTolerance || p.hessian !== hessian || !same(p.centres, centres) || !same(p.halfWidths, halfWidths)) {
        throw new IndomainError('VFL_BAD_MESSAGE', "the parts of one round's basis disagree on its windows or tolerance", { field: 'centres' });
      }
    }
    const p = this.current;
    if (chunk !== p.next || chunk >= this.parts) throw new IndomainError('VFL_BAD_MESSAGE', `basis part ${chunk}; expected ${p.next} of ${this.parts}`, { field: 'chunk' });
    const hostCols = this.hostColumns.parts[chunk];
    if (!hostCols) throw new IndomainError('VFL_WRONG_STAGE', `basis part ${chunk} before the host's columns of those rows`);
    p.next++;
    const [lo, hi] = partRange(chunk, this.rows, this.config.partRows);
    const len = hi - lo;
    const f = fromBytes(basisBytes, p.vectors * len, 'basis');
    const lastConstant = p.coefs[p.coefs.length - 1]![0]!;
    const values = new Float64Array(p.vectors * len);
    let v = 0;
    p.windows.forEach((w, j) => {
      const coef = p.coefs[j]!;
      for (let k = 1; k <= w.degree; k++, v++) values.set(coef[k]!.subarray(lo, hi), v * len);
      if (j < p.windows.length - 1) {
        // The indicator of window j carries its constant term relative to the last window's.
        for (let i = 0; i < len; i++) values[v * len + i] = coef[0]![lo + i]! - lastConstant[lo + i]!;
        v++;
      }
    });
    const c = encodeFixed(values, COEF_BITS, 'coefficients');
    const round = this.round;
    const e = sub(c, uniform(this.seed!, pad.coef(round, chunk), p.vectors * len));
    const constant = new Float64Array(len);
    for (let i = 0; i < len; i++) constant[i] = lastConstant[lo + i]! - this.y[lo + i]!;
    const rG = add(add(rowDot(c, f, p.vectors, len), uniform(this.seed!, pad.cg(round, chunk), len)), encodeFixed(constant, RESIDUAL_BITS, 'residual'));
    const fG = this.maskShare ? sub(rG, uniform(this.seed!, pad.alpha(round, chunk), len)) : rG;
    p.todo.push(() =>
      timed(this.profile, 'gradient products', () => {
        // Q_Gᵀ r_G (guest block), (Q_H − P_H)ᵀ r_G (host block).
        matVecInto(p.guestSum, this.own[chunk]!, this.x.length, rG, len);
        matVecInto((p.hostSum ??= new Int32Array(RESIDUES * this.hostColumns.dim)), hostCols, this.hostColumns.dim, rG, len);
      }),
    );
    // The Hessian's side after the residual has gone out (flush), so the host starts on it first.
    if (a && hessian) {
      const logits = a;
      p.todo.push(() => [timed(this.profile, 'hessian', () => this.hessianSide(p.windows, logits))]);
    }
    return [envelope(this.config.job, 'Residual', round, this.name, 'host', { chunk, coefficients: toBytes(e), share: toBytes(fG) })];
  }

  /** The host's padded share of part `chunk`: P_Gᵀ f_H into the guest block (in flush). */
  private onShare(chunk: number, bytes: Uint8Array): Envelope[] {
    const p = this.current;
    if (!p || chunk !== p.shares || chunk >= p.next) throw new IndomainError('VFL_BAD_MESSAGE', `residual share part ${chunk}; expected ${p?.shares ?? 0}`, { field: 'chunk' });
    p.shares++;
    const [lo, hi] = partRange(chunk, this.rows, this.config.partRows);
    const len = hi - lo;
    const fH = fromBytes(bytes, len, 'share');
    p.todo.push(() => timed(this.profile, 'gradient products', () => matVecInto(p.guestSum, this.columnPads!.get(chunk, this.x.length * len), this.x.length, fH, len)));
    return [];
  }

  /**
   * This party's side of the weighted Hessian (protocols/vfl-lr/hessian.ts): per-sample
   * coefficients of σ′ on the sample rows, one per host basis vector in HostBasis order (the
   * constant first), as the residual's coefficients of σ.
   */
  private hessianSide(windows: readonly SigmoidWindow[], a: Float64Array): Envelope {
    const m = this.sampleRows();
    const vectors = hessianCoefficients(a, windows, m, this.config);
    this.hessian = new HessianLeft(this.x, vectors, m, this.tripleSeed!, this.round, this.config.hessianBudgetWords, this.rng.bytes(32));
    return envelope(this.config.job, 'GuestHessianPadded', this.round, this.name, 'host', this.hessian.padded());
  }

  /** The host's windows, checked: 1..maxWindows of them, increasing, each at least minHalfWidth wide. */
  private checkWindows(centres: number[], halfWidths: number[], sigmoidTolerance: number): SigmoidWindow[] {
    const bad = (why: string): never => {
      throw new IndomainError('VFL_BAD_MESSAGE', why, { field: 'centres' });
    };
    if (centres.length < 1 || centres.length > this.config.maxWindows || halfWidths.length !== centres.length) bad(`${centres.length} windows (1..${this.config.maxWindows}, one half-width each)`);
    return centres.map((c, j) => {
      const r = halfWidths[j]!;
      if (!(r >= this.config.minHalfWidth) || !Number.isFinite(r) || !Number.isFinite(c) || r > 1024) bad(`window ${j}: half-width out of range`);
      if (j > 0 && !(c > centres[j - 1]!)) bad(`window ${j}: centres must increase`);
      return { centre: c, halfWidth: r, degree: windowDegree(r, { ...this.config, sigmoidTolerance }) };
    });
  }

  /**
   * Work left after the messages it does not feed went out, a unit at a time (the transport calls
   * flush until it returns nothing): the products of the parts handled, the Hessian's side; the
   * gradient shares once every part is in.
   */
  flush(): Envelope[] {
    const p = this.current;
    if (!p) return [];
    while (p.todo.length > 0) {
      const out = p.todo.shift()!() ?? [];
      if (out.length > 0) return out;
    }
    if (p.shares < this.parts) return [];
    this.current = undefined;
    this.stage = 'update';
    // [guest block; host block], as the arbiter reads it.
    const dg = this.x.length;
    const dh = this.hostColumns.dim;
    const masked = add(stackBlocks(p.guestSum, dg, p.hostSum!, dh), uniform(this.gradientSeed!, pad.gradient(this.round), dg + dh));
    return [envelope(this.config.job, 'GuestGradient', this.round, this.name, 'arbiter', { share: toBytes(masked) })];
  }
}
