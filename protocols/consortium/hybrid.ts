/**
 * Hybrid consortium logistic regression (protocol `consortium-hybrid`): n banks, each joined
 * vertically with the platform on its own borrowers (protocols/psi), train ONE model over
 * (bank features, platform features), equal to the model one party would fit on all their rows
 * pooled. Every bank holds the same bank features; the platform holds its features for each bank's
 * aligned rows. Objective: mean log-loss over the pooled rows + (λ/2)‖w‖² over the feature weights
 * (the intercept, in the bank block, unpenalised), as models/logistic.ts.
 *
 * Parties. Banks B_1..B_n (features X_b, labels y_b), platform P (X_H,b for each bank's rows),
 * coordinator C (owns the CKKS key, as the arbiter of protocols/vfl-lr; runs secure aggregation).
 *
 * Flow.
 *   secagg    every bank's (n_b, Σ y_b, upper triangle of [1 X_b]ᵀ[1 X_b]) summed among the banks
 *             (protocols/secagg): C and every bank get N, the pooled event rate and the pooled
 *             bank-feature Gram block, no party one bank's
 *   C → B, P  HybridSetup    CKKS public and Galois keys
 *   P → C     PlatformGram   Σ_b X_H,bᵀ X_H,b and N (the platform aligned every bank's rows)
 *   C         initial Hessian p̄(1−p̄)·G/N + λI from the two Gram blocks (cross block 0), BFGS state
 *   per round:
 *   C → P     HybridRoundStart
 *   P → B_b   PairBasis      centre, half-width and [[T_k(τ_b)]] of the platform's partial logits
 *                            on B_b's rows, as vfl-lr's HostBasis
 *   B_b → P   PairResidual   [[d_b]] = [[σ(z_b) − y_b]] (per-sample Chebyshev expansion in the
 *                            platform's partial logit), re-randomised
 *   B_b → P   BankGradient   [[[1 X_b]ᵀ d_b / √N]], re-randomised
 *   P         [[g_B]] = Σ_b [[bank gradient_b]], [[g_H]] = Σ_b [[X_H,bᵀ d_b / √N]]: sums of
 *             ciphertexts under C's key, before anyone decrypts; re-randomised
 *   P → C     GradientSum    [[g_B]], [[g_H]]
 *   C         decrypts, floods, ∇ = (g_B, g_H)/√N + λw; BFGS step
 *   C → B_b   HybridUpdate   the bank block of the step (the same for every bank)
 *   C → P     HybridUpdate   the platform block
 *   …until ‖∇‖∞ ≤ tol or the round limit: C → all HybridFinished.
 * The gradient exists only under encryption (the residual depends on the platform's partial
 * logits), so its bank part is summed across banks homomorphically by the platform, which cannot
 * decrypt; the plaintext statistics (counts, Gram block) go through secure aggregation.
 *
 * What each party learns:
 *   Bank:        N, the pooled event rate and pooled bank-feature Gram block (the secure sum; with
 *                two banks the other's by subtraction), the centre and half-width of the platform's
 *                partial logits over its own rows, the bank block of the model; ciphertexts only
 *                otherwise. Nothing about another bank beyond the sums.
 *   Platform:    each bank's aligned rows (from PSI, as in vfl-lr), N, its own block of the model;
 *                every bank's residual and gradient part as re-randomised ciphertexts under C's key
 *                (no label, no residual, no bank's gradient).
 *   Coordinator: N, the pooled event rate, both Gram blocks (pooled), per round the pooled
 *                gradient (flooded), hence the model, as vfl-lr's arbiter; never one bank's part.
 * Threat model: semi-honest parties; the coordinator does not collude with the platform (with it,
 * it could decrypt a bank's gradient part and residual) — the trust of vfl-lr's arbiter.
 * Dropout. A round closes when every live bank has sent its parts or when the driver's deadline
 * passes ({@link HybridPlatform.deadline}); a bank missing then is out for the rest of the job, the
 * platform sums the others and tells the coordinator their row count, and the coordinator restarts
 * BFGS on the pooled objective of the banks that remain (the model is then their pooled model).
 */
