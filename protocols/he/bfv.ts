/**
 * BFV for exact integer polynomial arithmetic (the two-party scorecard's score histogram,
 * protocols/scorecard-2p/histogram.ts): a plaintext is a polynomial with integer coefficients mod t,
 * and a ciphertext times a plaintext multiplies the polynomials in Z_t[X]/(X^N + 1), a negacyclic
 * convolution of their coefficient vectors. CKKS slots cannot do that (their product is pointwise)
 * and node-seal's CKKS encoder takes real slot values only, which reach half of the polynomials.
 *
 * node-seal exposes no coefficient setter, so a plaintext is written in SEAL's own serialisation
 * (a template saved by SEAL, its coefficient array overwritten) and loaded back, where SEAL
 * validates it (every coefficient below t). Noise flooding adds integer Gaussian noise to c0 of a
 * serialised ciphertext, mod each prime of its level: SEAL has no call for it.
 *
 * Parameter set `bfv-n8192-t50`: N = 8192, q = 60 + 60 bits for data plus a 60-bit special prime
 * (log₂ q = 180 ≤ 218: 128-bit classical security under the HE standard, Table 1, as
 * `ckks-n8192-l1`; SEAL checks it again, tc128), t a 50-bit prime. Δ = ⌊q/t⌋ ≈ 2^70: decryption is
 * exact while the noise stays below Δ/2 ≈ 2^69.
 */
import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { Context } from 'node-seal/implementation/context.js';
import type { Decryptor } from 'node-seal/implementation/decryptor.js';
import type { Encryptor } from 'node-seal/implementation/encryptor.js';
import type { Evaluator } from 'node-seal/implementation/evaluator.js';
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import { IndomainError } from '../../engine/errors.ts';
import { gaussians, type Rng } from '../../engine/rng.ts';
import { loadChecked, loadSeal } from './ckks.ts';
import { checkCiphertext, checkPublicKey, wireSpec } from './wire.ts';

export interface BfvParams {
  readonly name: string;
  readonly polyModulusDegree: number;
  readonly coeffModulusBits: readonly number[];
  readonly plainModulusBits: number;
  readonly securityBits: 128;
}

export const BFV_N8192_T50: BfvParams = { name: 'bfv-n8192-t50', polyModulusDegree: 8192, coeffModulusBits: [60, 60, 60], plainModulusBits: 50, securityBits: 128 };

export interface Bfv {
  readonly seal: SEALLibrary;
  readonly params: BfvParams;
  readonly context: Context;
  readonly evaluator: Evaluator;
  readonly degree: number;
  /** The plaintext modulus t. */
  readonly t: bigint;
  /** Primes of the first data level (a fresh ciphertext's). */
  readonly primes: readonly bigint[];
  readonly template: Uint8Array;
  readonly dataOffset: number;
}

let bfv: Promise<Bfv> | undefined;

/** The process's BFV context (public parameters only, shared like createCkks's). */
export function createBfv(): Promise<Bfv> {
  bfv ??= build(BFV_N8192_T50);
  return bfv;
}

async function build(p: BfvParams): Promise<Bfv> {
  const seal = await loadSeal();
  const n = p.polyModulusDegree;
  const parms = seal.EncryptionParameters(seal.SchemeType.bfv);
  parms.setPolyModulusDegree(n);
  parms.setCoeffModulus(seal.CoeffModulus.Create(n, Int32Array.from(p.coeffModulusBits)));
  const t = seal.PlainModulus.Batching(n, p.plainModulusBits);
  parms.setPlainModulus(t);
  const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
  if (!context.parametersSet()) throw new IndomainError('HE_UNKNOWN_PARAMS', `SEAL refused ${p.name}`);
  const primes = Array.from(context.getContextData(context.firstParmsId).parms.coeffModulus);
  const pt = seal.PlainText({ coeffCount: n });
  const template = pt.saveArray(seal.ComprModeType.none);
  pt.delete();
  return { seal, params: p, context, evaluator: seal.Evaluator(context), degree: n, t: t.value, primes, template, dataOffset: template.length - 8 * n };
}

/**
 * A plaintext polynomial from signed integer coefficients (|c| < t/2; index k is the coefficient
 * of X^k). Only the non-zero entries of `coefficients` are written.
 */
export function plainPolynomial(b: Bfv, coefficients: ArrayLike<number>): PlainText {
  if (coefficients.length > b.degree) throw new IndomainError('HE_TOO_MANY_VALUES', `${coefficients.length} coefficients, degree ${b.degree}`);
  const bytes = b.template.slice();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const half = Number(b.t / 2n);
  for (let k = 0; k < coefficients.length; k++) {
    const c = coefficients[k]!;
    if (c === 0) continue;
    if (!Number.isSafeInteger(c) || Math.abs(c) >= half) throw new IndomainError('HE_OUT_OF_RANGE', `coefficient ${k} is not an integer below t/2 in magnitude`);
    dv.setBigUint64(b.dataOffset + 8 * k, c >= 0 ? BigInt(c) : b.t + BigInt(c), true);
  }
  const pt = b.seal.PlainText();
  pt.loadArray(b.context, bytes);
  return pt;
}

