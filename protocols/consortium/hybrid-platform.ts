/**
 * The platform in `consortium-hybrid` (see hybrid.ts): its features over each bank's aligned rows and
 * the platform block of the model. Sends each bank the encrypted Chebyshev basis of its partial
 * logits on that bank's rows; sums every bank's encrypted gradient part, and its own products with
 * every bank's residual, before the coordinator decrypts anything.
 */
import { crossGram, linearPredictor } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { cryptoRng, type Rng } from '../../engine/rng.ts';
import { addSameShape, deserialize, encryptChunks, importPublicKeys, productNoise, rerandomize, serialize, type CipherText, type Ckks, type Evaluation } from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { chebyshevBasis, chebyshevDegreeFor, normalise } from '../vfl-lr/chebyshev.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { accept, checkSummedBanks, COORDINATOR, envelope, PLATFORM } from './hybrid-common.ts';

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
     * FOR THE ATTACK TESTS ONLY (tests/attacks/hybrid-consortium.test.ts): forwards one bank's
     * gradient part alone instead of the sum over banks, to show what the coordinator could then read;
     * `loneBank` (tests/attacks/hybrid-lone-bank.test.ts) closes a round that only one bank answered.
     */
    private readonly unsafe: { forwardOneBank?: string; loneBank?: boolean } = {},
  ) {
    if (!unsafe.loneBank) checkSummedBanks(pairs.size, 'platform');
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
   * dropped out, for the rest of the job; the round is summed over the others. Refused
   * (VFL_TOO_FEW_BANKS) when fewer than two answered: nothing is summed or sent.
   */
  deadline(): Envelope[] {
    if (this.stage !== 'gradients') return [];
    const answered = this.live.filter((b) => this.answered(b));
    if (answered.length === 0) throw new IndomainError('VFL_BAD_MESSAGE', 'no bank answered this round', { field: 'banks' });
    // One bank's sum is its own part: the key owner would read it. The round stays open (a late
    // bank may still answer); the driver stops the job.
    if (!this.unsafe.loneBank) checkSummedBanks(answered.length, `round ${this.round}`);
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
        addSameShape(this.ckks, platformSum, g);
        g.delete();
      } else platformSum = g;
      if (this.unsafe.forwardOneBank && bank !== this.unsafe.forwardOneBank) {
        got.gradient!.delete();
        continue;
      }
      if (bankSum) {
        addSameShape(this.ckks, bankSum, got.gradient!);
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