import { crossGram, linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { maxAbs } from '../../engine/linalg.ts';
import { bfgsInit, bfgsStep, initialLogisticHessian, type BfgsState } from '../../models/bfgs.ts';
import { logit, sigmoid } from '../../models/logistic.ts';
import {
  combinationNoise,
  createCkks,
  decryptorFor,
  deserialize,
  encode,
  encryptChunks,
  floodNoise,
  generateKeys,
  importPublicKeys,
  productNoise,
  rerandomize,
  serialize,
  type CipherText,
  type Ckks,
  type Decryption,
  type Evaluation,
  type KeyOwner,
} from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import { messageSpec, validateBody, type Envelope } from '../message.ts';
import { MemoryTransport, type Party } from '../transport.ts';
import { SecAggJob, secAggConfig } from '../secagg/protocol.ts';
import { chebyshevBasis, chebyshevDegreeFor, normalise, perSampleCoefficients } from '../vfl-lr/chebyshev.ts';
import { vflConfig, type VflConfig } from '../vfl-lr/config.ts';
import { HYBRID } from './messages.ts';
import { full, upper } from './symmetric.ts';

export const PLATFORM = 'platform';
export const COORDINATOR = 'coordinator';

function envelope(job: string, type: string, round: number, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol: HYBRID, type, round, from, to, body };
}

function accept(env: Envelope, job: string, stage: string, expects: readonly string[], round: number): void {
  if (env.protocol !== HYBRID) throw new IndomainError('VFL_BAD_MESSAGE', `protocol "${env.protocol}" is not ${HYBRID}`);
  if (env.job !== job) throw new IndomainError('VFL_WRONG_JOB', `message for job "${env.job}", this is job "${job}"`);
  if (!expects.includes(env.type)) throw new IndomainError('VFL_WRONG_STAGE', `${env.type} from ${env.from} in stage "${stage}" (expects ${expects.join(' or ') || 'nothing'})`);
  if (env.round !== round) throw new IndomainError('VFL_WRONG_ROUND', `${env.type} for round ${env.round}, current round ${round}`);
  validateBody(messageSpec(env.protocol, env.type), env.body, 'VFL_BAD_MESSAGE');
}

/** What secure aggregation gives every bank and the coordinator before training. */
export interface PooledStatistics {
  readonly rows: number;
  readonly events: number;
  /** [1 X_B]ᵀ[1 X_B] over every bank's rows, row-major (1 + bank features)². */
  readonly gram: Float64Array;
}

/** A bank's vector in the secure sum: n_b, Σ y_b and the upper triangle of its Gram block. */
export function bankStatistics(x: readonly Float64Array[], y: Uint8Array): Float64Array {
  const design = [ones(y.length), ...x];
  const d = design.length;
  const g = upper(crossGram(design, design), d);
  const out = new Float64Array(2 + g.length);
  out[0] = y.length;
  out[1] = y.reduce((s, v) => s + v, 0);
  out.set(g, 2);
  return out;
}

export function pooledFrom(sum: Float64Array, bankFeatures: number): PooledStatistics {
  return { rows: Math.round(sum[0]!), events: Math.round(sum[1]!), gram: full(sum.subarray(2), bankFeatures + 1) };
}

export class HybridBank implements Party {
  stage: 'keys' | 'basis' | 'update' | 'done' = 'keys';
  round = 0;
  /** Intercept first, then one weight per bank feature: the consortium model's bank block. */
  readonly weights: Float64Array;
  private readonly x: Float64Array[];
  private ev: Evaluation | undefined;
  private packed: PackedColumns | undefined;

