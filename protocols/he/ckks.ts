/**
 * CKKS through node-seal (Microsoft SEAL 3.x compiled to WebAssembly): context, keys, encoding,
 * encryption, serialisation and noise-flooded decryption.
 *
 * Key roles: the key owner (in vertical LR, the arbiter) calls {@link generateKeys} and keeps the
 * secret key. DO NOT SERIALISE THE SECRET KEY INTO ANY MESSAGE: no message type has a field for
 * it, and {@link exportPublicKeys} only exports the public and Galois keys. Other parties call
 * {@link importPublicKeys} and can encrypt and evaluate, never decrypt.
 *
 * Memory: SEAL objects live on the WebAssembly heap and are not garbage-collected. Functions here
 * delete every intermediate they create; callers delete what they are handed back (`release`).
 *
 * Exceptions: every SEAL exception caught in JS leaks node-seal's WebAssembly state (measured: 378
 * caught 'transparent' refusals of a product by a zero plaintext, then SEAL aborted on the next
 * ciphertext load with "Aborted()"). A refusal SEAL would make on a normal path must be tested
 * before the call instead (a zero plaintext: `PlainText.isZero`), never caught from SEAL. Bytes from
 * another party are checked against SEAL's format first (protocols/he/wire.ts), so SEAL never
 * throws on them: loaded unchecked, 61 malformed ciphertexts killed the module
 * (tests/attacks/malformed-ciphertexts.test.ts).
 */
import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { Context } from 'node-seal/implementation/context.js';
import type { CKKSEncoder } from 'node-seal/implementation/ckks-encoder.js';
import type { Encryptor } from 'node-seal/implementation/encryptor.js';
import type { Evaluator } from 'node-seal/implementation/evaluator.js';
import type { GaloisKeys } from 'node-seal/implementation/galois-keys.js';
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import type { RelinKeys } from 'node-seal/implementation/relin-keys.js';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import type { SecretKey } from 'node-seal/implementation/secret-key.js';
import { IndomainError } from '../../engine/errors.ts';
import { gaussians, type Rng } from '../../engine/rng.ts';
import { CKKS_PARAMS, type CkksParams } from './params.ts';
import { checkCiphertext, checkKeySwitchingKeys, checkPublicKey, rotationElement, wireSpec } from './wire.ts';

export type { CipherText, PlainText };

let sealPromise: Promise<SEALLibrary> | undefined;

/** The SEAL library, loaded once per process (about 100 ms). */
export function loadSeal(): Promise<SEALLibrary> {
  if (!sealPromise) {
    // Imported here, not at the top: a process that never computes on ciphertexts (a node
    // restarted with nothing to train) does not load the 4 MB WebAssembly module.
    // node-seal ships a UMD bundle typed as an ES module: under Node's ESM interop the default
    // import is the factory itself (or, under some loaders, a namespace holding it as `default`).
    sealPromise = import('node-seal').then((mod) => {
      const m = mod.default as unknown as (() => Promise<SEALLibrary>) | { default: () => Promise<SEALLibrary> };
      return (typeof m === 'function' ? m : m.default)();
    });
  }
  return sealPromise;
}

/** A CKKS context: parameters, encoder and evaluator. Holds no key. */
export interface Ckks {
  readonly seal: SEALLibrary;
  readonly params: CkksParams;
  readonly context: Context;
  readonly encoder: CKKSEncoder;
  readonly evaluator: Evaluator;
  readonly slots: number;
  readonly scale: number;
  /** Scale of plaintext operands multiplied in without a rescale (params.operandScaleBits). */
  readonly operandScale: number;
}

const contexts = new Map<string, Promise<Ckks>>();

/**
 * The process's CKKS context for a parameter set. A context holds only public parameters (no key,
 * no data), so every role and job in a process shares one: SEAL spends about 70 ms per prime
 * building its tables, 200 ms for `ckks-n8192-d2`, which a per-job context would pay every time.
 */
