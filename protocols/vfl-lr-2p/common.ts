/**
 * Shared pieces of `vfl-lr-2p`: envelope checks, the host's secret rotation, the guest's symmetric
 * encryption and the host's product of the guest's encrypted diagonals with its plaintext basis.
 */
import { IndomainError } from '../../engine/errors.ts';
import { gaussian, type Rng } from '../../engine/rng.ts';
import type { Envelope } from '../message.ts';
import { performance } from 'node:perf_hooks';
import { deserialize, encode, type CipherText, type Ckks, type Evaluation, type KeyOwner, type PlainText } from '../he/ckks.ts';
import type { Encryptor } from 'node-seal/implementation/encryptor.js';
import type { RelinKeys } from 'node-seal/implementation/relin-keys.js';
import { VFL2 } from './messages.ts';
import { acceptRound } from '../vfl-lr/common.ts';

/** Refuse a message for another job, stage or round; validate its body against its declaration. */
export function accept(env: Envelope, job: string, stage: string, expected: Readonly<Record<string, readonly string[]>>, round: number): void {
  acceptRound(VFL2, env, job, stage, expected, round);
}

export function envelope(job: string, type: string, round: number, from: string, to: string, body: Record<string, unknown>): Envelope {
  return { job, protocol: VFL2, type, round, from, to, body };
}

/**
 * A Haar-random orthogonal p × p matrix (row-major): Gram–Schmidt (twice, for rounding) on the
 * columns of a matrix of independent standard Gaussians, which is the QR decomposition with a
 * positive diagonal of R, the sign correction that makes Q exactly Haar-distributed (Mezzadri,
 * "How to generate random matrices from the classical compact groups", Notices AMS 2007).
 * `rng` must be the host's secret generator: whoever knows A reads the platform's weights.
 */
export function haarOrthogonal(p: number, rng: Rng): Float64Array {
  const cols = Array.from({ length: p }, () => Float64Array.from({ length: p }, () => gaussian(rng)));
  for (let j = 0; j < p; j++) {
    const v = cols[j]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const u = cols[i]!;
        let d = 0;
        for (let t = 0; t < p; t++) d += u[t]! * v[t]!;
        for (let t = 0; t < p; t++) v[t] -= d * u[t]!;
      }
    }
    let norm = 0;
    for (let t = 0; t < p; t++) norm += v[t]! * v[t]!;
    norm = Math.sqrt(norm);
    for (let t = 0; t < p; t++) v[t] /= norm;
  }
  const a = new Float64Array(p * p);
  // Row l of A is the l-th orthonormal vector: x̃_l = Σ_m A[l][m] x_m.
  for (let l = 0; l < p; l++) for (let m = 0; m < p; m++) a[l * p + m] = cols[l]![m]!;
  return a;
}

/** The identity (the rotation switched off, for the attack tests only). */
export function identity(p: number): Float64Array {
  const a = new Float64Array(p * p);
  for (let j = 0; j < p; j++) a[j * p + j] = 1;
  return a;
}

/** Columns X Aᵀ: column l is Σ_m A[l][m]·x_m. */
export function rotateColumns(x: readonly Float64Array[], a: Float64Array): Float64Array[] {
  const p = x.length;
  const n = x[0]?.length ?? 0;
  return Array.from({ length: p }, (_, l) => {
    const out = new Float64Array(n);
    for (let m = 0; m < p; m++) {
      const c = a[l * p + m]!;
      if (c === 0) continue;
      const xm = x[m]!;
      for (let i = 0; i < n; i++) out[i] += c * xm[i]!;
    }
    return out;
  });
}

/** Aᵀ w̃: the weights of the original columns from the rotated ones. */
export function unrotate(wr: ArrayLike<number>, a: Float64Array): Float64Array {
  const p = wr.length;
  const out = new Float64Array(p);
  for (let l = 0; l < p; l++) for (let m = 0; m < p; m++) out[m] += a[l * p + m]! * wr[l]!;
  return out;
}