  constructor(
    readonly name: string,
    private readonly ckks: Ckks,
    cols: readonly Float64Array[],
    private readonly y: Uint8Array,
    private readonly pooled: PooledStatistics,
    private readonly config: VflConfig,
    private readonly rng: Rng = cryptoRng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/hybrid-platform.test.ts): false sends the residual
     * and gradient as computed, not re-randomised, to show what the platform could then read.
     */
    private readonly rerandomise = true,
  ) {
    if (cols.some((c) => c.length !== y.length)) throw new IndomainError('VFL_ROW_MISMATCH', 'bank columns and labels differ in length');
    this.x = [ones(y.length), ...cols];
    this.weights = new Float64Array(this.x.length);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, pooled.events / pooled.rows)));
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    const expects = { keys: ['HybridSetup'], basis: ['PairBasis', 'HybridFinished'], update: ['HybridUpdate', 'HybridFinished'], done: [] }[this.stage];
    accept(env, this.config.job, this.stage, expects, this.stage === 'keys' ? 0 : this.round);
    if (env.from !== (env.type === 'PairBasis' ? PLATFORM : COORDINATOR)) throw new IndomainError('VFL_BAD_MESSAGE', `${env.type} from "${env.from}"`);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HybridSetup':
        this.ev = importPublicKeys(this.ckks, b.publicKey, b.galoisKeys);
        this.packed = new PackedColumns(this.ev, this.x, Math.sqrt(this.pooled.rows), this.ckks.operandScale);
        this.stage = 'basis';
        return [];
      case 'PairBasis':
        return this.onBasis(b.centre, b.halfWidth, b.basis);
      case 'HybridUpdate': {
        const step = b.step as Float64Array;
        if (step.length !== this.weights.length) throw new IndomainError('VFL_BAD_MESSAGE', `step has ${step.length} values, the bank block ${this.weights.length}`, { field: 'step' });
        for (let j = 0; j < step.length; j++) this.weights[j] += step[j]!;
        this.round++;
        this.stage = 'basis';
        return [];
      }
      default:
        this.stage = 'done';
        this.packed?.release();
        return [];
    }
  }

  /** [[σ(z) − y]] from the platform's basis (as vfl-lr's guest), then this bank's encrypted gradient part. */
  private onBasis(centre: number, halfWidth: number, basis: Uint8Array[][]): Envelope[] {
    const { evaluator, slots, operandScale } = this.ckks;
    const n = this.y.length;
    const chunks = Math.ceil(n / slots);
    if (!(halfWidth >= this.config.minHalfWidth) || !Number.isFinite(halfWidth) || !Number.isFinite(centre)) {
      throw new IndomainError('VFL_BAD_MESSAGE', `window centre ${centre}, half-width ${halfWidth}`, { field: 'halfWidth' });
    }
    const degree = chebyshevDegreeFor(halfWidth, this.config.sigmoidTolerance, this.config.chebyshevDegree);
    if (basis.length !== degree || basis.some((b) => b.length !== chunks)) {
      throw new IndomainError('VFL_BAD_MESSAGE', `basis must be ${degree} × ${chunks} ciphertexts`, { field: 'basis' });
    }
    const u = linearPredictor(this.x, this.weights, n);
    for (let i = 0; i < n; i++) u[i] += centre;
    const coef = perSampleCoefficients(sigmoid, u, halfWidth, degree);
    const residual: CipherText[] = [];
    for (let c = 0; c < chunks; c++) {
      const lo = c * slots;
      const hi = Math.min(n, lo + slots);
      let acc: CipherText | undefined;
      for (let k = 1; k <= degree; k++) {
        const t = deserialize(this.ckks, basis[k - 1]![c]!);
        const pt = encode(this.ckks, coef[k]!.subarray(lo, hi), operandScale, t);
        evaluator.multiplyPlain(t, pt, t);
        pt.delete();
        if (acc) {
          evaluator.add(acc, t, acc);
          t.delete();
        } else acc = t;
      }
      const constant = new Float64Array(hi - lo);
      for (let i = lo; i < hi; i++) constant[i - lo] = coef[0]![i]! - this.y[i]!;
      const pc = encode(this.ckks, constant, acc!.scale, acc!);
      evaluator.addPlain(acc!, pc, acc!);
      pc.delete();
      residual.push(acc!);
    }
    // Both are combinations of the platform's own ciphertexts: re-randomised before they go back
    // to it, or it solves for the multipliers and reads coef_0 − y (the labels) and X_bᵀ d. The
    // residual leaves before the product (which works on it in place) is taken from it.
    const sigma = combinationNoise(this.ckks) * 2 ** this.config.floodMarginBits;
    const send = (ct: CipherText, s: number, period?: number) => {
      if (!this.rerandomise) return ct.saveArray(this.ckks.seal.ComprModeType.none);
      rerandomize(this.ev!, ct, s, this.rng, period);
      return serialize(this.ckks, ct);
    };
    const chunksOut = residual.map((ct) => send(ct, sigma));
    const gradient = this.packed!.transposeTimes(residual);
    for (const ct of residual) ct.delete();
    const g = send(gradient, productNoise(this.ckks, chunks) * 2 ** this.config.floodMarginBits, this.packed!.width);
    gradient.delete();
    this.stage = 'update';
    return [
      envelope(this.config.job, 'PairResidual', this.round, this.name, PLATFORM, { chunks: chunksOut }),
      envelope(this.config.job, 'BankGradient', this.round, this.name, PLATFORM, { gradient: g }),
    ];
  }
}

