/**
 * SEAL's serialisation, checked here before SEAL reads another party's bytes.
 *
 * Why. Every SEAL exception caught in JS leaks node-seal's WebAssembly state (protocols/he/ckks.ts
 * header), and SEAL refuses malformed input by throwing (truncated bytes: by emscripten's abort).
 * Loaded unchecked, 61 malformed ciphertexts from a peer kill the module for every job in the
 * process. Every object a peer sends is therefore checked by the functions below first; SEAL
 * only ever sees bytes it will load without throwing (tests/attacks/malformed-ciphertexts.test.ts).
 *
 * Format (Microsoft SEAL 4.x, `Serialization::SEALHeader` and the `save_members` of each class;
 * all integers little-endian). Every object opens with a 16-byte header: magic 0xA15E (u16),
 * header size 16 (u8), SEAL major and minor version (u8, u8), compression mode (u8, 0 = none),
 * two reserved bytes, and the object's size in bytes including the header (u64). Then:
 *
 * - Ciphertext: parms_id (4 × u64, the level), is_ntt_form (u8), size (u64, polynomials),
 *   poly_modulus_degree (u64), coeff_modulus_size (u64), scale (f64), correction factor (u64),
 *   and its data as a nested object (a DynArray): count (u64) and count × u64 coefficients,
 *   polynomial by polynomial, each residue mod one prime of the level after another. A seeded
 *   ciphertext (a symmetric encryption, `zeroCiphertexts`) holds only the first polynomial
 *   and then a nested PRNG object (type u8, 1 = BLAKE2xb or 2 = SHAKE256; a 64-byte seed) from
 *   which SEAL expands the second.
 * - PublicKey: one ciphertext of two polynomials at the key level (all primes, the special prime
 *   included), in NTT form.
 * - GaloisKeys and RelinKeys (KSwitchKeys): parms_id (the key level), a count of slots (u64),
 *   and per slot a count of keys (u64, 0 or one per prime of the first data level) followed by
 *   that many PublicKeys. A Galois key for element g sits in slot (g − 1)/2; relinearisation
 *   keys for a product of two ciphertexts sit in slot 0.
 *
 * What is checked, for every object: magic, header size, the version this SEAL writes, no
 * compression, reserved bytes zero, declared sizes equal to what the fields around them occupy
 * (the outer one to the byte length), a parms_id that is one of this context's levels, two
 * polynomials (every ciphertext a protocol sends is relinearised, every key is a pair), degree
 * and prime count of that level, NTT form as the scheme writes it (CKKS and keys in NTT form, BFV
 * ciphertexts not), scale positive and normal (CKKS) or 1 (BFV, keys), correction factor 1, every
 * coefficient below its prime, a known PRNG type. That covers every check SEAL 4.x makes when it
 * loads these objects (`is_valid_for` and the loaders), so SEAL does not throw; a few are
 * stricter than SEAL's (version, reserved bytes, two polynomials). Refusals name the object and
 * the byte offset, never a value read from it (STYLE rule 16).
 */
import type { Context } from 'node-seal/implementation/context.js';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import { IndomainError } from '../../engine/errors.ts';

const MAGIC = 0xa15e;
const HEADER_BYTES = 16;
const PARMS_ID_BYTES = 32;
const SEED_BYTES = 64;
const PRNG_BLAKE2XB = 1;
const PRNG_SHAKE256 = 2;

interface Level {
  /** Each prime split in 32-bit halves: the coefficient check compares words, not BigInts. */
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
}

/** What one SEAL context accepts on the wire, read once from the context. */
export interface WireSpec {
  readonly scheme: 'ckks' | 'bfv';
  readonly degree: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** Levels by parms_id (its 32 bytes in hex), the key level included. */
  readonly levels: ReadonlyMap<string, Level>;
  readonly keyParmsId: string;
  /** Number of primes of the first data level: the key-switching decomposition. */
  readonly decomposition: number;
}

const specs = new WeakMap<Context, WireSpec>();

/** The wire description of a context (cached per context: it holds public parameters only). */
export function wireSpec(seal: SEALLibrary, context: Context): WireSpec {
  let s = specs.get(context);
  if (!s) {
    s = readSpec(seal, context);
    specs.set(context, s);
  }
  return s;
}