export function createCkks(params: CkksParams | string): Promise<Ckks> {
  const p = typeof params === 'string' ? CKKS_PARAMS[params] : params;
  if (!p) return Promise.reject(new IndomainError('HE_UNKNOWN_PARAMS', `"${String(params)}"; known: ${Object.keys(CKKS_PARAMS).join(', ')}`));
  // An unregistered parameter object (tests) is built each time; a named set once per process.
  if (CKKS_PARAMS[p.name] !== p) return buildCkks(p);
  let c = contexts.get(p.name);
  if (!c) {
    c = buildCkks(p);
    c.catch(() => contexts.delete(p.name));
    contexts.set(p.name, c);
  }
  return c;
}

async function buildCkks(p: CkksParams): Promise<Ckks> {
  const seal = await loadSeal();
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(p.polyModulusDegree);
  parms.setCoeffModulus(seal.CoeffModulus.Create(p.polyModulusDegree, Int32Array.from(p.coeffModulusBits)));
  const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
  if (!context.parametersSet()) {
    throw new IndomainError('HE_UNKNOWN_PARAMS', `SEAL refused ${p.name}: ${context.parametersSet()}`);
  }
  const encoder = seal.CKKSEncoder(context);
  return {
    seal,
    params: p,
    context,
    encoder,
    evaluator: seal.Evaluator(context),
    slots: encoder.slotCount,
    scale: 2 ** p.scaleBits,
    operandScale: 2 ** (p.operandScaleBits ?? p.scaleBits),
  };
}

/** Rotation steps with Galois keys: every power of two below the slot count (left rotations). */
export function powerOfTwoSteps(slots: number): Int32Array {
  const steps: number[] = [];
  for (let s = 1; s < slots; s *= 2) steps.push(s);
  return Int32Array.from(steps);
}

/** Everything a key owner holds. The secret key never leaves its owner. */
export interface KeyOwner {
  readonly secretKey: SecretKey;
  readonly publicKey: Uint8Array;
  readonly galoisKeys: Uint8Array;
}

/**
 * Generate a key pair and the Galois keys for power-of-two rotations. With `secret` (bytes from
 * {@link secretKeyBytes} of an earlier run), the same secret key is restored and fresh public and
 * Galois keys derived from it: a restarted key owner can still decrypt what was encrypted before.
 */
export function generateKeys(ckks: Ckks, secret?: Uint8Array): KeyOwner {
  let kg;
  if (secret) {
    const sk = ckks.seal.SecretKey();
    try {
      sk.loadArray(ckks.context, secret);
    } catch (e) {
      sk.delete();
      throw new IndomainError('HE_BAD_CIPHERTEXT', `stored secret key does not load: ${sealMessage(e)}`);
    }
    kg = ckks.seal.KeyGenerator(ckks.context, sk);
    sk.delete();
  } else kg = ckks.seal.KeyGenerator(ckks.context);
  const pk = kg.createPublicKey();
  const gk = kg.createGaloisKeys(powerOfTwoSteps(ckks.slots));
  const none = ckks.seal.ComprModeType.none;
  const out = { secretKey: kg.secretKey(), publicKey: pk.saveArray(none), galoisKeys: gk.saveArray(none) };
  pk.delete();
  gk.delete();
  kg.delete();
  return out;
}

/** The secret key's bytes, for the owner's own store only: never put them in a message. */
export function secretKeyBytes(ckks: Ckks, owner: KeyOwner): Uint8Array {
  return owner.secretKey.saveArray(ckks.seal.ComprModeType.none);
}

/** What a non-owner holds: encryption and rotation, no decryption. */
export interface Evaluation {
  readonly ckks: Ckks;
  readonly encryptor: Encryptor;
  readonly galoisKeys: GaloisKeys;
}

/**
 * Load another party's public and Galois keys. Both are checked against SEAL's format first
 * (protocols/he/wire.ts): the Galois keys must hold exactly the power-of-two rotations
 * {@link generateKeys} makes, so a rotation can never find its key missing.
 */