export class HybridPlatform implements Party {
  readonly name = PLATFORM;
  stage: 'keys' | 'round' | 'gradients' | 'update' | 'done' = 'keys';
  round = 0;
  /** The consortium model's platform block. */
  readonly weights: Float64Array;
  private ev: Evaluation | undefined;
  private readonly packed = new Map<string, PackedColumns>();
  private readonly rows: number;
  private received = new Map<string, { residual?: CipherText[]; gradient?: CipherText }>();
  /** Banks still in the job (a bank that missed a round's deadline is out for good). */
  private live: string[];

  constructor(
    private readonly ckks: Ckks,
    /** The platform's feature columns over each bank's aligned training rows, by bank. */
    private readonly pairs: ReadonlyMap<string, readonly Float64Array[]>,
    /** How many features every bank holds (public: the model card names them). */
    private readonly bankFeatures: number,
    private readonly config: VflConfig,
    private readonly rng: Rng = cryptoRng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/hybrid-coordinator.test.ts): forwards one bank's
     * gradient part alone instead of the sum over banks, to show what the coordinator could then read.
     */
    private readonly unsafe: { forwardOneBank?: string } = {},
  ) {
    const widths = new Set([...pairs.values()].map((c) => c.length));
    if (widths.size !== 1) throw new IndomainError('VFL_BAD_CONFIG', 'the platform must hold the same features for every bank', { field: 'pairs' });
    this.rows = [...pairs.values()].reduce((s, c) => s + (c[0]?.length ?? 0), 0);
    this.weights = new Float64Array([...widths][0]!);
    this.live = [...pairs.keys()];
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    const expects = {
      keys: ['HybridSetup'],
      round: ['HybridRoundStart', 'HybridFinished'],
      gradients: ['PairResidual', 'BankGradient'],
      update: ['HybridUpdate', 'HybridFinished'],
      done: [],
    }[this.stage];
    accept(env, this.config.job, this.stage, expects, this.stage === 'keys' ? 0 : this.round);
    const fromBank = env.type === 'PairResidual' || env.type === 'BankGradient';
    if (!fromBank && env.from !== COORDINATOR) throw new IndomainError('VFL_BAD_MESSAGE', `${env.type} from "${env.from}", not the coordinator`);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HybridSetup': {
        this.ev = importPublicKeys(this.ckks, b.publicKey, b.galoisKeys);
        for (const [bank, cols] of this.pairs) this.packed.set(bank, new PackedColumns(this.ev, cols, Math.sqrt(this.rows), this.ckks.operandScale));
        const all = this.weights.length;
        const gram = new Float64Array(all * all);
        for (const cols of this.pairs.values()) {
          const g = crossGram(cols, cols);
          for (let i = 0; i < g.length; i++) gram[i] += g[i]!;
        }
        this.stage = 'round';
        return [envelope(this.config.job, 'PlatformGram', 0, this.name, COORDINATOR, { rows: this.rows, gram })];
      }
      case 'HybridRoundStart':
        return this.onRound();
      case 'PairResidual':
      case 'BankGradient':
        return this.onBankPart(env.from, env.type, b);
      case 'HybridUpdate': {
        const step = b.step as Float64Array;
        if (step.length !== this.weights.length) throw new IndomainError('VFL_BAD_MESSAGE', `step has ${step.length} values, the platform block ${this.weights.length}`, { field: 'step' });
        for (let j = 0; j < step.length; j++) this.weights[j] += step[j]!;
        this.round++;
        this.stage = 'round';
        return [];
      }
      default:
        this.stage = 'done';
        for (const p of this.packed.values()) p.release();
        return [];
    }
  }

  /** For each bank, the encrypted Chebyshev basis of the platform's partial logits on its rows (vfl-lr's HostBasis). */
  private onRound(): Envelope[] {
    const out: Envelope[] = [];
    for (const bank of this.live) {
      const cols = this.pairs.get(bank)!;
      const n = cols[0]!.length;
      const u = linearPredictor(cols, this.weights, n);
      let mean = 0;
      for (let i = 0; i < n; i++) mean += u[i]!;
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (u[i]! - mean) ** 2;
      const halfWidth = Math.max(this.config.minHalfWidth, this.config.windowStds * Math.sqrt(v / Math.max(1, n - 1)));
      const degree = chebyshevDegreeFor(halfWidth, this.config.sigmoidTolerance, this.config.chebyshevDegree);
      const basis = chebyshevBasis(normalise(u, mean, halfWidth), degree).map((t) => encryptChunks(this.ev!, t, this.ckks.scale));
      out.push(envelope(this.config.job, 'PairBasis', this.round, this.name, bank, { centre: mean, halfWidth, basis }));
    }
    this.received = new Map();
    this.stage = 'gradients';
    return out;
  }

  private onBankPart(bank: string, type: string, b: Record<string, never>): Envelope[] {
    if (!this.live.includes(bank)) throw new IndomainError('VFL_BAD_MESSAGE', `${type} from "${bank}", not a live bank of this job`);
    const got = this.received.get(bank) ?? {};
    if (type === 'PairResidual') {
      if (got.residual) throw new IndomainError('VFL_WRONG_STAGE', `a second PairResidual from "${bank}"`);
      const chunks = b.chunks as Uint8Array[];
      if (chunks.length !== this.packed.get(bank)!.chunks) throw new IndomainError('VFL_BAD_MESSAGE', `residual of ${chunks.length} chunks`, { field: 'chunks' });
      got.residual = chunks.map((c) => deserialize(this.ckks, c));
    } else {
      if (got.gradient) throw new IndomainError('VFL_WRONG_STAGE', `a second BankGradient from "${bank}"`);
      got.gradient = deserialize(this.ckks, b.gradient);
    }
    this.received.set(bank, got);
    return this.live.every((k) => this.answered(k)) ? this.sum() : [];
  }

  private answered(bank: string): boolean {
    return Boolean(this.received.get(bank)?.residual && this.received.get(bank)?.gradient);
  }

  /**
   * The driver's deadline for this round's bank parts: the banks that have not sent both have
   * dropped out, for the rest of the job; the round is summed over the others.
   */
  deadline(): Envelope[] {
    if (this.stage !== 'gradients') return [];
    const answered = this.live.filter((b) => this.answered(b));
    if (answered.length === 0) throw new IndomainError('VFL_BAD_MESSAGE', 'no bank answered this round', { field: 'banks' });
    for (const [b, got] of this.received) {
      if (answered.includes(b)) continue;
      for (const ct of got.residual ?? []) ct.delete();
      got.gradient?.delete();
      this.received.delete(b);
    }
    this.live = answered;
    return this.sum();
  }

  /** Σ over banks of their gradient parts and of this platform's products with their residuals, under the coordinator's key. */
  private sum(): Envelope[] {
    const { evaluator } = this.ckks;
    let bankSum: CipherText | undefined;
    let platformSum: CipherText | undefined;
    let chunks = 0;
    let rows = 0;
    for (const bank of this.live) {
      const got = this.received.get(bank)!;
      rows += this.pairs.get(bank)![0]!.length;
      const packed = this.packed.get(bank)!;
      chunks += packed.chunks;
      const g = packed.transposeTimes(got.residual!);
      for (const ct of got.residual!) ct.delete();
      if (platformSum) {
        evaluator.add(platformSum, g, platformSum);
        g.delete();
      } else platformSum = g;
      if (this.unsafe.forwardOneBank && bank !== this.unsafe.forwardOneBank) {
        got.gradient!.delete();
        continue;
      }
      if (bankSum) {
        evaluator.add(bankSum, got.gradient!, bankSum);
        got.gradient!.delete();
      } else bankSum = got.gradient!;
    }
    // Computed from the banks' ciphertexts: re-randomised before they go to the key owner.
    const sigma = productNoise(this.ckks, chunks) * 2 ** this.config.floodMarginBits;
    rerandomize(this.ev!, bankSum!, sigma, this.rng, this.bankPeriod());
    rerandomize(this.ev!, platformSum!, sigma, this.rng, this.packed.values().next().value!.width);
    const body = { banks: [...this.live], rows, bank: serialize(this.ckks, bankSum!), platform: serialize(this.ckks, platformSum!) };
    bankSum!.delete();
    platformSum!.delete();
    this.received = new Map();
    this.stage = 'update';
    return [envelope(this.config.job, 'GradientSum', this.round, this.name, COORDINATOR, body)];
  }

  /** The banks' products repeat with the period of their width (bank features + 1, to a power of two). */
  private bankPeriod(): number {
    let w = 1;
    while (w < this.bankFeatures + 1) w *= 2;
    return w;
  }
}