/** The first `count` coefficients of a decrypted plaintext, centred in (−t/2, t/2]. */
export function readPolynomial(b: Bfv, pt: PlainText, count: number): Float64Array {
  const bytes = pt.saveArray(b.seal.ComprModeType.none);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const have = pt.coeffCount;
  const off = bytes.length - 8 * have;
  const out = new Float64Array(count);
  for (let k = 0; k < Math.min(count, have); k++) {
    const v = dv.getBigUint64(off + 8 * k, true);
    out[k] = Number(v > b.t / 2n ? v - b.t : v);
  }
  return out;
}

/** A BFV key pair's public half and the owner's encryptor/decryptor. */
export interface BfvKeys {
  readonly publicKey: Uint8Array;
  readonly encryptor: Encryptor;
  readonly decryptor: Decryptor;
}

/**
 * A key pair: fresh, or from a secret key kept by its owner (a restarted node decrypts replies to
 * what it sent before the restart). `keep` receives a fresh secret key's bytes, for the owner's
 * own store only: DO NOT PUT THEM IN A MESSAGE.
 */
export function bfvKeys(b: Bfv, store: { stored?: Uint8Array; keep?: (secret: Uint8Array) => void } = {}): BfvKeys {
  let kg;
  if (store.stored) {
    const stored = b.seal.SecretKey();
    try {
      stored.loadArray(b.context, store.stored);
    } catch {
      stored.delete();
      throw new IndomainError('HE_BAD_CIPHERTEXT', 'stored BFV secret key does not load');
    }
    kg = b.seal.KeyGenerator(b.context, stored);
    stored.delete();
  } else kg = b.seal.KeyGenerator(b.context);
  const sk = kg.secretKey();
  if (!store.stored) store.keep?.(sk.saveArray(b.seal.ComprModeType.none));
  const pk = kg.createPublicKey();
  const out = { publicKey: pk.saveArray(b.seal.ComprModeType.none), encryptor: b.seal.Encryptor(b.context, pk, sk), decryptor: b.seal.Decryptor(b.context, sk) };
  pk.delete();
  kg.delete();
  return out;
}

/**
 * An encryptor under another party's public key (re-randomisation only). The key is checked
 * against SEAL's format before SEAL reads it (protocols/he/wire.ts), as {@link loadBfv} does.
 */
export function bfvPublicEncryptor(b: Bfv, publicKey: Uint8Array): Encryptor {
  checkPublicKey(wireSpec(b.seal, b.context), publicKey, 'publicKey');
  const pk = loadChecked(b.context, b.seal.PublicKey(), publicKey, 'BFV public key');
  const enc = b.seal.Encryptor(b.context, pk);
  pk.delete();
  return enc;
}

/**
 * Load a ciphertext the other party sent: two parts, at the first data level, else refused
 * (HE_BAD_CIPHERTEXT) before SEAL reads it: SEAL's own refusal is an exception, and every one
 * caught leaks WebAssembly state (protocols/he/ckks.ts header).
 */
export function loadBfv(b: Bfv, bytes: Uint8Array, field: string): CipherText {
  checkCiphertext(wireSpec(b.seal, b.context), bytes, field);
  const ct = loadChecked(b.context, b.seal.CipherText(), bytes, 'BFV ciphertext');
  if (ct.parmsId.values.join(',') !== b.context.firstParmsId.values.join(',')) {
    ct.delete();
    throw new IndomainError('HE_BAD_CIPHERTEXT', 'a BFV ciphertext is not fresh', { field });
  }
  return ct;
}

/**
 * Re-randomise and flood a result computed from the key owner's ciphertexts before it leaves
 * (the BFV form of ckks.ts `rerandomize`, rule 14): a fresh public-key encryption of zero makes c1
 * an RLWE sample outside the span of the owner's c1s, and integer Gaussian noise of deviation
 * 2^`floodBits` on c0 drowns the evaluation noise, which depends on this party's plaintext
 * multipliers, for the key owner who decrypts. The caller sizes `floodBits` above its noise bound
 * and below log₂(Δ/2) − 6 so decryption stays exact. Returns the serialised ciphertext.
 */
export function floodBfv(b: Bfv, ct: CipherText, publicEncryptor: Encryptor, floodBits: number, rng: Rng, rerandomise = true): Uint8Array {
  // `rerandomise` false: FOR THE ATTACK TESTS ONLY (the linear-span attack's switch).
  if (rerandomise) {
    const zero = b.seal.PlainText({ coeffCount: b.degree });
    const fresh = publicEncryptor.encrypt(zero) as CipherText;
    zero.delete();
    b.evaluator.add(ct, fresh, ct);
    fresh.delete();
  }
  const bytes = ct.saveArray(b.seal.ComprModeType.none);
  if (floodBits <= 0) return bytes;
  const n = b.degree;
  const k = b.primes.length;
  if (ct.coeffModulusSize !== k || ct.isNttForm) throw new IndomainError('HE_OUT_OF_RANGE', 'flooding expects a coefficient-form ciphertext at the first data level');
  // The data (c0 then c1, each prime after prime) closes the serialisation.
  const off = bytes.length - 8 * ct.size * k * n;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const noise = gaussians(rng, n);
  const sigma = 2 ** floodBits;
  for (let i = 0; i < n; i++) {
    const e = BigInt(Math.round(noise[i]! * sigma));
    for (let j = 0; j < k; j++) {
      const q = b.primes[j]!;
      const at = off + 8 * (j * n + i);
      const v = (dv.getBigUint64(at, true) + (e % q) + q) % q;
      dv.setBigUint64(at, v, true);
    }
  }
  return bytes;
}