export function importPublicKeys(ckks: Ckks, publicKey: Uint8Array, galoisKeys: Uint8Array): Evaluation {
  const spec = wireSpec(ckks.seal, ckks.context);
  checkPublicKey(spec, publicKey, 'publicKey');
  const galois = Array.from(powerOfTwoSteps(ckks.slots), (s) => rotationElement(ckks.params.polyModulusDegree, s));
  checkKeySwitchingKeys(spec, galoisKeys, { galois }, 'galoisKeys');
  const pk = loadChecked(ckks.context, ckks.seal.PublicKey(), publicKey, 'public key');
  const gk = loadChecked(ckks.context, ckks.seal.GaloisKeys(), galoisKeys, 'Galois keys');
  const encryptor = ckks.seal.Encryptor(ckks.context, pk);
  pk.delete();
  return { ckks, encryptor, galoisKeys: gk };
}

/** Load another party's relinearisation keys (checked first, as {@link importPublicKeys}). */
export function importRelinKeys(ckks: Ckks, relinKeys: Uint8Array): RelinKeys {
  checkKeySwitchingKeys(wireSpec(ckks.seal, ckks.context), relinKeys, 'relin', 'relinKeys');
  return loadChecked(ckks.context, ckks.seal.RelinKeys(), relinKeys, 'relinearisation keys');
}

/**
 * SEAL's load of bytes protocols/he/wire.ts has passed, which SEAL does not refuse. Were a gap in
 * that check ever found, the refusal still leaves as a coded error (and the gap is a bug: the
 * exception caught here leaked WebAssembly state).
 */
export function loadChecked<T extends { loadArray(context: Context, bytes: Uint8Array): void; delete(): void }>(context: Context, into: T, bytes: Uint8Array, what: string): T {
  try {
    into.loadArray(context, bytes);
  } catch (e) {
    into.delete();
    throw new IndomainError('HE_BAD_CIPHERTEXT', `SEAL refused a ${what} the format check passed: ${sealMessage(e)}`);
  }
  return into;
}

function sealMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Encode values (at most one ciphertext's slots) at the given scale and level. */
export function encode(ckks: Ckks, values: Float64Array, scale = ckks.scale, level?: CipherText | PlainText): PlainText {
  if (values.length > ckks.slots) {
    throw new IndomainError('HE_TOO_MANY_VALUES', `${values.length} values, ${ckks.slots} slots`);
  }
  const pt = ckks.encoder.encode(values, scale) as PlainText;
  if (level) ckks.evaluator.plainModSwitchTo(pt, level.parmsId, pt);
  return pt;
}

/**
 * acc + coef ⊙ [[t]] for a serialised ciphertext t (the term is loaded, multiplied in place and
 * added; `acc` undefined: the term becomes the sum). A term whose coefficients are below the
 * scale's resolution encodes to the zero plaintext and contributes exactly nothing: it is left out
 * (acc returned unchanged). That is tested on the plaintext before the product, never caught from
 * SEAL's "transparent" refusal: every SEAL exception caught in JS leaks WebAssembly state, and a
 * few hundred of them abort the module (tests/protocols/vfl-tiny-terms.test.ts).
 */
export function addPlainProduct(ckks: Ckks, acc: CipherText | undefined, term: Uint8Array, coef: Float64Array, scale: number): CipherText | undefined {
  if (coef.every((x) => x === 0)) return acc;
  const t = deserialize(ckks, term);
  const pt = encode(ckks, coef, scale, t);
  if (pt.isZero) {
    pt.delete();
    t.delete();
    return acc;
  }
  // The sender chose t's level and scale. SEAL refuses by throwing a product whose scale outgrows
  // the level's modulus and a sum of terms at different levels or scales: tested here instead.
  const product = t.scale * pt.scale;
  const level = ckks.context.getContextData(t.parmsId);
  const fits = Math.trunc(Math.log2(product)) < level.totalCoeffModulusBitCount;
  level.delete();
  if (!fits || (acc && (acc.scale !== product || acc.parmsId.values.join(',') !== t.parmsId.values.join(',')))) {
    pt.delete();
    t.delete();
    throw new IndomainError('HE_BAD_CIPHERTEXT', fits ? 'a term is not at the level and scale of the others' : "a term's scale leaves no room for the product");
  }
  ckks.evaluator.multiplyPlain(t, pt, t);
  pt.delete();
  if (!acc) return t;
  ckks.evaluator.add(acc, t, acc);
  t.delete();
  return acc;
}

/**
 * acc += term in place, for ciphertexts whose level and scale other parties chose (one bank's part
 * and another's): SEAL refuses a sum at different levels or scales by throwing, so it is refused
 * here first (HE_BAD_CIPHERTEXT).
 */
export function addSameShape(ckks: Ckks, acc: CipherText, term: CipherText): void {
  if (acc.scale !== term.scale || acc.parmsId.values.join(',') !== term.parmsId.values.join(',')) {
    throw new IndomainError('HE_BAD_CIPHERTEXT', 'a ciphertext is not at the level and scale of those it is summed with');
  }
  ckks.evaluator.add(acc, term, acc);
}

/**
 * Ciphertexts that may leave this party as they are: fresh encryptions made here, and results
 * re-randomised by {@link rerandomize}. {@link serialize} refuses every other ciphertext, so a
 * protocol cannot send a result it computed from another party's ciphertexts without
 * re-randomising it first (STYLE.md rule 14). Keyed by object identity; nothing is kept alive.
 */
const sendable = new WeakSet<CipherText>();

/** Encrypt one vector into one ciphertext. */
export function encryptVector(ev: Evaluation, values: Float64Array, scale = ev.ckks.scale): CipherText {
  const pt = encode(ev.ckks, values, scale);
  const ct = ev.encryptor.encrypt(pt) as CipherText;
  pt.delete();
  sendable.add(ct);
  return ct;
}

/**
 * The scale to encrypt at so that one product by plaintexts at `ckks.scale` and one rescale (by
 * the last prime of the chain) bring the result back to `ckks.scale`: 2^60 under `ckks-n8192-l1`,
 * whose fresh ciphertexts then carry 20 more bits of precision than the result needs.
 */
export function oneProductScale(ckks: Ckks): number {
  const bits = ckks.params.coeffModulusBits;
  return 2 ** bits[bits.length - 2]!;
}

/**
 * Encryptions of zero by the key owner, with its secret key, for another party to encrypt with
 * (see {@link ZeroPool}). Symmetric CKKS encryption (−a·s + e, a) with `a` expanded from a seed,
 * so each is half the size of a ciphertext on the wire and costs the owner ~1.3 ms instead of a
 * public-key encryption's ~3.2 ms. To anyone without s each is an RLWE sample (as the public key
 * is), and adding Encode(m) gives an ordinary fresh encryption of m with less noise.
 */
export function zeroCiphertexts(ckks: Ckks, owner: KeyOwner, count: number, scale = ckks.scale): Uint8Array[] {
  const pk = ckks.seal.PublicKey();
  pk.loadArray(ckks.context, owner.publicKey);
  const enc = ckks.seal.Encryptor(ckks.context, pk, owner.secretKey);
  pk.delete();
  const zero = encode(ckks, new Float64Array(1), scale);
  const none = ckks.seal.ComprModeType.none;
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const ser = enc.encryptSymmetricSerializable(zero);
    out.push(ser.saveArray(none));
    ser.delete();
  }
  zero.delete();
  enc.delete();
  return out;
}

/**
 * Encryptions of zero supplied by the key owner ({@link zeroCiphertexts}), each used once:
 * Enc(0) + Encode(m) is a fresh encryption of m, for the cost of an encoding and an addition
 * (~0.9 ms with loading) instead of a public-key encryption (~3.5 ms). When the pool is empty,
 * encryption falls back to the public key.
 */
export class ZeroPool {
  private readonly supplied: Uint8Array[] = [];
  private readonly loaded: CipherText[] = [];

  constructor(
    private readonly ev: Evaluation,
    readonly scale = ev.ckks.scale,
  ) {}

  get size(): number {
    return this.supplied.length + this.loaded.length;
  }

  supply(zeros: readonly Uint8Array[]): void {
    this.supplied.push(...zeros);
  }

  /**
   * Idle time: load one supplied ciphertext. False when none is left to load, or `limit` are
   * loaded already (a loaded zero is twice its wire size, on the WebAssembly heap).
   */
  loadStep(limit = Infinity): boolean {
    if (this.loaded.length >= limit) return false;
    const bytes = this.supplied.pop();
    if (!bytes) return false;
    this.loaded.push(this.check(deserialize(this.ev.ckks, bytes)));
    return true;
  }