export class HybridCoordinator implements Party {
  readonly name = COORDINATOR;
  stage: 'init' | 'gradients' | 'done' = 'init';
  round = 0;
  converged = false;
  readonly gradientNorms: number[] = [];
  /** The model as the coordinator tracks it from its steps: bank block (intercept first), then platform block. */
  weights: Float64Array = new Float64Array(0);
  /** Banks each round's gradient covered. */
  readonly roundBanks: string[][] = [];
  /** FOR THE ATTACK TESTS ONLY: each round's decrypted bank-feature gradient part, as released to the optimiser. */
  readonly releasedBankParts: Float64Array[] = [];
  private keys: KeyOwner | undefined;
  private dec: Decryption | undefined;
  private bfgs: BfgsState | undefined;
  private initialHessian: Float64Array | undefined;
  /** Banks still in the job, and their rows: the objective is the mean log-loss over these rows. */
  private live: string[];
  private rows: number;
  private readonly bankDim: number;
  private hostDim = 0;

  constructor(
    private readonly ckks: Ckks,
    private readonly banks: readonly string[],
    private readonly pooled: PooledStatistics,
    private readonly config: VflConfig,
    private readonly rng: Rng,
  ) {
    this.bankDim = Math.round(Math.sqrt(pooled.gram.length));
    this.live = [...banks];
    this.rows = pooled.rows;
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  /** Rows of the banks still in the job. */
  get liveRows(): number {
    return this.rows;
  }

  start(): Envelope[] {
    this.keys = generateKeys(this.ckks);
    this.dec = decryptorFor(this.ckks, this.keys);
    const body = { params: this.ckks.params.name, publicKey: this.keys.publicKey, galoisKeys: this.keys.galoisKeys };
    return [...this.banks, PLATFORM].map((to) => envelope(this.config.job, 'HybridSetup', 0, this.name, to, body));
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, this.stage === 'init' ? ['PlatformGram'] : this.stage === 'gradients' ? ['GradientSum'] : [], this.round);
    if (env.from !== PLATFORM) throw new IndomainError('VFL_BAD_MESSAGE', `${env.type} from "${env.from}", not the platform`);
    const b = env.body as Record<string, never>;
    return env.type === 'PlatformGram' ? this.onGram(b.rows, b.gram) : this.onGradient(b.banks, b.rows, b.bank, b.platform);
  }

