/**
 * The coordinator in `consortium-hybrid` (see hybrid.ts): owns the CKKS key, decrypts only the
 * platform's sums over banks, runs BFGS and sends each party its block of the step.
 */
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import { maxAbs } from '../../engine/linalg.ts';
import { bfgsInit, bfgsStep, initialLogisticHessian, type BfgsState } from '../../models/bfgs.ts';
import { logit } from '../../models/logistic.ts';
import { decryptorFor, deserialize, floodNoise, generateKeys, productNoise, type Ckks, type Decryption, type KeyOwner } from '../he/ckks.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { accept, checkSummedBanks, COORDINATOR, envelope, PLATFORM, type PooledStatistics } from './hybrid-common.ts';

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
    /** FOR THE ATTACK TESTS ONLY (tests/attacks/hybrid-lone-bank.test.ts): decrypt a sum over one bank. */
    private readonly unsafe: { loneBank?: boolean } = {},
  ) {
    if (!unsafe.loneBank) checkSummedBanks(banks.length, 'coordinator');
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
    // Decrypted, a sum over one bank is that bank's part: refuse it before decrypting anything.
    if (!this.unsafe.loneBank) checkSummedBanks(banks.length, 'GradientSum');
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
