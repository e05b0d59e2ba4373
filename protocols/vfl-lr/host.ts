/**
 * The host (feature holder, the platform) in `vfl-lr`. Holds its features and weights (no
 * intercept). Receives only ciphertexts and its own steps; sends an encrypted Chebyshev basis of
 * its normalised partial logits and two aggregates of them per round.
 */
import { crossGram, linearPredictor } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { deserialize, encode, encryptChunks, encryptVector, importPublicKeys, serialize, type Ckks, type Evaluation } from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import { chebyshevBasis, chebyshevDegreeFor, normalise } from './chebyshev.ts';
import type { VflConfig } from './config.ts';
import { accept, envelope, gradientDivisor } from './common.ts';

type Stage = 'keys' | 'round' | 'residual' | 'update' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  keys: ['HeSetup'],
  round: ['RoundStart', 'Finished'],
  residual: ['Residual'],
  update: ['Update', 'Finished'],
  done: [],
};

export class VflHost implements Party {
  readonly name = 'host';
  stage: Stage = 'keys';
  round = 0;
  readonly weights: Float64Array;
  converged = false;
  iterations = 0;
  private ev: Evaluation | undefined;
  private packed: PackedColumns | undefined;
  private readonly rows: number;

  constructor(
    private readonly ckks: Ckks,
    private readonly x: readonly Float64Array[],
    private readonly config: VflConfig,
  ) {
    this.rows = x[0]?.length ?? 0;
    if (x.length === 0) throw new IndomainError('VFL_BAD_CONFIG', 'the host has no feature columns');
    this.weights = new Float64Array(x.length);
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS, env.type === 'HeSetup' ? 0 : this.round);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HeSetup':
        return this.onSetup(b.publicKey, b.galoisKeys);
      case 'RoundStart':
        return this.onRound();
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
      case 'Finished':
        this.converged = b.converged;
        this.iterations = b.iterations;
        this.stage = 'done';
        this.packed?.release();
        return [];
    }
    return [];
  }

  private onSetup(publicKey: Uint8Array, galoisKeys: Uint8Array): Envelope[] {
    this.ev = importPublicKeys(this.ckks, publicKey, galoisKeys);
    this.packed = new PackedColumns(this.ev, this.x, gradientDivisor(this.rows), this.ckks.operandScale);
    const m = Math.min(this.rows, this.config.hessianSampleRows, this.ckks.slots);
    const sample = this.x.map((c) => c.subarray(0, m));
    // Encrypted sample columns at the residual's scale: the guest multiplies them by its diagonals.
    const columns = sample.map((col) => {
      const ct = encryptVector(this.ev!, col, this.ckks.scale * this.ckks.operandScale);
      const s = serialize(this.ckks, ct);
      ct.delete();
      return s;
    });
    this.stage = 'round';
    return [
      envelope(this.config.job, 'HostInit', 0, this.name, 'arbiter', { rows: this.rows, sampleRows: m, gram: crossGram(sample, sample) }),
      envelope(this.config.job, 'HostSampleColumns', 0, this.name, 'guest', { columns }),
    ];
  }

  private onRound(): Envelope[] {
    const u = linearPredictor(this.x, this.weights, this.rows);
    let mean = 0;
    for (let i = 0; i < u.length; i++) mean += u[i]!;
    mean /= u.length;
    let v = 0;
    for (let i = 0; i < u.length; i++) v += (u[i]! - mean) ** 2;
    const std = Math.sqrt(v / Math.max(1, u.length - 1));
    const halfWidth = Math.max(this.config.minHalfWidth, this.config.windowStds * std);
    const degree = chebyshevDegreeFor(halfWidth, this.config.sigmoidTolerance, this.config.chebyshevDegree);
    const basis = chebyshevBasis(normalise(u, mean, halfWidth), degree).map((t) => encryptChunks(this.ev!, t));
    this.stage = 'residual';
    return [envelope(this.config.job, 'HostBasis', this.round, this.name, 'guest', { centre: mean, halfWidth, basis })];
  }

  private onResidual(chunks: Uint8Array[]): Envelope[] {
    const residual = chunks.map((c) => deserialize(this.ckks, c));
    const gradient = this.packed!.transposeTimes(residual);
    for (const ct of residual) ct.delete();
    const penalty = new Float64Array(this.weights.length);
    const divisor = gradientDivisor(this.rows);
    for (let j = 0; j < penalty.length; j++) penalty[j] = this.config.lambda * this.weights[j]! * divisor;
    const pp = encode(this.ckks, penalty, gradient.scale, gradient);
    this.ckks.evaluator.addPlain(gradient, pp, gradient);
    pp.delete();
    const g = serialize(this.ckks, gradient);
    gradient.delete();
    this.stage = 'update';
    return [envelope(this.config.job, 'HostGradient', this.round, this.name, 'arbiter', { gradient: g })];
  }
}