function readSpec(seal: SEALLibrary, context: Context): WireSpec {
  const levels = new Map<string, Level>();
  const key = context.keyContextData;
  const parms = key.parms;
  const scheme = parms.scheme === seal.SchemeType.ckks ? 'ckks' : parms.scheme === seal.SchemeType.bfv ? 'bfv' : undefined;
  if (!scheme) throw new IndomainError('HE_UNKNOWN_PARAMS', 'only CKKS and BFV contexts are read from the wire');
  const degree = parms.polyModulusDegree;
  // The version this SEAL writes, from an object it saves: the header is the same for all.
  const saved = parms.saveArray(seal.ComprModeType.none);
  const keyParmsId = idHex(context.keyParmsId.values);
  const last = context.lastContextData.chainIndex;
  let decomposition = 0;
  for (let data = key; ; data = data.nextContextData) {
    const primes = data.parms.coeffModulus;
    const hi = new Uint32Array(primes.length);
    const lo = new Uint32Array(primes.length);
    primes.forEach((q, j) => {
      hi[j] = Number(q >> 32n);
      lo[j] = Number(q & 0xffffffffn);
    });
    levels.set(idHex(data.parmsId.values), { hi, lo });
    if (data.chainIndex === key.chainIndex - 1) decomposition = primes.length;
    if (data.chainIndex === last) break;
  }
  // A context without key switching has one level, the key level, which is also the data level.
  if (decomposition === 0) decomposition = levels.get(keyParmsId)!.hi.length;
  return { scheme, degree, versionMajor: saved[3]!, versionMinor: saved[4]!, levels, keyParmsId, decomposition };
}

function idHex(values: BigUint64Array): string {
  return Array.from(values, (v) => v.toString(16).padStart(16, '0')).join('');
}

/** A cursor over one object's bytes; every refusal names the object and the byte offset. */
class Reader {
  private readonly dv: DataView;
  at = 0;