  /** A supplied zero must be a fresh two-part ciphertext at the top level and this scale. */
  private check(ct: CipherText): CipherText {
    const { ckks } = this.ev;
    const top = ckks.context.firstParmsId.values.join(',');
    if (ct.size !== 2 || ct.scale !== this.scale || ct.parmsId.values.join(',') !== top) {
      ct.delete();
      throw new IndomainError('HE_BAD_CIPHERTEXT', `a supplied encryption of zero is not fresh at scale 2^${Math.log2(this.scale)}`);
    }
    return ct;
  }

  /** Encrypt values: from the pool when it has a zero, else with the public key. */
  encrypt(values: Float64Array): CipherText {
    if (this.loaded.length === 0) this.loadStep();
    const zero = this.loaded.pop();
    if (!zero) return encryptVector(this.ev, values, this.scale);
    const pt = encode(this.ev.ckks, values, this.scale);
    this.ev.ckks.evaluator.addPlain(zero, pt, zero);
    pt.delete();
    sendable.add(zero);
    return zero;
  }

  release(): void {
    for (const z of this.loaded) z.delete();
    this.loaded.length = 0;
    this.supplied.length = 0;
  }
}

/** Split a long vector into slot-sized chunks, encrypt (from `pool` if given) and serialise each. */
export function encryptChunks(ev: Evaluation, values: Float64Array, scale = ev.ckks.scale, pool?: ZeroPool): Uint8Array[] {
  const s = ev.ckks.slots;
  const out: Uint8Array[] = [];
  for (let start = 0; start < values.length; start += s) {
    const chunk = values.subarray(start, Math.min(values.length, start + s));
    const ct = pool && pool.scale === scale ? pool.encrypt(chunk) : encryptVector(ev, chunk, scale);
    out.push(serialize(ev.ckks, ct));
    ct.delete();
  }
  return out;
}

/**
 * A ciphertext's wire bytes. Only a fresh encryption or a {@link rerandomize}d result may be
 * serialised: anything else was computed from ciphertexts another party made, and that party could
 * solve for the plaintext multipliers applied to them (tests/attacks/linear-span.test.ts).
 */
export function serialize(ckks: Ckks, ct: CipherText): Uint8Array {
  if (!sendable.has(ct)) {
    throw new IndomainError('HE_NOT_RERANDOMISED', 'a computed ciphertext must be re-randomised (rerandomize) before it leaves this party');
  }
  return ct.saveArray(ckks.seal.ComprModeType.none);
}

/**
 * Load a ciphertext another party sent. Bytes that are not a two-part ciphertext of this context
 * are refused (HE_BAD_CIPHERTEXT) by protocols/he/wire.ts before SEAL reads them: SEAL's own
 * refusal is an exception, and every one caught leaks WebAssembly state.
 */
export function deserialize(ckks: Ckks, bytes: Uint8Array): CipherText {
  checkCiphertext(wireSpec(ckks.seal, ckks.context), bytes);
  return loadChecked(ckks.context, ckks.seal.CipherText(), bytes, 'ciphertext');
}

/** Decryption, for the key owner only. */
export interface Decryption {
  readonly ckks: Ckks;
  decrypt(ct: CipherText, count: number): Float64Array;
}

export function decryptorFor(ckks: Ckks, owner: KeyOwner): Decryption {
  const dec = ckks.seal.Decryptor(ckks.context, owner.secretKey);
  return {
    ckks,
    decrypt(ct, count) {
      const pt = dec.decrypt(ct) as PlainText;
      const values = ckks.encoder.decode(pt) as Float64Array;
      pt.delete();
      return Float64Array.from(values.subarray(0, count));
    },
  };
}

/**
 * Noise flooding for values decrypted by the key owner and then released to another party
 * (CKKS is not IND-CPA-D secure: Li & Micciancio, EUROCRYPT 2021, show that exact decryption
 * results leak the secret key). Each released value gets independent Gaussian noise of standard
 * deviation `sigma`, chosen well above the ciphertext noise of the result (see `productNoise`).
 */
