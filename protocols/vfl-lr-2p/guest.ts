/**
 * The guest (label holder, the bank) in `vfl-lr-2p`: owns the ONLY CKKS key pair of the job (DO NOT
 * SEND THE SECRET KEY TO ANY OTHER PARTY: no message has a field for it), its features, labels
 * and weights (intercept first), and runs the optimiser in the host's rotated coordinates. It
 * decrypts aggregates only: the sample cross Gram and per-round gradients, each flooded by the host.
 */
import { crossGram, linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import { maxAbs } from '../../engine/linalg.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { decryptorFor, deserialize, floodNoise, generateKeys, productNoise, secretKeyBytes, type Ckks, type Decryption, type KeyOwner } from '../he/ckks.ts';
import { eventRate, logit, sigmoid } from '../../models/logistic.ts';
import { initialLogisticHessian } from '../../models/bfgs.ts';
import { WolfeBfgs } from '../../models/wolfe.ts';
import { checkOwnSeparation, finishRefusal } from '../vfl-lr/refusal.ts';
import type { IndomainError as Refusal } from '../../engine/errors.ts';
import { checkColumns } from '../../models/refusals.ts';
import { perSampleCoefficients } from '../vfl-lr/chebyshev.ts';
import { windowDegree, type SigmoidWindow } from '../vfl-lr/windows.ts';
import { roundTolerance, type VflConfig } from '../vfl-lr/config.ts';
import { accept, envelope, forEachDiagonal, OwnerEncryptor, packingWidth, timed, type Profile } from './common.ts';
import { GUEST_COLUMN_DIVISOR, guestColumnDivisor, productScale, sampleRowsFor } from './scales.ts';

type Stage = 'gram' | 'windows' | 'gradient' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  gram: ['HostSampleGram'],
  windows: ['HostWindows'],
  gradient: ['TwoPartyGradient'],
  done: [],
};

export class TwoPartyGuest implements Party {
  readonly name = 'guest';
  stage: Stage = 'gram';
  round = 0;
  converged = false;
  /** Intercept first, then one weight per guest feature. */
  readonly weights: Float64Array;
  /** The host's weights in its rotated basis, as the guest's optimiser moved them (the model in rotated coordinates). */
  hostRotated = new Float64Array(0);
  /** ‖gradient‖∞ at each round. */
  readonly gradientNorms: number[] = [];
  readonly profile: Profile = {};
  private readonly x: Float64Array[];
  private keys: KeyOwner | undefined;
  private dec: Decryption | undefined;
  private enc: OwnerEncryptor | undefined;
  private opt: WolfeBfgs | undefined;
  private gradientNoise = 0;
  private tolerance = 0;
  /**
   * Set when training ended without converging: this party's coded refusal naming its own
   * features, after Finished has gone to the host (which refuses on it).
   * Whoever runs the guest fails the job with it (trainTwoPartyInMemory does).
   */
  refusal: Refusal | undefined;