  private onGram(rows: number, hostGram: Float64Array): Envelope[] {
    if (rows !== this.pooled.rows) throw new IndomainError('VFL_ROW_MISMATCH', `the platform aligned ${rows} rows, the banks' secure sum counts ${this.pooled.rows}`);
    const mh = Math.round(Math.sqrt(hostGram.length));
    if (mh * mh !== hostGram.length || mh < 1) throw new IndomainError('VFL_BAD_MESSAGE', `platform Gram of ${hostGram.length} values`, { field: 'gram' });
    this.hostDim = mh;
    const mb = this.bankDim;
    const d = mb + mh;
    // Block-diagonal: the cross block (bank × platform features) is left to BFGS.
    const gram = new Float64Array(d * d);
    for (let i = 0; i < mb; i++) for (let j = 0; j < mb; j++) gram[i * d + j] = this.pooled.gram[i * mb + j]!;
    for (let i = 0; i < mh; i++) for (let j = 0; j < mh; j++) gram[(mb + i) * d + mb + j] = hostGram[i * mh + j]!;
    const penalised = Array.from({ length: d }, (_, j) => j > 0);
    const rate = this.pooled.events / this.pooled.rows;
    this.initialHessian = initialLogisticHessian(gram, d, this.pooled.rows, rate, this.config.lambda, penalised);
    this.bfgs = bfgsInit(this.initialHessian, d);
    this.weights = new Float64Array(d);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, rate)));
    this.stage = 'gradients';
    return [envelope(this.config.job, 'HybridRoundStart', this.round, this.name, PLATFORM, {})];
  }

  /**
   * Decrypt Σ Xᵀd/√N₀ (N₀: the rows at the start, the divisor every party encoded with), flood it,
   * and scale it to Σ Xᵀd/N over the rows of the banks still in the job.
   */
  private decryptReleased(bytes: Uint8Array, count: number): Float64Array {
    const ct = deserialize(this.ckks, bytes);
    const values = this.dec!.decrypt(ct, count);
    ct.delete();
    const sigma = productNoise(this.ckks, Math.ceil(this.pooled.rows / this.ckks.slots)) * 2 ** this.config.floodMarginBits;
    const flooded = floodNoise(values, sigma, this.rng);
    const scale = Math.sqrt(this.pooled.rows) / this.rows;
    for (let j = 0; j < flooded.length; j++) flooded[j] *= scale;
    return flooded;
  }

  private onGradient(banks: string[], rows: number, bankPart: Uint8Array, platformPart: Uint8Array): Envelope[] {
    const live = this.live.filter((b) => banks.includes(b));
    if (live.join() !== banks.join() || banks.length === 0) throw new IndomainError('VFL_BAD_MESSAGE', 'the gradient must cover live banks only, in order', { field: 'banks' });
    if (banks.length === this.live.length && rows !== this.rows) throw new IndomainError('VFL_ROW_MISMATCH', `the platform sums ${rows} rows, the banks' secure sum counts ${this.rows}`);
    if (banks.length < this.live.length) {
      // A bank dropped out: from now on the pooled model of the others. The curvature pairs so far
      // were of another objective: BFGS starts again from the initial Hessian.
      this.live = banks;
      this.rows = rows;
      this.bfgs = bfgsInit(this.initialHessian!, this.initialHessian!.length ** 0.5);
    }
    this.roundBanks.push(banks);
    const gb = this.decryptReleased(bankPart, this.bankDim);
    this.releasedBankParts.push(gb.slice());
    const gh = this.decryptReleased(platformPart, this.hostDim);
    const grad = new Float64Array(this.bankDim + this.hostDim);
    grad.set(gb, 0);
    grad.set(gh, this.bankDim);
    for (let j = 1; j < grad.length; j++) grad[j] += this.config.lambda * this.weights[j]!;
    const norm = maxAbs(grad);
    this.gradientNorms.push(norm);
    const job = this.config.job;
    const everyone = [...this.live, PLATFORM];
    if (norm <= this.config.tolerance || this.round >= this.config.maxIterations) {
      this.converged = norm <= this.config.tolerance;
      this.stage = 'done';
      return everyone.map((to) => envelope(job, 'HybridFinished', this.round, this.name, to, { converged: this.converged, iterations: this.round, gradientNorm: norm }));
    }
    const r = bfgsStep(this.bfgs!, grad);
    this.bfgs = r.state;
    for (let j = 0; j < r.step.length; j++) this.weights[j] += r.step[j]!;
    const out = this.live.map((to) => envelope(job, 'HybridUpdate', this.round, this.name, to, { step: r.step.slice(0, this.bankDim) }));
    out.push(envelope(job, 'HybridUpdate', this.round, this.name, PLATFORM, { step: r.step.slice(this.bankDim) }));
    this.round++;
    out.push(envelope(job, 'HybridRoundStart', this.round, this.name, PLATFORM, {}));
    return out;
  }
}