  constructor(
    bytes: Uint8Array,
    private readonly what: string,
    private readonly field: string | undefined,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(reason: string, at = this.at): never {
    throw new IndomainError('HE_BAD_CIPHERTEXT', `${this.what}, byte ${at}: ${reason}`, this.field === undefined ? undefined : { field: this.field });
  }

  need(n: number, end: number): void {
    if (this.at + n > end) this.fail('truncated');
  }

  u8(end: number): number {
    this.need(1, end);
    return this.dv.getUint8(this.at++);
  }

  /** A u64 that must fit a JS number (every size and count here is far below 2^53). */
  u64(end: number): number {
    this.need(8, end);
    const lo = this.dv.getUint32(this.at, true);
    const hi = this.dv.getUint32(this.at + 4, true);
    if (hi >= 2 ** 21) this.fail('a size field is out of range');
    this.at += 8;
    return hi * 2 ** 32 + lo;
  }

  f64(end: number): number {
    this.need(8, end);
    const v = this.dv.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  parmsId(end: number): string {
    this.need(PARMS_ID_BYTES, end);
    let s = '';
    for (let w = 0; w < 4; w++) s += this.dv.getBigUint64(this.at + 8 * w, true).toString(16).padStart(16, '0');
    this.at += PARMS_ID_BYTES;
    return s;
  }

  /** A SEAL header within [at, end); returns where its object ends. */
  header(spec: WireSpec, end: number): number {
    const start = this.at;
    this.need(HEADER_BYTES, end);
    const dv = this.dv;
    if (dv.getUint16(start, true) !== MAGIC) this.fail('not a SEAL object (magic)');
    if (dv.getUint8(start + 2) !== HEADER_BYTES) this.fail('header size');
    // Exactly this SEAL's version (SEAL would also read older minors): every node runs the same
    // node-seal, so nothing honest is refused, and only one loader's behaviour needs checking.
    if (dv.getUint8(start + 3) !== spec.versionMajor || dv.getUint8(start + 4) !== spec.versionMinor) this.fail('not the SEAL version this node writes');
    if (dv.getUint8(start + 5) !== 0) this.fail('compressed (only uncompressed objects are accepted)');
    if (dv.getUint16(start + 6, true) !== 0) this.fail('reserved header bytes are not zero');
    this.at = start + 8;
    const size = this.u64(end);
    if (size < HEADER_BYTES || start + size > end) this.fail('declared size does not fit the bytes', start);
    return start + size;
  }

  /** The object that ends at `end` must end exactly where its fields did. */
  close(end: number): void {
    if (this.at !== end) this.fail('declared size does not match the fields');
  }

  /**
   * `polys` polynomials of `spec.degree` coefficients mod each prime of `level`, every coefficient
   * below its prime (compared as two 32-bit words: primes are below 2^61).
   */
  coefficients(spec: WireSpec, level: Level, polys: number, end: number): void {
    const n = spec.degree;
    const k = level.hi.length;
    this.need(8 * polys * k * n, end);
    const dv = this.dv;
    let at = this.at;
    for (let p = 0; p < polys; p++) {
      for (let j = 0; j < k; j++) {
        const qh = level.hi[j]!;
        const ql = level.lo[j]!;
        for (let i = 0; i < n; i++, at += 8) {
          const h = dv.getUint32(at + 4, true);
          if (h > qh || (h === qh && dv.getUint32(at, true) >= ql)) this.fail('a coefficient is not below its prime', at);
        }
      }
    }
    this.at = at;
  }

  /**
   * One ciphertext object of two polynomials: a data-level ciphertext, or a public key (one
   * key-switching key is one public key) at the key level.
   */
  ciphertext(spec: WireSpec, kind: 'data' | 'key', end: number): void {
    const objEnd = this.header(spec, end);
    const idAt = this.at;
    const id = this.parmsId(objEnd);
    const level = spec.levels.get(id);
    if (!level) this.fail('parms id is not a level of this context', idAt);
    if ((kind === 'key') !== (id === spec.keyParmsId)) this.fail(kind === 'key' ? 'a key is not at the key level' : 'a ciphertext is at the key level', idAt);
    const ntt = this.u8(objEnd);
    if (ntt !== (kind === 'key' || spec.scheme === 'ckks' ? 1 : 0)) this.fail('NTT form is not what the scheme writes');
    if (this.u64(objEnd) !== 2) this.fail('not a two-part ciphertext');
    if (this.u64(objEnd) !== spec.degree) this.fail('polynomial degree');
    const k = level.hi.length;
    if (this.u64(objEnd) !== k) this.fail('prime count does not match its level');
    const scaleAt = this.at;
    const scale = this.f64(objEnd);
    const scaled = kind === 'data' && spec.scheme === 'ckks';
    if (scaled ? !(scale >= 2 ** -1022 && scale < Infinity) : scale !== 1) this.fail('scale', scaleAt);
    if (this.u64(objEnd) !== 1) this.fail('correction factor');
    const dataEnd = this.header(spec, objEnd);
    const count = this.u64(dataEnd);
    const poly = k * spec.degree;
    if (count !== 2 * poly && count !== poly) this.fail('coefficient count');
    this.coefficients(spec, level, count / poly, dataEnd);
    this.close(dataEnd);
    if (count === poly) {
      // Seeded: SEAL expands the second polynomial from this seed (uniform mod each prime).
      const seedEnd = this.header(spec, objEnd);
      const type = this.u8(seedEnd);
      if (type !== PRNG_BLAKE2XB && type !== PRNG_SHAKE256) this.fail('unknown PRNG type');
      this.need(SEED_BYTES, seedEnd);
      this.at += SEED_BYTES;
      this.close(seedEnd);
    }
    this.close(objEnd);
  }
}

function reader(bytes: unknown, what: string, field: string | undefined): Reader {
  if (!(bytes instanceof Uint8Array)) {
    throw new IndomainError('HE_BAD_CIPHERTEXT', `${what}: expected bytes, got ${typeof bytes}`, field === undefined ? undefined : { field });
  }
  return new Reader(bytes, what, field);
}

/** Refuse (HE_BAD_CIPHERTEXT) bytes that are not one two-part ciphertext at a data level of `spec`. */
export function checkCiphertext(spec: WireSpec, bytes: Uint8Array, field?: string): void {
  const r = reader(bytes, 'ciphertext', field);
  r.ciphertext(spec, 'data', bytes.length);
  r.close(bytes.length);
}

/** Refuse bytes that are not a public key of `spec`'s key level. */
export function checkPublicKey(spec: WireSpec, bytes: Uint8Array, field?: string): void {
  const r = reader(bytes, 'public key', field);
  r.ciphertext(spec, 'key', bytes.length);
  r.close(bytes.length);
}

/**
 * Refuse bytes that are not key-switching keys of `spec`: Galois keys holding exactly the keys for
 * the Galois elements `elements` (a key missing would make SEAL throw when a rotation needs it),
 * or relinearisation keys for a product of two ciphertexts.
 */
export function checkKeySwitchingKeys(spec: WireSpec, bytes: Uint8Array, keys: { readonly galois: readonly number[] } | 'relin', field?: string): void {
  const r = reader(bytes, keys === 'relin' ? 'relinearisation keys' : 'Galois keys', field);
  const end = r.header(spec, bytes.length);
  const idAt = r.at;
  if (r.parmsId(end) !== spec.keyParmsId) r.fail('parms id is not the key level', idAt);
  const slots = r.u64(end);
  const wanted = new Set(keys === 'relin' ? [0] : keys.galois.map((g) => (g - 1) / 2));
  if (keys === 'relin' ? slots !== 1 : slots > spec.degree || Math.max(...wanted) >= slots) r.fail('key slot count');
  for (let s = 0; s < slots; s++) {
    const count = r.u64(end);
    if (count !== (wanted.has(s) ? spec.decomposition : 0)) r.fail(wanted.has(s) ? 'a required key is missing or malformed' : 'a key this protocol does not use');
    for (let j = 0; j < count; j++) r.ciphertext(spec, 'key', end);
  }
  r.close(end);
  r.close(bytes.length);
}

/**
 * The Galois element of a left rotation by `step` slots (CKKS, degree N): 3^step mod 2N, and its
 * inverse power for a right rotation, as SEAL's `GaloisTool` computes it.
 */
export function rotationElement(degree: number, step: number): number {
  const m = 2 * degree;
  const half = degree / 2;
  if (!Number.isInteger(step) || step === 0 || Math.abs(step) >= half) throw new IndomainError('HE_OUT_OF_RANGE', `rotation step ${step} for degree ${degree}`);
  let e = 1;
  for (let s = step > 0 ? step : half + step; s > 0; s--) e = (e * 3) % m;
  return e;
}