  constructor(
    private readonly ckks: Ckks,
    cols: readonly Float64Array[],
    private readonly y: Uint8Array,
    private readonly config: VflConfig,
    /** This party's secret randomness (the release floods): engine/rng.ts secretRng or cryptoRng. */
    private readonly rng: Rng,
    /** Feature names, for refusals only (they never leave this party). */
    private readonly names?: readonly string[],
    /** A secret key kept from an earlier run of this job (restart), and where to keep a new one. */
    private readonly keyStore?: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void },
  ) {
    if (cols.some((c) => c.length !== y.length)) throw new IndomainError('VFL_ROW_MISMATCH', 'guest columns and labels differ in length');
    checkColumns(cols, names, 'the guest');
    checkOwnSeparation(cols, y, names);
    this.x = [ones(y.length), ...cols];
    this.weights = new Float64Array(this.x.length);
    this.weights[0] = logit(Math.min(1 - 1e-6, Math.max(1e-6, eventRate(y))));
  }

  /** This job's key pair (the scorecard stage of a two-party job decrypts under it too). */
  get keyOwner(): KeyOwner | undefined {
    return this.keys;
  }

  get iterations(): number {
    return this.round;
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  private get rows(): number {
    return this.y.length;
  }

  start(): Envelope[] {
    this.keys = generateKeys(this.ckks, this.keyStore?.stored);
    if (!this.keyStore?.stored) this.keyStore?.keep?.(secretKeyBytes(this.ckks, this.keys));
    this.dec = decryptorFor(this.ckks, this.keys);
    this.enc = new OwnerEncryptor(this.ckks, this.keys);
    const m = sampleRowsFor(this.rows, this.config, this.ckks);
    const job = this.config.job;
    const columns = timed(this.profile, 'encrypt', () => this.x.map((c) => this.enc!.encrypt(c.subarray(0, m), productScale(this.ckks))));
    const diagonals: Uint8Array[][] = Array.from({ length: packingWidth(this.x.length) }, () => []);
    timed(this.profile, 'encrypt', () =>
      forEachDiagonal(this.x, ones(this.rows), guestColumnDivisor(this.rows), this.ckks.slots, (k, chunk, values) => {
        diagonals[k]![chunk] = this.enc!.encrypt(values, this.ckks.scale);
      }),
    );
    const kg = this.ckks.seal.KeyGenerator(this.ckks.context, this.keys.secretKey);
    const rk = kg.createRelinKeys();
    const relinKeys = rk.saveArray(this.ckks.seal.ComprModeType.none);
    rk.delete();
    kg.delete();
    return [
      envelope(job, 'TwoPartySetup', 0, this.name, 'host', { params: this.ckks.params.name, publicKey: this.keys.publicKey, galoisKeys: this.keys.galoisKeys, relinKeys, rows: this.rows, sampleRows: m }),
      envelope(job, 'GuestSample', 0, this.name, 'host', { columns }),
      envelope(job, 'GuestColumns', 0, this.name, 'host', { diagonals }),
    ];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS, this.round);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'HostSampleGram':
        return this.onGram(b.gram, b.cross as Uint8Array[]);
      case 'HostWindows':
        return timed(this.profile, 'coefficients, encrypt', () => this.onWindows(b.sigmoidTolerance, b.centres, b.halfWidths));
      case 'TwoPartyGradient':
        return timed(this.profile, 'decrypt, step', () => this.onGradient(b.guest, b.host));
    }
    return [];
  }

  /** Decrypt the first `count` values of a host result, flood them before any use, undo `divisor`. */
  private release(bytes: Uint8Array, count: number, divisor: number, chunks: number, floodDivisor = 1): Float64Array {
    const ct = deserialize(this.ckks, bytes);
    const values = this.dec!.decrypt(ct, count);
    ct.delete();
    // The guest only ever releases moves derived from these values, never the values; the flood
    // keeps exact decryptions out of anything that leaves (CKKS is not IND-CPA-D secure).
    const flooded = floodNoise(values, (productNoise(this.ckks, chunks) * 2 ** this.config.floodMarginBits) / floodDivisor, this.rng);
    for (let j = 0; j < flooded.length; j++) flooded[j] /= divisor;
    return flooded;
  }

  /** The initial Hessian over the sample rows, in the host's rotated coordinates; round 0 starts. */
  private onGram(hostGram: Float64Array, cross: Uint8Array[]): Envelope[] {
    const pg = this.x.length;
    const ph = Math.round(Math.sqrt(hostGram.length));
    if (ph < 1 || ph * ph !== hostGram.length) throw new IndomainError('VFL_BAD_MESSAGE', `host Gram of ${hostGram.length} values`, { field: 'gram' });
    if (cross.length !== pg) throw new IndomainError('VFL_BAD_MESSAGE', `${cross.length} cross-Gram ciphertexts for ${pg} guest columns`, { field: 'cross' });
    const m = sampleRowsFor(this.rows, this.config, this.ckks);
    const sample = this.x.map((c) => c.subarray(0, m));
    const own = crossGram(sample, sample);
    const d = pg + ph;
    const gram = new Float64Array(d * d);
    for (let i = 0; i < pg; i++) for (let j = 0; j < pg; j++) gram[i * d + j] = own[i * pg + j]!;
    for (let i = 0; i < ph; i++) for (let j = 0; j < ph; j++) gram[(pg + i) * d + pg + j] = hostGram[i * ph + j]!;
    cross.forEach((bytes, j) => {
      const row = this.release(bytes, ph, 1 / Math.sqrt(m), 1);
      for (let l = 0; l < ph; l++) {
        gram[j * d + pg + l] = row[l]!;
        gram[(pg + l) * d + j] = row[l]!;
      }
    });
    this.hostRotated = new Float64Array(ph);
    const penalised = Array.from({ length: d }, (_, j) => j > 0);
    // Two floods reach each gradient value: the host's on its result, the guest's on release.
    const chunks = Math.ceil(this.rows / this.ckks.slots);
    this.gradientNoise = (productNoise(this.ckks, chunks) * 2 ** this.config.floodMarginBits * Math.SQRT2) / Math.sqrt(this.rows);
    this.opt = new WolfeBfgs(initialLogisticHessian(gram, d, m, eventRate(this.y), this.config.lambda, penalised), d, { gradientNoise: this.gradientNoise });
    this.tolerance = this.config.sigmoidToleranceStart;
    this.stage = 'windows';
    return [envelope(this.config.job, 'RoundStart', this.round, this.name, 'host', { sigmoidTolerance: this.tolerance })];
  }

  /** The host's windows, checked: 1..maxWindows of them, increasing, each at least minHalfWidth wide. */
  private checkWindows(centres: number[], halfWidths: number[], sigmoidTolerance: number): SigmoidWindow[] {
    const bad = (why: string): never => {
      throw new IndomainError('VFL_BAD_MESSAGE', why, { field: 'centres' });
    };
    if (sigmoidTolerance !== this.tolerance) throw new IndomainError('VFL_BAD_MESSAGE', 'sigmoid tolerance is not the round’s', { field: 'sigmoidTolerance' });
    if (centres.length < 1 || centres.length > this.config.maxWindows || halfWidths.length !== centres.length) bad(`${centres.length} windows (1..${this.config.maxWindows}, one half-width each)`);
    return centres.map((c, j) => {
      const r = halfWidths[j]!;
      if (!(r >= this.config.minHalfWidth) || !Number.isFinite(r) || !Number.isFinite(c) || r > 1024) bad(`window ${j}: half-width out of range`);
      if (j > 0 && !(c > centres[j - 1]!)) bad(`window ${j}: centres must increase`);
      return { centre: c, halfWidth: r, degree: windowDegree(r, { ...this.config, sigmoidTolerance }) };
    });
  }

  /**
   * Per-row Chebyshev coefficients c_v of σ(u_G + c_j + R_j τ) − y in the host's basis (the order
   * the host builds it: the constant, then per window T_1..T_K and its indicator but the last's),
   * encrypted.
   */
  private onWindows(sigmoidTolerance: number, centres: number[], halfWidths: number[]): Envelope[] {
    const windows = this.checkWindows(centres, halfWidths, sigmoidTolerance);
    const n = this.rows;
    const a = linearPredictor(this.x, this.weights, n);
    const shifted = (c: number) => Float64Array.from(a, (v) => v + c);
    const last = windows[windows.length - 1]!;
    const lastConstant = perSampleCoefficients(sigmoid, shifted(last.centre), last.halfWidth, last.degree)[0]!;
    const vectors: Float64Array[] = [Float64Array.from(lastConstant, (v, i) => v - this.y[i]!)];
    windows.forEach((w, j) => {
      const coef = perSampleCoefficients(sigmoid, shifted(w.centre), w.halfWidth, w.degree);
      for (let k = 1; k <= w.degree; k++) vectors.push(coef[k]!);
      if (j < windows.length - 1) vectors.push(Float64Array.from(coef[0]!, (v, i) => v - lastConstant[i]!));
    });
    const coefficients = vectors.map((c) => this.enc!.encryptChunks(c, this.ckks.scale));
    this.stage = 'gradient';
    return [envelope(this.config.job, 'GuestCoefficients', this.round, this.name, 'host', { coefficients })];
  }

  private onGradient(guestBytes: Uint8Array, hostBytes: Uint8Array): Envelope[] {
    const pg = this.x.length;
    const ph = this.hostRotated.length;
    const n = this.rows;
    const chunks = Math.ceil(n / this.ckks.slots);
    const grad = new Float64Array(pg + ph);
    // The guest result carries X_Gᵀd/(8√n) and floods 8 times smaller: the same noise per weight.
    grad.set(this.release(guestBytes, pg, n / guestColumnDivisor(n), chunks, GUEST_COLUMN_DIVISOR), 0);
    grad.set(this.release(hostBytes, ph, Math.sqrt(n), chunks), pg);
    // The L2 term: the guest knows every weight in the optimiser's coordinates (‖w̃_H‖ = ‖w_H‖).
    for (let j = 1; j < pg; j++) grad[j] += this.config.lambda * this.weights[j]!;
    for (let l = 0; l < ph; l++) grad[pg + l] += this.config.lambda * this.hostRotated[l]!;
    const norm = maxAbs(grad);
    this.gradientNorms.push(norm);
    const job = this.config.job;
    const opt = this.opt!;
    const all = Float64Array.from([...this.weights, ...this.hostRotated]);
    const finish = (converged: boolean): Envelope[] => {
      this.converged = converged;
      this.stage = 'done';
      this.enc?.release();
      this.refusal = finishRefusal({ converged, iterations: this.round }, this.x.slice(1), this.weights.subarray(1), this.names, this.config.refuseUnconverged);
      return [envelope(job, 'Finished', this.round, this.name, 'host', { converged, iterations: this.round, gradientNorm: norm })];
    };
    // As the three-party arbiter: converged at the final sigmoid tolerance when the gradient is at
    // the floods' level or the next quasi-Newton step is negligible.
    const converged =
      this.tolerance <= this.config.sigmoidTolerance &&
      (norm <= Math.max(this.config.tolerance, 3 * this.gradientNoise) || opt.predictedStep(grad) <= this.config.stepTolerance * Math.max(1, maxAbs(all)));
    if (converged) return finish(true);
    if (this.round >= this.config.maxIterations) return finish(false);
    const move = opt.next(grad);
    for (let j = 0; j < pg; j++) this.weights[j] += move[j]!;
    for (let l = 0; l < ph; l++) this.hostRotated[l] += move[pg + l]!;
    const out = [envelope(job, 'Update', this.round, this.name, 'host', { step: move.slice(pg) })];
    this.round++;
    this.tolerance = roundTolerance(this.config, norm, this.tolerance);
    this.stage = 'windows';
    return [...out, envelope(job, 'RoundStart', this.round, this.name, 'host', { sigmoidTolerance: this.tolerance })];
  }
}