/** A bank that goes silent from round `round` on (its process was killed): it sends nothing more. */
class KilledBank implements Party {
  constructor(
    readonly bank: HybridBank,
    private readonly round: number,
  ) {}

  get name(): string {
    return this.bank.name;
  }

  get done(): boolean {
    return true;
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    return env.round >= this.round && env.type !== 'HybridSetup' ? [] : this.bank.receive(env);
  }
}

/** One bank's rows for the hybrid pipeline, aligned with the platform's. */
export interface HybridPair {
  /** The bank's feature columns (the same features at every bank). */
  readonly bank: readonly Float64Array[];
  readonly y: Uint8Array;
  /** The platform's feature columns over the same rows, same order. */
  readonly platform: readonly Float64Array[];
}

export interface HybridResult {
  readonly intercept: number;
  /** Bank features, then platform features. */
  readonly weights: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Rows of the banks the model was last trained over. */
  readonly rows: number;
  readonly banks: HybridBank[];
  readonly platform: HybridPlatform;
  readonly coordinator: HybridCoordinator;
  readonly transport: MemoryTransport;
  /** Seconds and bytes per bank of the secure sum of the statistics (set-up and one round). */
  readonly secureSum: { setupSeconds: number; seconds: number; bytesPerBank: Record<string, number> };
  readonly seconds: number;
}

