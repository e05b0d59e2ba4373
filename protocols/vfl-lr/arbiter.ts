/**
 * The arbiter (run by the coordinator) in `vfl-lr`: deals the correlated randomness of the shared
 * arithmetic (seeds, and per round the Beaver corrections of the residual's products), receives
 * only aggregates (sample Gram blocks, per-weight gradients, the one weighted Hessian), runs BFGS
 * with a gradient-only line search (models/wolfe.ts) and sends each party the move for its own
 * weights. It never holds a feature, a label or any per-enterprise value. It also owns the CKKS key
 * pair of the job, which the scorecard stage uses (protocols/scorecard).
 */
import { IndomainError } from '../../engine/errors.ts';
import { maxAbs } from '../../engine/linalg.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { generateKeys, secretKeyBytes, type Ckks, type KeyOwner } from '../he/ckks.ts';
import { add, decodeFixed, fromBytes, matVecInto, RESIDUES, rowDot, sub, toBytes, uniform } from '../mpc/rns.ts';
import { CrossGramDealer } from '../mpc/cross-gram.ts';
import { initialLogisticHessian } from '../../models/bfgs.ts';
import { WolfeBfgs } from '../../models/wolfe.ts';
import { logit } from '../../models/logistic.ts';
import { roundTolerance, sharedRoundConfig, type VflConfig } from './config.ts';
import { assembleHessian, type HessianShares } from './hessian.ts';
import { accept, envelope, timed, type Profile } from './common.ts';
import { ColumnPads, pad, partCount, partRange, RESIDUAL_BITS, ringSeed, stackBlocks } from './shares.ts';

type Stage = 'init' | 'gradients' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  init: ['GuestInit', 'HostInit'],
  gradients: ['GuestGradient', 'HostGradient', 'GuestHessianShare', 'HostHessianShare', 'BasisSize'],
  done: [],
};

/**
 * Error of a decoded gradient value from the fixed point alone (coefficients and basis at 2^-26,
 * columns at 2^-f: a few 1e-9 per row, averaging out over rows): what BFGS may treat as noise.
 */
const FIXED_POINT_NOISE = 1e-10;

/**
 * The initial curvature matrix, built from the parties' sample Grams and cross shares plus λI: one
 * that is not positive definite (a malformed or malicious Gram or cross share) is the sender's
 * fault, refused with a code rather than the solver's RangeError. (The weighted Hessian's is not:
 * honest shares can give one, and the restart is skipped instead.)
 */
function positiveDefinite<T>(field: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof RangeError) throw new IndomainError('VFL_BAD_MESSAGE', 'the reported curvature is not positive definite', { field });
    throw e;
  }
}

interface InitBody {
  rows: number;
  sampleRows: number;
  gram: Float64Array;
  eventRate?: number;
  crossShare: Uint8Array;
  crossBits: number;
  ringBits: number;
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
  /** The ring seeds the arbiter shares with the guest and with the host (shares.ts). */
  private guestSeed: Uint8Array | undefined;
  private hostSeed: Uint8Array | undefined;
  private guestPads: ColumnPads | undefined;
  private hostPads: ColumnPads | undefined;
  /** This round's basis size and the next part to deal a correction for; the arbiter's own terms of its gradient sums (residues), by round. */
  private dealing: { vectors: number; next: number } | undefined;
  private ownTerms: { round: number; terms: Int32Array } | undefined;
  private guestInit: InitBody | undefined;
  private hostInit: InitBody | undefined;
  private guestDim = 0;
  private hostDim = 0;
  private opt: WolfeBfgs | undefined;
  private pending: { guest?: Int32Array; host?: Int32Array; guestHessian?: HessianShares; hostHessian?: HessianShares } = {};
  /** The round that computes the weighted Hessian (−1: not yet asked for). */
  private hessianRound = -1;
  /** The sample Gram XᵀX (d × d) and its row count, for Hessian blocks that are not exchanged. */
  private gram = new Float64Array(0);
  private sampleRows = 0;
  private penalised: boolean[] = [];
  private dealer: CrossGramDealer | undefined;
  /** The gradient's error from the fixed point (BFGS ignores curvature pairs below it). */
  private gradientNoise = FIXED_POINT_NOISE;
  /**
   * The weights as the arbiter can rebuild them (the guest's intercept starts at the logit of the
   * event rate it reports, every other weight at 0, then the moves it sends): for the relative step test.
   */
  private weights = new Float64Array(0);
  /** The sigmoid tolerance of the current round (config.roundTolerance). */
  private tolerance = 0;
  /** Whether the weighted Hessian was not positive definite, so BFGS did not restart from it. */
  hessianRejected = false;
  /** Whether the run ended with a final quasi-Newton step after convergence (config.finalStep). */
  finalStepTaken = false;
  /** The configuration with vfl-lr's own final sigmoid tolerance (config.ts sharedRoundConfig). */
  private readonly config: VflConfig;

