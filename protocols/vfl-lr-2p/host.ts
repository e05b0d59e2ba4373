/**
 * The host (feature holder, the platform) in `vfl-lr-2p`. Holds its features, a secret orthogonal
 * rotation A of them and its weights in the rotated basis. Holds NO secret key: it receives the
 * guest's public keys, ciphertexts under the guest's key, its own steps, and computes with
 * plaintext × ciphertext products only; every result it returns is re-randomised and
 * noise-flooded (per copy) before it leaves.
 */
import { crossGram, linearPredictor, ones } from '../../engine/columns.ts';
import { IndomainError } from '../../engine/errors.ts';
import type { Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import type { Party } from '../transport.ts';
import { importPublicKeys, importRelinKeys, productNoise, rerandomize, serialize, type CipherText, type Ckks, type Evaluation } from '../he/ckks.ts';
import { PackedColumns } from '../he/packing.ts';
import type { RelinKeys } from 'node-seal/implementation/relin-keys.js';
import { chebyshevBasis } from '../vfl-lr/chebyshev.ts';
import { assignWindows, chooseWindows } from '../vfl-lr/windows.ts';
import { checkColumns, extremeFeatures } from '../../models/refusals.ts';
import { finishRefusal } from '../vfl-lr/refusal.ts';
import type { VflConfig } from '../vfl-lr/config.ts';
import { accept, combineChunks, encodeBasis, encryptedColumnsProduct, envelope, haarOrthogonal, identity, loadFresh, packingWidth, rotateColumns, timed, unrotate, type Profile } from './common.ts';
import { GUEST_COLUMN_DIVISOR, productScale, sampleRowsFor } from './scales.ts';

type Stage = 'keys' | 'sample' | 'columns' | 'round' | 'coefficients' | 'update' | 'done';
const EXPECTS: Record<Stage, readonly string[]> = {
  keys: ['TwoPartySetup'],
  sample: ['GuestSample'],
  columns: ['GuestColumns'],
  round: ['RoundStart', 'Finished'],
  coefficients: ['GuestCoefficients'],
  update: ['Update', 'Finished'],
  done: [],
};

/**
 * Switches FOR THE ATTACK TESTS ONLY (tests/attacks/two-party-*.test.ts). No job spec, request or
 * CLI flag reaches them: the server and the benchmark construct the host without this argument.
 */
export interface HostDefences {
  /** false: A = I, the guest's host-block weights are the platform's plaintext weights. */
  readonly rotate: boolean;
  /** false: results are re-randomised with no flooding noise, so their error depends on the host's plaintexts. */
  readonly flood: boolean;
}

export class TwoPartyHost implements Party {
  readonly name = 'host';
  stage: Stage = 'keys';
  round = 0;
  converged = false;
  iterations = 0;
  readonly profile: Profile = {};
  /** Weights of the rotated columns (the coordinates the guest's optimiser works in). */
  readonly rotatedWeights: Float64Array;
  private readonly rows: number;
  /** The secret rotation, row-major p × p; never leaves this party. */
  private readonly a: Float64Array;
  private readonly xr: Float64Array[];
  private ev: Evaluation | undefined;
  private packed: PackedColumns | undefined;
  private guestColumns = 0;
  private relinKeys: RelinKeys | undefined;
  /** The guest's columns in diagonal order, [k][chunk], under the guest's key. */
  private diagonals: CipherText[][] | undefined;
  /** This round's plaintext basis B_v (v = 0: the constant), kept until the coefficients arrive. */
  private basis: Float64Array[] | undefined;

  constructor(
    private readonly ckks: Ckks,
    private readonly x: readonly Float64Array[],
    private readonly config: VflConfig,
    /** This party's secret randomness (the rotation and the floods): engine/rng.ts secretRng or cryptoRng. */
    private readonly rng: Rng,
    /** Feature names, for refusals only (they never leave this party). */
    private readonly names?: readonly string[],
    private readonly defences: HostDefences = { rotate: true, flood: true },
  ) {
    this.rows = x[0]?.length ?? 0;
    checkColumns(x, names, 'the host');
    this.a = defences.rotate ? haarOrthogonal(x.length, rng) : identity(x.length);
    this.xr = rotateColumns(x, this.a);
    this.rotatedWeights = new Float64Array(x.length);
  }

  /**
   * The guest's public, Galois and relinearisation keys from TwoPartySetup (no secret key): the
   * two-party scorecard stage computes the Fisher information under them (protocols/scorecard-2p).
   */
  guestKeys: { readonly publicKey: Uint8Array; readonly galoisKeys: Uint8Array; readonly relinKeys: Uint8Array } | undefined;

  /**
   * A copy of the secret rotation A (row-major): for this party's own later stages of the same
   * job only (the scorecard's Fisher information in the same rotated coordinates). NEVER SEND IT.
   */
  get rotation(): Float64Array {
    return this.a.slice();
  }

  /** The weights of the platform's own columns: Aᵀ w̃ (only the host can compute them). */
  get weights(): Float64Array {
    return unrotate(this.rotatedWeights, this.a);
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  start(): Envelope[] {
    return [];
  }

  receive(env: Envelope): Envelope[] {
    accept(env, this.config.job, this.stage, EXPECTS, this.round);
    const b = env.body as Record<string, never>;
    switch (env.type) {
      case 'TwoPartySetup':
        return this.onSetup(b.params, b.publicKey, b.galoisKeys, b.relinKeys, b.rows, b.sampleRows);
      case 'GuestColumns':
        return timed(this.profile, 'load guest columns', () => this.onColumns(b.diagonals as Uint8Array[][]));
      case 'GuestSample':
        return timed(this.profile, 'sample cross Gram', () => this.onSample(b.columns as Uint8Array[]));
      case 'RoundStart':
        return timed(this.profile, 'windows and basis', () => this.onRound(b.sigmoidTolerance));
      case 'GuestCoefficients':
        return this.onCoefficients(b.coefficients as Uint8Array[][]);
      case 'Update': {
        const step = b.step as Float64Array;
        if (step.length !== this.rotatedWeights.length) throw new IndomainError('VFL_BAD_MESSAGE', `step has ${step.length} values, host has ${this.rotatedWeights.length} weights`, { field: 'step' });
        for (let j = 0; j < step.length; j++) this.rotatedWeights[j] += step[j]!;
        this.round++;
        this.stage = 'round';
        return [];
      }
      case 'Finished': {
        this.converged = b.converged;
        this.iterations = b.iterations;
        this.stage = 'done';
        this.release();
        // Refused as in vfl-lr (protocols/vfl-lr/refusal.ts), naming the host's own features.
        const refusal = finishRefusal({ converged: b.converged, iterations: b.iterations }, this.x, this.weights, this.names, this.config.refuseUnconverged);
        if (refusal) throw refusal;
        return [];
      }
    }
    return [];
  }

  private release(): void {
    this.packed?.release();
    for (const row of this.diagonals ?? []) for (const ct of row) ct.delete();
    this.diagonals = undefined;
    this.relinKeys?.delete();
    this.relinKeys = undefined;
  }

  /** Idle time: encode the diagonals of its own columns for the first product. */
  background(): boolean {
    return this.stage !== 'done' && !!this.packed && timed(this.profile, 'background (diagonals)', () => this.packed!.prepareStep());
  }

  private sigma(): number {
    // Off (attack tests only): a fresh encryption of zero, no flood (encodes to nothing at 2^40).
    if (!this.defences.flood) return 1e-30;
    return productNoise(this.ckks, Math.ceil(this.rows / this.ckks.slots)) * 2 ** this.config.floodMarginBits;
  }

  private onSetup(params: string, publicKey: Uint8Array, galoisKeys: Uint8Array, relinKeys: Uint8Array, rows: number, sampleRows: number): Envelope[] {
    if (params !== this.config.params) throw new IndomainError('VFL_BAD_MESSAGE', `parameter set "${params}", job uses "${this.config.params}"`, { field: 'params' });
    if (rows !== this.rows) throw new IndomainError('VFL_ROW_MISMATCH', `guest has ${rows} rows, host ${this.rows}`);
    if (sampleRows !== sampleRowsFor(this.rows, this.config, this.ckks)) throw new IndomainError('VFL_BAD_MESSAGE', `sample of ${sampleRows} rows`, { field: 'sampleRows' });
    this.ev = importPublicKeys(this.ckks, publicKey, galoisKeys);
    this.guestKeys = { publicKey, galoisKeys, relinKeys };
    this.relinKeys = importRelinKeys(this.ckks, relinKeys);
    this.packed = new PackedColumns(this.ev, this.xr, Math.sqrt(this.rows), this.ckks.operandScale);
    this.stage = 'sample';
    return [];
  }

  /** [[X_Gᵀ X̃_H / √m]] over the sample rows, one ciphertext per guest column, and the rotated host Gram. */
  private onSample(columns: Uint8Array[]): Envelope[] {
    const m = sampleRowsFor(this.rows, this.config, this.ckks);
    if (columns.length < 2 || columns.length > this.ckks.slots) throw new IndomainError('VFL_BAD_MESSAGE', `${columns.length} guest sample columns`, { field: 'columns' });
    this.guestColumns = columns.length;
    const sample = this.xr.map((c) => c.subarray(0, m));
    const packed = new PackedColumns(this.ev!, sample, Math.sqrt(m), this.ckks.operandScale);
    const sigma = this.defences.flood ? productNoise(this.ckks, 1) * 2 ** this.config.floodMarginBits : 1e-30;
    const cross = columns.map((bytes) => {
      const ct = loadFresh(this.ckks, bytes, productScale(this.ckks), 'columns');
      const r = packed.transposeTimes([ct]);
      ct.delete();
      rerandomize(this.ev!, r, sigma, this.rng, packed.width);
      const out = serialize(this.ckks, r);
      r.delete();
      return out;
    });
    packed.release();
    this.stage = 'columns';
    return [envelope(this.config.job, 'HostSampleGram', 0, this.name, 'guest', { gram: crossGram(sample, sample), cross })];
  }

  private onColumns(diagonals: Uint8Array[][]): Envelope[] {
    const width = packingWidth(this.guestColumns);
    const chunks = Math.ceil(this.rows / this.ckks.slots);
    if (diagonals.length !== width || diagonals.some((d) => d.length !== chunks)) {
      throw new IndomainError('VFL_BAD_MESSAGE', `guest columns must be ${width} × ${chunks} ciphertexts`, { field: 'diagonals' });
    }
    this.diagonals = diagonals.map((row) => row.map((bytes) => loadFresh(this.ckks, bytes, this.ckks.scale, 'diagonals')));
    this.stage = 'round';
    return [];
  }

  /** Windows of the partial logits X̃_H w̃_H (= X_H w_H) and this round's plaintext basis. */
  private onRound(sigmoidTolerance: number): Envelope[] {
    if (!(sigmoidTolerance >= this.config.sigmoidTolerance && sigmoidTolerance <= this.config.sigmoidToleranceStart)) {
      throw new IndomainError('VFL_BAD_MESSAGE', 'sigmoid tolerance outside the configured range', { field: 'sigmoidTolerance' });
    }
    const n = this.rows;
    const u = linearPredictor(this.xr, this.rotatedWeights, n);
    const windows = chooseWindows(u, { ...this.config, sigmoidTolerance }, () => extremeFeatures(this.x, this.weights, this.names).join(', '));
    const which = assignWindows(u, windows);
    const basis: Float64Array[] = [ones(n)];
    const tau = new Float64Array(n);
    windows.forEach((w, j) => {
      for (let i = 0; i < n; i++) tau[i] = which[i] === j ? Math.max(-1, Math.min(1, (u[i]! - w.centre) / w.halfWidth)) : 0;
      for (const tk of chebyshevBasis(tau, w.degree)) {
        for (let i = 0; i < n; i++) if (which[i] !== j) tk[i] = 0;
        basis.push(tk);
      }
      if (j < windows.length - 1) basis.push(Float64Array.from(which, (k) => (k === j ? 1 : 0)));
    });
    this.basis = basis;
    this.stage = 'coefficients';
    return [
      envelope(this.config.job, 'HostWindows', this.round, this.name, 'guest', {
        sigmoidTolerance,
        centres: windows.map((w) => w.centre),
        halfWidths: windows.map((w) => w.halfWidth),
      }),
    ];
  }

  private onCoefficients(coefficients: Uint8Array[][]): Envelope[] {
    const { guest, host } = hostGradients(this.ckks, this.ev!, this.relinKeys!, this.packed!, this.diagonals!, this.basis!, coefficients, this.profile);
    this.basis = undefined;
    const sigma = this.sigma();
    const out = timed(this.profile, 're-randomise, serialise', () => {
      // The guest result is X_Gᵀd/(8√n): flooded 8 times smaller, the same noise per weight.
      rerandomize(this.ev!, guest, sigma / GUEST_COLUMN_DIVISOR, this.rng, packingWidth(this.guestColumns));
      rerandomize(this.ev!, host, sigma, this.rng, this.packed!.width);
      const body = { guest: serialize(this.ckks, guest), host: serialize(this.ckks, host) };
      guest.delete();
      host.delete();
      return body;
    });
    this.stage = 'update';
    return [envelope(this.config.job, 'TwoPartyGradient', this.round, this.name, 'guest', out)];
  }
}

/**
 * The host's evaluation, before re-randomisation: d = Σ_v B_v ⊙ [[c_v]] per chunk, then
 * [[X̃_Hᵀ d/√n]] (its plaintext columns) and [[X_Gᵀ d/√n]] (the guest's encrypted columns).
 * Exported so that the circuit-privacy attack (tests/attacks) can replay it, as a guest who
 * guesses the host's inputs would.
 */
export function hostGradients(
  ckks: Ckks,
  ev: Evaluation,
  relinKeys: RelinKeys,
  packed: PackedColumns,
  diagonals: readonly CipherText[][],
  basis: readonly Float64Array[],
  coefficients: Uint8Array[][],
  profile: Profile = {},
): { guest: CipherText; host: CipherText } {
  const chunks = Math.ceil(basis[0]!.length / ckks.slots);
  if (coefficients.length !== basis.length || coefficients.some((c) => c.length !== chunks)) {
    throw new IndomainError('VFL_BAD_MESSAGE', `coefficients must be ${basis.length} × ${chunks} ciphertexts`, { field: 'coefficients' });
  }
  const plain = timed(profile, 'encode basis', () => encodeBasis(ckks, basis));
  let d: CipherText[] = [];
  try {
    d = timed(profile, 'residual (products)', () => combineChunks(ev, plain, (v, c) => loadFresh(ckks, coefficients[v]![c]!, ckks.scale, 'coefficients')));
    const host = timed(profile, 'host gradient product', () => packed.transposeTimes(d));
    const guest = timed(profile, 'guest gradient product', () => encryptedColumnsProduct(ev, relinKeys, d, diagonals));
    return { guest, host };
  } finally {
    for (const ct of d) ct.delete();
    for (const row of plain) for (const p of row) p?.delete();
  }
}
