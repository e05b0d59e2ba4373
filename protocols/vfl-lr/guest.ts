/**
 * The guest (label holder, the bank) in `vfl-lr`. Holds its features, labels and weights
 * (intercept first). Receives only ciphertexts, two host aggregates per round and its own steps.
 */
import { crossGram, linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import type { Rng } from '../../engine/rng.ts';
import { addPlainProduct, combinationNoise, deserialize, encode, encryptVector, importPublicKeys, productNoise, rerandomize, serialize, type CipherText, type Ckks, type Evaluation } from '../he/ckks.ts';
import { CrossGramLeft } from '../mpc/cross-gram.ts';
import { PackedColumns, type ProductSum } from '../he/packing.ts';
import { eventRate, logit, sigmoid } from '../../models/logistic.ts';
import { perSampleCoefficients } from './chebyshev.ts';
import { basisVectors, windowDegree, type SigmoidWindow } from './windows.ts';
import { checkColumns } from '../../models/refusals.ts';
import type { VflConfig } from './config.ts';
import { accept, envelope, gradientDivisor, timed, type Profile } from './common.ts';
import { hessianCoefficients, HessianLeft } from './hessian.ts';
import { checkOwnSeparation, finishRefusal } from './refusal.ts';

type Stage = 'keys' | 'basis' | 'update' | 'done';

/** The round's expansion, from its first HostBasis part, and the guest's product summed over parts. */
interface RoundParts {
  readonly sigmoidTolerance: number;
  readonly hessian: boolean;
  readonly centres: readonly number[];
  readonly halfWidths: readonly number[];
  readonly windows: readonly SigmoidWindow[];
  /** Per window, the per-sample coefficients coef_k (k = 0..K_j) over all rows. */
  readonly coefs: readonly Float64Array[][];
  /** Next chunk expected. */
  next: number;
  readonly sum: ProductSum;
  /** The residual part just sent, until flush adds it to the guest's own product. */
  pending?: { chunk: number; cts: CipherText[] };
}
const EXPECTS: Record<Stage, readonly string[]> = {
  // The arbiter's keys and the host's padded sample may arrive in either order.
  keys: ['HeSetup', 'HostPaddedSample'],
  // The round's basis arrives in parts; the host's padded Hessian side may come between them.
  basis: ['HostBasis', 'Finished', 'HostHessianPadded'],
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
  private ev: Evaluation | undefined;
  private packed: PackedColumns | undefined;
  private cross: CrossGramLeft | undefined;
  private hostPadded: Uint8Array | undefined;
  /** This round's expansion and product, while its parts arrive. */
  private parts: RoundParts | undefined;
  /** This party's triple seed from HeSetup (the Hessian's pads are derived from it). */
  private tripleSeed: Uint8Array | undefined;
  /** The guest's side of this round's Hessian, until the host's padded side arrives. */
  private hessian: HessianLeft | undefined;

  /**
   * `rng`: this party's secret randomness (the cross-Gram output mask); deterministic per job in
   * a node, so that a restarted guest replays the same messages.
   */
  constructor(
    private readonly ckks: Ckks,
    cols: readonly Float64Array[],
    private readonly y: Uint8Array,
    private readonly config: VflConfig,
    private readonly rng: Rng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/linear-span.test.ts): false sends the residual as
     * computed, to show the attack that re-randomisation defeats.
     */
    private readonly rerandomise = true,
    /** Feature names, for refusals only (they never leave this party). */
    private readonly names?: readonly string[],
  ) {
    if (cols.some((c) => c.length !== y.length)) throw new IndomainError('VFL_ROW_MISMATCH', 'guest columns and labels differ in length');
    checkColumns(cols, names, 'the guest');
    checkOwnSeparation(cols, y, names);
    this.x = [ones(y.length), ...cols];
    this.weights = new Float64Array(this.x.length);
    const rate = eventRate(y);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, rate)));
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
    accept(env, this.config.job, this.stage, EXPECTS, this.stage === 'keys' ? 0 : this.round);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HeSetup': {
        if (this.ev) throw new IndomainError('VFL_WRONG_STAGE', 'a second HeSetup');
        this.ev = importPublicKeys(this.ckks, b.publicKey, b.galoisKeys);
        this.packed = new PackedColumns(this.ev, this.x, gradientDivisor(this.y.length), this.ckks.operandScale);
        this.cross = new CrossGramLeft(this.x, this.sampleRows(), b.tripleSeed, this.rng.bytes(32));
        this.tripleSeed = b.tripleSeed;
        const out = [envelope(this.config.job, 'GuestPaddedSample', 0, this.name, 'host', this.cross.padded())];
        return this.hostPadded ? [...out, this.init()] : out;
      }
      case 'HostPaddedSample':
        if (this.hostPadded) throw new IndomainError('VFL_WRONG_STAGE', 'a second HostPaddedSample');
        this.hostPadded = b.padded;
        return this.cross ? [this.init()] : [];
      case 'HostBasis':
        return timed(this.profile, 'residual (coefficients, products)', () => this.onBasis(b.sigmoidTolerance, b.hessian, b.centres, b.halfWidths, b.chunk, b.basis as Uint8Array[][]));
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
        if (this.parts) this.packed?.discard(this.parts.sum);
        for (const ct of this.parts?.pending?.cts ?? []) ct.delete();
        this.parts = undefined;
        this.packed?.release();
        // A run that did not converge is refused here, naming this party's features (refusal.ts).
        const refusal = finishRefusal({ converged: b.converged, iterations: b.iterations }, this.x.slice(1), this.weights.subarray(1), this.names, this.config.refuseUnconverged);
        if (refusal) throw refusal;
        return [];
      }
    }
    return [];
  }

  private sampleRows(): number {
    return Math.min(this.y.length, this.config.hessianSampleRows);
  }

  /** Own sample Gram and event rate, and this party's share of the cross Gram (protocols/mpc). */
  private init(): Envelope {
    const m = this.sampleRows();
    const sample = this.x.map((c) => c.subarray(0, m));
    const crossShare = this.cross!.share(this.hostPadded!);
    this.stage = 'basis';
    return envelope(this.config.job, 'GuestInit', 0, this.name, 'arbiter', {
      rows: this.y.length,
      sampleRows: m,
      eventRate: eventRate(this.y),
      gram: crossGram(sample, sample),
      crossShare,
      crossBits: this.cross!.q.bits,
    });
  }

  /**
   * [[σ(z) − y]] on one part's chunks from the host's encrypted basis. The basis (scale Δ) times
   * coefficients at the operand scale Δ′ stays unrescaled at ΔΔ′; the diagonal product then
   * multiplies by Δ′ again and rescales once. The first part of a round fixes its windows and
   * computes every window's per-sample coefficients; later parts must carry the same windows.
   */
  private onBasis(sigmoidTolerance: number, hessian: boolean, centres: number[], halfWidths: number[], chunk: number, basis: Uint8Array[][]): Envelope[] {
    const { slots } = this.ckks;
    const n = this.y.length;
    const chunks = Math.ceil(n / slots);
    const first = !this.parts;
    let a: Float64Array | undefined;
    if (first) {
      if (!(sigmoidTolerance >= this.config.sigmoidTolerance && sigmoidTolerance <= this.config.sigmoidToleranceStart)) {
        throw new IndomainError('VFL_BAD_MESSAGE', 'sigmoid tolerance outside the configured range', { field: 'sigmoidTolerance' });
      }
      const windows = this.checkWindows(centres, halfWidths, sigmoidTolerance);
      const logit = (a = linearPredictor(this.x, this.weights, n));
      const shifted = (c: number) => {
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) out[i] = logit[i]! + c;
        return out;
      };
      // Each window's per-sample coefficients, once a round (the last window's constant term is used by all).
      const coefs = windows.map((w) => perSampleCoefficients(sigmoid, shifted(w.centre), w.halfWidth, w.degree));
      this.parts = { sigmoidTolerance, hessian, centres, halfWidths, windows, coefs, next: 0, sum: this.packed!.begin() };
    } else {
      const p = this.parts!;
      const same = (x: readonly number[], y: readonly number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
      if (p.sigmoidTolerance !== sigmoidTolerance || p.hessian !== hessian || !same(p.centres, centres) || !same(p.halfWidths, halfWidths)) {
        throw new IndomainError('VFL_BAD_MESSAGE', 'the parts of one round\'s basis disagree on its windows or tolerance', { field: 'centres' });
      }
    }
    const p = this.parts!;
    if (p.pending) throw new IndomainError('VFL_WRONG_STAGE', 'a basis part before the previous residual part was used');
    const vectors = basisVectors(p.windows);
    const width = basis[0]?.length ?? 0;
    if (chunk !== p.next || basis.length !== vectors || width < 1 || basis.some((b) => b.length !== width) || chunk + width > chunks) {
      throw new IndomainError('VFL_BAD_MESSAGE', `basis part must be ${vectors} vectors × the chunks from ${p.next} (of ${chunks})`, { field: 'basis' });
    }
    const residual: CipherText[] = [];
    for (let c = chunk; c < chunk + width; c++) residual.push(this.residualChunk(c, basis.map((v) => v[c - chunk]!)));
    p.next += width;
    // The residual is a combination of the host's own ciphertexts: re-randomised before it goes
    // back to the host, or the host solves for the coefficients and reads coef_0 − y (the labels).
    const sigma = combinationNoise(this.ckks) * 2 ** this.config.floodMarginBits;
    const chunksOut = residual.map((ct) => {
      if (this.rerandomise) timed(this.profile, 're-randomise', () => rerandomize(this.ev!, ct, sigma, this.rng));
      return this.rerandomise ? timed(this.profile, 'serialise', () => serialize(this.ckks, ct)) : ct.saveArray(this.ckks.seal.ComprModeType.none);
    });
    p.pending = { chunk, cts: residual };
    const out = [envelope(this.config.job, 'Residual', this.round, this.name, 'host', { chunk, chunks: chunksOut })];
    if (a && hessian) out.push(timed(this.profile, 'hessian', () => this.hessianSide(p.windows, a)));
    return out;
  }

  /** One chunk of the residual: Σ_j Σ_k coef_{j,k} ⊙ [[1_j T_k]] + Σ_{j<J} (coef_{j,0} − coef_{J,0}) ⊙ [[1_j]] + coef_{J,0} − y. */
  private residualChunk(c: number, bytes: readonly Uint8Array[]): CipherText {
    const { evaluator, slots, operandScale } = this.ckks;
    const p = this.parts!;
    const n = this.y.length;
    const lo = c * slots;
    const hi = Math.min(n, lo + slots);
    const lastConstant = p.coefs[p.coefs.length - 1]![0]!;
    let acc: CipherText | undefined;
    // A term below the coefficients' resolution (a window where σ is exactly 0 or 1 for every
    // row of the chunk, or the high Chebyshev terms of a wide window on heavy-tailed logits, 1e-14
    // and less) contributes nothing and is left out (addPlainProduct).
    const addTerm = (ctBytes: Uint8Array, coef: Float64Array) => {
      acc = addPlainProduct(this.ckks, acc, ctBytes, coef, operandScale);
    };
    let v = 0;
    p.windows.forEach((w, j) => {
      const coef = p.coefs[j]!;
      for (let k = 1; k <= w.degree; k++) addTerm(bytes[v++]!, coef[k]!.subarray(lo, hi));
      if (j < p.windows.length - 1) {
        // The indicator of window j carries its constant term relative to the last window's.
        const rel = new Float64Array(hi - lo);
        for (let i = lo; i < hi; i++) rel[i - lo] = coef[0]![i]! - lastConstant[i]!;
        addTerm(bytes[v++]!, rel);
      }
    });
    const constant = new Float64Array(hi - lo);
    for (let i = lo; i < hi; i++) constant[i - lo] = lastConstant[i]! - this.y[i]!;
    // Every term of this chunk left out: start from a fresh encryption of zero at the products' scale.
    const ct: CipherText = acc ?? encryptVector(this.ev!, new Float64Array(hi - lo), this.ckks.scale * operandScale);
    const pc = encode(this.ckks, constant, ct.scale, ct);
    evaluator.addPlain(ct, pc, ct);
    pc.delete();
    return ct;
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

  /** Idle time: encode the diagonals of the first product. */
  background(): boolean {
    return this.stage !== 'done' && timed(this.profile, 'background (diagonals)', () => this.packed?.prepareStep() ?? false);
  }

  /** The residual part just sent, into the guest's own product; its gradient once all parts are in. */
  flush(): Envelope[] {
    const p = this.parts;
    const part = p?.pending;
    if (!p || !part) return [];
    p.pending = undefined;
    timed(this.profile, 'gradient product', () => part.cts.forEach((ct, i) => this.packed!.add(p.sum, part.chunk + i, ct)));
    for (const ct of part.cts) ct.delete();
    if (p.next < this.packed!.chunks) return [];
    this.parts = undefined;
    this.stage = 'update';
    const gradient = timed(this.profile, 'gradient product', () => this.packed!.finish(p.sum));
    const penalty = new Float64Array(this.weights.length);
    const divisor = gradientDivisor(this.y.length);
    for (let j = 1; j < penalty.length; j++) penalty[j] = this.config.lambda * this.weights[j]! * divisor;
    const pp = encode(this.ckks, penalty, gradient.scale, gradient);
    this.ckks.evaluator.addPlain(gradient, pp, gradient);
    pp.delete();
    // Computed from the arbiter's zeros (in the host's basis): re-randomised before it goes to the
    // arbiter, flooded at the arbiter's own release margin over the product's noise.
    timed(this.profile, 're-randomise', () => rerandomize(this.ev!, gradient, productNoise(this.ckks, this.packed!.chunks) * 2 ** this.config.floodMarginBits, this.rng, this.packed!.width));
    const g = timed(this.profile, 'serialise', () => serialize(this.ckks, gradient));
    gradient.delete();
    return [
      envelope(this.config.job, 'GuestGradient', this.round, this.name, 'arbiter', { gradient: g }),
    ];
  }
}