export function floodNoise(values: Float64Array, sigma: number, rng: Rng): Float64Array {
  const out = gaussians(rng, values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! + sigma * out[i]!;
  return out;
}

/**
 * Ciphertext noise of a decrypted protocols/he/packing.ts product (default order)
 * whose result is at `ckks.scale`: the part of its error that depends on the secret key and the
 * encryption randomness, which flooding must drown (rounding of the encoded plaintexts is the
 * same on every run and tells nothing about the key). Measured as the run-to-run standard
 * deviation of one product with fresh encryptions: 5.0–5.9e-7 at scale 2^40 for 1 to 25 chunks,
 * about 2^19 in coefficient units, from the key switching of its rotations at the lowest level
 * (tests/protocols/he.test.ts measures it against this bound). Bound: 2^20/scale · √chunks.
 */
export function productNoise(ckks: Ckks, chunks: number): number {
  return 2 ** 20 / ckks.scale * Math.sqrt(Math.max(1, chunks));
}

/**
 * Ciphertext noise of Σ_k p_k ⊙ [[t_k]] (fresh ciphertexts at `ckks.scale` times plaintexts, up
 * to 16 terms with |p_k| ≤ 1, unrescaled), in value units: the run-to-run deviation of such a
 * combination with fresh encryptions, measured at 1.1e-9 with public-key encryptions and 1.6e-10
 * with the arbiter's symmetric zeros (6 terms, scale 2^40; tests/protocols/he.test.ts). Bound:
 * 2^11/scale ≈ 1.9e-9.
 */
export function combinationNoise(ckks: Ckks): number {
  return 2 ** 11 / ckks.scale;
}

/** Number of ciphertexts needed for n values. */
export function chunkCount(ckks: Ckks, n: number): number {
  return Math.ceil(n / ckks.slots);
}

/**
 * Re-randomise a result computed from ciphertexts another party made, before it leaves this party
 * (the one place every protocol does it; {@link serialize} refuses a computed ciphertext that has
 * not been through here).
 *
 * Why. A ciphertext is a pair (c0, c1). A result Σ_k p_k·[[t_k]] + p_0 of plaintexts p_k applied
 * to ciphertexts [[t_k]] that the receiver made has c1 = Σ_k p_k·c1(t_k): the receiver knows every
 * c1(t_k), solves for the p_k (K unknowns, N equations at the NTT points when the p_k are constant
 * polynomials), subtracts Σ p_k·[[t_k]] and is left with the trivial ciphertext (p_0, 0), which
 * decrypts under any key. Adding a fresh public-key encryption (u·pk0 + e0 + Δ·noise, u·pk1 + e1)
 * with this party's fresh secret u puts an RLWE sample into c1, so the result is no longer in that
 * span, and the Gaussian noise of deviation `sigma` (in value units) drowns the part of the
 * evaluation error that depends on the plaintext operands, for whoever decrypts the result
 * (circuit privacy against the key owner; size `sigma` from measured noise, see `productNoise`).
 * A result that holds the same values in every slot ≡ j (mod `period`) (a
 * protocols/he/packing.ts product: S/period copies) gets the same noise in every copy,
 * or the key owner would average the copies and divide the flood by √(S/period).
 * Works at the result's level and scale; in place.
 */
export function rerandomize(ev: Evaluation, ct: CipherText, sigma: number, rng: Rng, period = ev.ckks.slots): void {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new IndomainError('HE_OUT_OF_RANGE', `flooding deviation ${sigma} must be positive`);
  if (!Number.isInteger(period) || period < 1 || ev.ckks.slots % period !== 0) throw new IndomainError('HE_OUT_OF_RANGE', `flooding period ${period} must divide ${ev.ckks.slots} slots`);
  const noise = new Float64Array(ev.ckks.slots);
  noise.set(gaussians(rng, period));
  for (let i = 0; i < period; i++) noise[i] = sigma * noise[i]!;
  for (let i = period; i < noise.length; i++) noise[i] = noise[i - period]!;
  const pt = ev.ckks.encoder.encode(noise, ct.scale) as PlainText;
  const fresh = ev.encryptor.encrypt(pt) as CipherText;
  pt.delete();
  ev.ckks.evaluator.cipherModSwitchTo(fresh, ct.parmsId, fresh);
  ev.ckks.evaluator.add(ct, fresh, ct);
  fresh.delete();
  sendable.add(ct);
}