/**
 * The key owner's encryptions for the wire: symmetric CKKS encryption under its secret key with
 * the uniform half of the ciphertext expanded from a seed (half the bytes of a public-key
 * ciphertext, and cheaper to make). To anyone without the secret key each is an RLWE sample, as a
 * public-key encryption is.
 */
export class OwnerEncryptor {
  private readonly enc: Encryptor;

  constructor(
    private readonly ckks: Ckks,
    owner: KeyOwner,
  ) {
    const pk = ckks.seal.PublicKey();
    pk.loadArray(ckks.context, owner.publicKey);
    this.enc = ckks.seal.Encryptor(ckks.context, pk, owner.secretKey);
    pk.delete();
  }

  /** One ciphertext of `values` (at most one ciphertext's slots) at `scale`, serialised. */
  encrypt(values: Float64Array, scale: number): Uint8Array {
    const pt = encode(this.ckks, values, scale);
    const ser = this.enc.encryptSymmetricSerializable(pt);
    pt.delete();
    const out = ser.saveArray(this.ckks.seal.ComprModeType.none);
    ser.delete();
    return out;
  }

  /** A long vector split into slot-sized chunks. */
  encryptChunks(values: Float64Array, scale: number): Uint8Array[] {
    const s = this.ckks.slots;
    const out: Uint8Array[] = [];
    for (let lo = 0; lo < values.length; lo += s) out.push(this.encrypt(values.subarray(lo, Math.min(values.length, lo + s)), scale));
    return out;
  }

  release(): void {
    this.enc.delete();
  }
}

/** Columns rounded up to a power of two (the diagonal packing's width). */
export function packingWidth(columns: number): number {
  let w = 1;
  while (w < columns) w *= 2;
  return w;
}

/**
 * The guest's diagonal layout of Y = [x_j ⊙ c / divisor]_j (c = 1: its columns): for
 * k < width and chunk c, D_{k,c}[s] = Y[cS + s, (s − k) mod width] (0 for padding columns), the
 * protocols/he/packing.ts layout with the roles swapped (here the matrix is encrypted and so is
 * the vector it meets, the residual). Calls `emit(k, chunk, values)` for each.
 */
export function forEachDiagonal(cols: readonly Float64Array[], coef: Float64Array, divisor: number, slots: number, emit: (k: number, chunk: number, values: Float64Array) => void): void {
  const n = coef.length;
  const width = packingWidth(cols.length);
  const chunks = Math.ceil(n / slots);
  for (let k = 0; k < width; k++) {
    for (let c = 0; c < chunks; c++) {
      const base = c * slots;
      const limit = Math.min(slots, n - base);
      const buf = new Float64Array(limit);
      for (let t = 0; t < limit; t++) {
        const j = (((t - k) % width) + width) % width;
        if (j < cols.length) buf[t] = (cols[j]![base + t]! * coef[base + t]!) / divisor;
      }
      emit(k, c, buf);
    }
  }
}

/**
 * The host's plaintext basis, encoded once per round: `plain[v][c]` is B_v on chunk c at the
 * operand scale, or undefined where B_v encodes to zero on the chunk (a window with no row there,
 * or values below the operand scale's resolution), whose product SEAL refuses as transparent and
 * which contributes nothing.
 */
export function encodeBasis(ckks: Ckks, basis: readonly Float64Array[]): (PlainText | undefined)[][] {
  const s = ckks.slots;
  return basis.map((b) => {
    const out: (PlainText | undefined)[] = [];
    for (let lo = 0; lo < b.length; lo += s) {
      const chunk = b.subarray(lo, Math.min(b.length, lo + s));
      let big = 0;
      for (const v of chunk) big = Math.max(big, Math.abs(v));
      // Zero exactly when the encoding is (a bound on the values would miss both ways): a zero
      // plaintext would make SEAL throw, and node-seal leaks state on every throw (vfl-lr/guest.ts).
      const pt = big === 0 ? undefined : encode(ckks, chunk, ckks.operandScale);
      if (pt && pt.isZero) {
        pt.delete();
        out.push(undefined);
      } else out.push(pt);
    }
    return out;
  });
}

