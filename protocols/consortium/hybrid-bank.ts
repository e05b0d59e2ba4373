/**
 * A bank in `consortium-hybrid` (see hybrid.ts): its features and labels over the rows it aligned
 * with the platform, and the bank block of the model. Receives the platform's encrypted basis and
 * sends back, re-randomised, its encrypted residual and gradient part, both to the platform.
 */
import { linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { logit, sigmoid } from '../../models/logistic.ts';
import { addPlainProduct, combinationNoise, deserialize, encode, importPublicKeys, productNoise, rerandomize, serialize, type CipherText, type Ckks, type Evaluation } from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { chebyshevDegreeFor, perSampleCoefficients } from '../vfl-lr/chebyshev.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { accept, COORDINATOR, envelope, PLATFORM, type PooledStatistics } from './hybrid-common.ts';

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
    /** The pooled row and event counts (the secure sum's; the bank needs no more of it). */
    private readonly pooled: Pick<PooledStatistics, 'rows' | 'events'>,
    private readonly config: VflConfig,
    private readonly rng: Rng = cryptoRng,
    /**
     * FOR THE ATTACK TESTS ONLY (tests/attacks/hybrid-consortium.test.ts): false sends the residual
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
        // A term whose coefficients are all below the scale's resolution is left out.
        acc = addPlainProduct(this.ckks, acc, basis[k - 1]![c]!, coef[k]!.subarray(lo, hi), operandScale);
      }
      if (!acc) throw new IndomainError('HE_OUT_OF_RANGE', `every basis coefficient of rows ${lo}–${hi - 1} is below the scale's resolution: the window does not hold these rows' logits`);
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