  /**
   * `keys.stored`: a secret key kept from an earlier run of this job (restart); `keys.keep` is
   * called with a newly generated one, for the owner's store.
   */
  constructor(
    private readonly ckks: Ckks,
    config: VflConfig,
    private readonly rng: Rng,
    private readonly keyStore?: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void },
    /**
     * `keys: false`: no CKKS key pair (HeSetup carries empty keys). Training itself needs none;
     * only a pipeline with a scorecard stage does (its Fisher information is computed under them).
     * Key generation and the Galois keys' 9.5 MB to each party were 0.2–0.3 s of an lr run.
     */
    private readonly options: { keys?: boolean } = {},
  ) {
    this.config = sharedRoundConfig(config);
  }

  /** This job's key pair, for the arbiter's part of the scorecard stage (same owner, same process). */
  get keyOwner(): KeyOwner | undefined {
    return this.keys;
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    if (this.options.keys !== false) {
      this.keys = generateKeys(this.ckks, this.keyStore?.stored);
      if (!this.keyStore?.stored) this.keyStore?.keep?.(secretKeyBytes(this.ckks, this.keys));
    }
    this.dealer = new CrossGramDealer(this.rng.bytes(32));
    this.guestSeed = ringSeed(this.dealer.leftSeed);
    this.hostSeed = ringSeed(this.dealer.rightSeed);
    this.guestPads = new ColumnPads(this.guestSeed);
    this.hostPads = new ColumnPads(this.hostSeed);
    const none = new Uint8Array(0);
    const body = { params: this.ckks.params.name, publicKey: this.keys?.publicKey ?? none, galoisKeys: this.keys?.galoisKeys ?? none };
    return [
      envelope(this.config.job, 'HeSetup', 0, this.name, 'guest', { ...body, tripleSeed: this.dealer.leftSeed }),
      envelope(this.config.job, 'HeSetup', 0, this.name, 'host', { ...body, tripleSeed: this.dealer.rightSeed }),
    ];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS, this.round);
    const b = env.body as unknown as InitBody & { share: Uint8Array; vectors: number };
    switch (env.type) {
      case 'GuestInit':
        if (this.guestInit) throw new IndomainError('VFL_WRONG_STAGE', 'a second GuestInit');
        this.guestInit = b;
        return this.maybeStart();
      case 'HostInit':
        if (this.hostInit) throw new IndomainError('VFL_WRONG_STAGE', 'a second HostInit');
        this.hostInit = b;
        return this.maybeStart();
      case 'BasisSize':
        return timed(this.profile, 'triples', () => this.deal(b.vectors));
      case 'GuestGradient':
        if (this.pending.guest) throw new IndomainError('VFL_WRONG_STAGE', 'a second GuestGradient in one round');
        this.pending.guest = fromBytes(b.share, this.guestDim + this.hostDim, 'share');
        return this.maybeStep();
      case 'HostGradient':
        if (this.pending.host) throw new IndomainError('VFL_WRONG_STAGE', 'a second HostGradient in one round');
        this.pending.host = fromBytes(b.share, this.guestDim + this.hostDim, 'share');
        return this.maybeStep();
      case 'GuestHessianShare':
      case 'HostHessianShare': {
        if (this.round !== this.hessianRound) throw new IndomainError('VFL_WRONG_STAGE', `${env.type} in round ${this.round}, which computes no Hessian`);
        const h = env.body as unknown as HessianShares;
        if (!h.bits.every(Number.isInteger) || !h.columns.every(Number.isInteger) || h.shares.length !== 3 || h.bits.length !== 3 || h.columns.length !== 3 || h.exponents.length !== 3 || !h.exponents.every((e) => e.every(Number.isInteger))) {
          throw new IndomainError('VFL_BAD_MESSAGE', 'Hessian shares must be three blocks with integer bits and columns', { field: 'shares' });
        }
        const key = env.type === 'GuestHessianShare' ? 'guestHessian' : 'hostHessian';
        if (this.pending[key]) throw new IndomainError('VFL_WRONG_STAGE', `a second ${env.type} in one round`);
        this.pending[key] = h;
        return this.maybeStep();
      }
    }
    return [];
  }

  /**
   * The round's triples for a basis of `vectors` vectors: per part c, the host's correction
   * c_H = Σ_v A_v·B′_v − c_G (shares.ts). The first part's goes at once; the others in flush, after it.
   */
  private deal(vectors: number): Envelope[] {
    const most = this.config.maxWindows * (this.config.chebyshevDegree + 1);
    if (!(Number.isInteger(vectors) && vectors >= 1 && vectors <= most)) throw new IndomainError('VFL_BAD_MESSAGE', `${vectors} basis vectors (1..${most})`, { field: 'vectors' });
    if (this.dealing) throw new IndomainError('VFL_WRONG_STAGE', 'a second BasisSize in one round');
    this.dealing = { vectors, next: 0 };
    return this.correction();
  }

  /** The next part's correction, if one is left to deal. */
  private correction(): Envelope[] {
    const d = this.dealing;
    const rows = this.guestInit!.rows;
    if (!d || d.next >= partCount(rows, this.config.partRows)) return [];
    const c = d.next++;
    const r = this.round;
    const sg = this.guestSeed!;
    const [lo, hi] = partRange(c, rows, this.config.partRows);
    const len = hi - lo;
    const ab = rowDot(uniform(sg, pad.coef(r, c), d.vectors * len), uniform(this.hostSeed!, pad.basis(r, c), d.vectors * len), d.vectors, len);
    return [envelope(this.config.job, 'BeaverCorrection', r, this.name, 'host', { chunk: c, correction: toBytes(sub(ab, uniform(sg, pad.cg(r, c), len))) })];
  }

  /**
   * The arbiter's own terms of this round's gradient sums, P_Gᵀβ and P_Hᵀα over all parts (they
   * depend on seeds only: computed while the parties work, in flush or idle time, else when the
   * gradient needs them).
   */
  private terms(): Int32Array {
    const r = this.round;
    if (this.ownTerms?.round === r) return this.ownTerms.terms;
    const rows = this.guestInit!.rows;
    const dg = this.guestDim;
    const dh = this.hostDim;
    const guestTerms = new Int32Array(RESIDUES * dg);
    const hostTerms = new Int32Array(RESIDUES * dh);
    for (let c = 0; c < partCount(rows, this.config.partRows); c++) {
      const [lo, hi] = partRange(c, rows, this.config.partRows);
      const len = hi - lo;
      matVecInto(guestTerms, this.guestPads!.get(c, dg * len), dg, uniform(this.hostSeed!, pad.beta(r, c), len), len);
      matVecInto(hostTerms, this.hostPads!.get(c, dh * len), dh, uniform(this.guestSeed!, pad.alpha(r, c), len), len);
    }
    const terms = stackBlocks(guestTerms, dg, hostTerms, dh);
    this.ownTerms = { round: r, terms };
    return terms;
  }

  /**
   * The rest of the round's corrections, one part per call (the transport calls flush until it
   * returns nothing, sending each before the next), then the arbiter's own terms (idle work until
   * the gradients come).
   */
  flush(): Envelope[] {
    if (this.stage !== 'gradients') return [];
    return timed(this.profile, 'triples', () => {
      const out = this.correction();
      if (out.length === 0 && this.ownTerms?.round !== this.round) this.terms();
      return out;
    });
  }

  /** The round's gradient: the parties' shares and the arbiter's terms decoded, /n, plus the penalty. */
  private gradient(guest: Int32Array, host: Int32Array): Float64Array {
    const dealt = this.dealing;
    if (!dealt || dealt.next < partCount(this.guestInit!.rows, this.config.partRows)) throw new IndomainError('VFL_WRONG_STAGE', "gradient shares before the round's corrections were dealt");
    this.dealing = undefined;
    const sum = add(add(guest, host, new Int32Array(guest.length)), this.terms());
    const dg = this.guestDim;
    const d = dg + this.hostDim;
    const rows = this.guestInit!.rows;
    const split = (lo: number, hi: number) => {
      const out = new Int32Array(RESIDUES * (hi - lo));
      for (let k = 0; k < RESIDUES; k++) out.set(sum.subarray(k * d + lo, k * d + hi), k * (hi - lo));
      return out;
    };
    const g = new Float64Array(d);
    g.set(decodeFixed(split(0, dg), RESIDUAL_BITS + this.guestInit!.ringBits), 0);
    g.set(decodeFixed(split(dg, d), RESIDUAL_BITS + this.hostInit!.ringBits), dg);
    for (let j = 0; j < d; j++) g[j] = g[j]! / rows + (this.penalised[j] ? this.config.lambda * this.weights[j]! : 0);
    return g;
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
    if (!Number.isInteger(g.ringBits) || !Number.isInteger(h.ringBits) || g.ringBits > 40 || h.ringBits > 40) {
      throw new IndomainError('VFL_BAD_MESSAGE', `fixed-point bits ${g.ringBits} and ${h.ringBits} (integers up to 40)`, { field: 'ringBits' });
    }
    if (!(g.eventRate! > 0 && g.eventRate! < 1)) throw new IndomainError('VFL_BAD_MESSAGE', 'event rate outside (0, 1)', { field: 'eventRate' });
    this.opt = positiveDefinite('gram', () => new WolfeBfgs(initialLogisticHessian(gram, d, g.sampleRows, g.eventRate!, this.config.lambda, penalised), d, { gradientNoise: this.gradientNoise }));
    this.weights = new Float64Array(d);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, g.eventRate!)));

    this.stage = 'gradients';
    this.tolerance = this.config.sigmoidToleranceStart;
    return [envelope(this.config.job, 'RoundStart', this.round, this.name, 'host', { sigmoidTolerance: this.tolerance, hessian: false })];
  }

  private maybeStep(): Envelope[] {
    const { guest: guestShare, host: hostShare, guestHessian, hostHessian } = this.pending;
    if (!guestShare || !hostShare) return [];
    if (this.round === this.hessianRound && (!guestHessian || !hostHessian)) return [];
    this.pending = {};
    const grad = timed(this.profile, 'decode', () => this.gradient(guestShare, hostShare));
    if (guestHessian && hostHessian) {
      // BFGS restarts from the weighted Hessian at this point (protocols/vfl-lr/hessian.ts).
      const h = timed(this.profile, 'hessian', () =>
        assembleHessian(this.dealer!.leftSeed, this.dealer!.rightSeed, this.round, guestHessian, hostHessian, this.guestDim, this.hostDim, this.sampleRows, this.gram),
      );
      const d = this.guestDim + this.hostDim;
      for (let j = 0; j < d; j++) h[j * d + j] += (this.penalised[j] ? this.config.lambda : 0) + 1e-8;
      // Honest shares can give a matrix that is not positive definite where blocks over the size
      // budget were approximated from the sample Gram (100,000 rows × 300 platform columns at 2%
      // events did): the restart is only a speed-up, so BFGS then goes on from where it is.
      try {
        this.opt = new WolfeBfgs(h, d, { gradientNoise: this.gradientNoise });
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        this.hessianRejected = true;
      }
    }
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