/** Train with every bank, the platform and the coordinator in this process. */
export async function hybridLrInMemory(input: {
  readonly job: string;
  readonly pairs: ReadonlyMap<string, HybridPair>;
  readonly config?: Partial<VflConfig>;
  /** The coordinator's randomness (noise flooding); the OS generator by default. */
  readonly rng?: Rng;
  readonly threshold?: number;
  /** Banks killed in a training round, before they answer the platform's basis. */
  readonly drops?: readonly { readonly bank: string; readonly round: number }[];
  /** FOR THE ATTACK TESTS ONLY. */
  readonly unsafe?: { bankRerandomise?: boolean; forwardOneBank?: string };
}): Promise<HybridResult> {
  const t0 = performance.now();
  const config = vflConfig(input.job, input.config);
  const names = [...input.pairs.keys()];
  const widths = new Set([...input.pairs.values()].map((p) => p.bank.length));
  if (widths.size !== 1) throw new IndomainError('VFL_BAD_CONFIG', `banks hold ${[...widths].join(' and ')} feature columns; all must hold the same features`, { field: 'banks' });
  const bankFeatures = [...widths][0]!;
  // Secure aggregation of each bank's counts and Gram block.
  const sa = new SecAggJob(secAggConfig({ job: `${input.job}/statistics`, banks: names, fractionBits: 16, ...(input.threshold ? { threshold: input.threshold } : {}) }));
  await sa.setup();
  const stats = await sa.aggregate(1, new Map(names.map((b) => [b, bankStatistics(input.pairs.get(b)!.bank, input.pairs.get(b)!.y)])));
  if (stats.banks.length !== names.length) throw new IndomainError('SECAGG_BELOW_THRESHOLD', `${stats.banks.length} of ${names.length} banks answered`, { field: 'banks' });
  const pooled = pooledFrom(stats.sum, bankFeatures);
  const contexts = await Promise.all([...names, PLATFORM, COORDINATOR].map(() => createCkks(config.params)));
  const banks = names.map((b, i) => new HybridBank(b, contexts[i]!, input.pairs.get(b)!.bank, input.pairs.get(b)!.y, pooled, config, cryptoRng, input.unsafe?.bankRerandomise ?? true));
  const platform = new HybridPlatform(contexts[names.length]!, new Map(names.map((b) => [b, input.pairs.get(b)!.platform])), bankFeatures, config, cryptoRng, input.unsafe?.forwardOneBank ? { forwardOneBank: input.unsafe.forwardOneBank } : {});
  const coordinator = new HybridCoordinator(contexts[names.length + 1]!, names, pooled, config, input.rng ?? cryptoRng);
  const parties = banks.map((b) => {
    const drop = input.drops?.find((d) => d.bank === b.name);
    return drop ? new KilledBank(b, drop.round) : b;
  });
  const transport = new MemoryTransport([coordinator, platform, ...parties]);
  await transport.run();
  // Each time the transport goes idle before the end, the platform's round deadline passes.
  while (!coordinator.done) {
    const late = platform.deadline();
    if (late.length === 0) throw new IndomainError('VFL_NOT_CONVERGED', `training stalled in round ${coordinator.round}`);
    await transport.run(late);
  }
  const alive = banks.find((b) => !input.drops?.some((d) => d.bank === b.name))!;
  const w = Float64Array.from([...alive.weights, ...platform.weights]);
  return {
    intercept: w[0]!,
    weights: w.slice(1),
    iterations: coordinator.round,
    converged: coordinator.converged,
    rows: coordinator.liveRows,
    banks,
    platform,
    coordinator,
    transport,
    secureSum: { setupSeconds: sa.setupOutcome!.seconds, seconds: stats.seconds, bytesPerBank: stats.bytesPerBank },
    seconds: (performance.now() - t0) / 1000,
  };
}