/**
 * [[Σ_v B_v ⊙ c_v]] per chunk, from the guest's [[c_v]] (fresh at scale Δ) and the host's encoded
 * basis: unrescaled, at Δ·Δ′. `load(v, c)` deserialises one ciphertext (deleted here after use).
 */
export function combineChunks(ev: Evaluation, plain: readonly (PlainText | undefined)[][], load: (v: number, c: number) => CipherText): CipherText[] {
  const { evaluator } = ev.ckks;
  const chunks = plain[0]!.length;
  const out: CipherText[] = [];
  for (let c = 0; c < chunks; c++) {
    let acc: CipherText | undefined;
    for (let v = 0; v < plain.length; v++) {
      const p = plain[v]![c];
      if (!p) continue;
      const ct = load(v, c);
      evaluator.multiplyPlain(ct, p, ct);
      if (acc) {
        evaluator.add(acc, ct, acc);
        ct.delete();
      } else acc = ct;
    }
    if (!acc) throw new IndomainError('VFL_BAD_MESSAGE', `chunk ${c}: no basis vector is non-zero (the constant term must be)`);
    out.push(acc);
  }
  return out;
}

/**
 * [[X_Gᵀ d]] from the residual [[d]] per chunk (the host's combination, unrescaled at ΔΔ′) and the
 * guest's columns in diagonal order [[D_{k,c}]] (fresh at Δ, encrypted once per job; scales.ts):
 * z_k = Σ_c [[d_c]]·[[D_{k,c}]] (ciphertext × ciphertext, summed before one relinearisation and
 * one rescale to ΔΔ′·Δ/q₁ = 2^50), then y = Σ_k rot(z_k, k) by Horner and the strided sums Σ_j rot(y, width·2^j):
 * slot j (and every slot ≡ j mod width) holds Σ_i D[i, j]·d_i. Inputs are not consumed.
 */
export function encryptedColumnsProduct(ev: Evaluation, relinKeys: RelinKeys, d: readonly CipherText[], diagonals: readonly CipherText[][]): CipherText {
  const { evaluator, slots } = ev.ckks;
  const gk = ev.galoisKeys;
  const width = diagonals.length;
  let acc: CipherText | undefined;
  for (let k = width - 1; k >= 0; k--) {
    let z: CipherText | undefined;
    for (let c = 0; c < d.length; c++) {
      const prod = evaluator.multiply(d[c]!, diagonals[k]![c]!) as CipherText;
      if (z) {
        evaluator.add(z, prod, z);
        prod.delete();
      } else z = prod;
    }
    evaluator.relinearize(z!, relinKeys, z!);
    evaluator.rescaleToNext(z!, z!);
    if (acc) {
      evaluator.rotateVector(acc, 1, gk, acc);
      evaluator.add(acc, z!, acc);
      z!.delete();
    } else acc = z!;
  }
  for (let step = width; step < slots; step *= 2) {
    const r = evaluator.rotateVector(acc!, step, gk) as CipherText;
    evaluator.add(acc!, r, acc!);
    r.delete();
  }
  return acc!;
}

/** Seconds a role spent per kind of work (for the benchmark's profile; never sent anywhere). */
export type Profile = Record<string, number>;

/** Run `fn`, adding its wall time to `profile[key]`. */
export function timed<T>(profile: Profile, key: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    profile[key] = (profile[key] ?? 0) + (performance.now() - t0) / 1000;
  }
}

/**
 * Load a ciphertext the guest sent and check it is what the flow expects: two parts, at the top
 * level, at `scale`. Anything else is refused before it reaches an evaluation.
 */
export function loadFresh(ckks: Ckks, bytes: Uint8Array, scale: number, field: string): CipherText {
  const ct = deserialize(ckks, bytes);
  const top = ckks.context.firstParmsId.values.join(',');
  if (ct.size !== 2 || ct.scale !== scale || ct.parmsId.values.join(',') !== top) {
    ct.delete();
    throw new IndomainError('VFL_BAD_MESSAGE', `a ciphertext is not fresh at scale 2^${Math.log2(scale)}`, { field });
  }
  return ct;
}
