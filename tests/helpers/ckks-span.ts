/**
 * The linear-span attack of tests/attacks/linear-span.test.ts as a helper, for the protocols built
 * since (the hybrid consortium): parse a CKKS ciphertext's residues, find whether its c1 lies in the
 * span of ciphertexts the attacker made, strip it and decrypt under a key of the attacker's making.
 * tests/attacks/linear-span.test.ts imports it from here.
 */
import { generateKeys, type CipherText, type Ckks } from '../../protocols/he/ckks.ts';
import { seededRng } from '../../engine/rng.ts';
import type { DeliveryRecord } from '../../protocols/transport.ts';

/** A ciphertext's polynomials, as the attacker parses them from the wire bytes. */
export interface Parsed {
  /** Bytes before the coefficient data (SEAL's header and ciphertext metadata). */
  readonly header: Uint8Array;
  /** Number of RNS primes at this level. */
  readonly primes: number;
  readonly n: number;
  /** [poly][prime][coefficient], each a residue modulo that prime (NTT form). */
  readonly data: BigUint64Array;
}

/** Load wire bytes as a SEAL ciphertext, or undefined when they are not one (keys, pads, seeds). */
export function loadCiphertext(ckks: Ckks, bytes: Uint8Array): CipherText | undefined {
  // SEAL's serialisation header starts with its magic 0xA15E (little-endian): anything else (a
  // one-time-padded matrix of megabytes, a seed) is not handed to SEAL, whose failed loads of large
  // random buffers exhaust its WebAssembly heap.
  if (bytes.length < 16 || bytes[0] !== 0x5e || bytes[1] !== 0xa1) return undefined;
  const ct = ckks.seal.CipherText();
  try {
    ct.loadArray(ckks.context, bytes);
  } catch {
    ct.delete();
    return undefined;
  }
  if (ct.size !== 2 || ct.polyModulusDegree !== ckks.params.polyModulusDegree) {
    ct.delete();
    return undefined;
  }
  return ct;
}

export function parse(ckks: Ckks, ct: CipherText): Parsed {
  const raw = ct.saveArray(ckks.seal.ComprModeType.none);
  const primes = ct.coeffModulusSize;
  const n = ct.polyModulusDegree;
  const words = 2 * primes * n;
  const start = raw.length - words * 8;
  const copy = new Uint8Array(raw.subarray(start));
  return { header: raw.slice(0, start), primes, n, data: new BigUint64Array(copy.buffer) };
}

export function unparse(ckks: Ckks, p: Parsed): CipherText {
  const bytes = new Uint8Array(p.header.length + p.data.byteLength);
  bytes.set(p.header, 0);
  bytes.set(new Uint8Array(p.data.buffer), p.header.length);
  const ct = ckks.seal.CipherText();
  ct.loadArray(ckks.context, bytes);
  return ct;
}

/** The data primes of the parameter set, first prime first. */
export function primesOf(ckks: Ckks): bigint[] {
  return [...(ckks.context.firstContextData.parms.coeffModulus as BigUint64Array)];
}

export function mod(a: bigint, q: bigint): bigint {
  const r = a % q;
  return r < 0n ? r + q : r;
}

export function inverse(a: bigint, q: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, q), q, 1n, 0n];
  while (r1 !== 0n) {
    const t = r0 / r1;
    [r0, r1] = [r1, r0 - t * r1];
    [s0, s1] = [s1, s0 - t * s1];
  }
  return mod(s0, q);
}

/**
 * The span, over Z_q, of vectors restricted to a fixed set of coordinates (row echelon form, kept
 * reduced as vectors arrive). A vector in the span of M vectors over all 8,192 coordinates is in
 * it over any subset; with at least M + 64 coordinates a vector outside the full span falls in the
 * restricted one with probability about q^−64.
 */
export class Span {
  private readonly rows: { pivot: number; v: bigint[]; tag: number }[] = [];
  constructor(
    private readonly q: bigint,
    private readonly coords: readonly number[],
  ) {}

  get size(): number {
    return this.rows.length;
  }

  private project(poly: BigUint64Array, offset: number): bigint[] {
    return this.coords.map((c) => poly[offset + c]!);
  }

  /** Reduce v by the basis; returns the remainder and the combination used (tag → coefficient). */
  private reduce(v: bigint[]): { rest: bigint[]; combo: Map<number, bigint> } {
    const rest = v.slice();
    const combo = new Map<number, bigint>();
    for (const row of this.rows) {
      const f = rest[row.pivot]!;
      if (f === 0n) continue;
      for (let i = 0; i < rest.length; i++) if (row.v[i] !== 0n) rest[i] = mod(rest[i]! - f * row.v[i]!, this.q);
      // row.v is a combination of inputs recorded in combos below.
      const c = this.combos.get(row.tag)!;
      for (const [t, x] of c) combo.set(t, mod((combo.get(t) ?? 0n) + f * x, this.q));
    }
    return { rest, combo };
  }

  private readonly combos = new Map<number, Map<number, bigint>>();

  /** Add the first-prime c1 of a ciphertext, identified by `tag`. */
  add(p: Parsed, tag: number): void {
    const { rest, combo } = this.reduce(this.project(p.data, p.n * p.primes));
    const pivot = rest.findIndex((x) => x !== 0n);
    if (pivot < 0) return;
    const inv = inverse(rest[pivot]!, this.q);
    const v = rest.map((x) => mod(x * inv, this.q));
    // v = inv·(input − Σ combo): keep it as a combination of inputs.
    const own = new Map<number, bigint>([[tag, inv]]);
    for (const [t, x] of combo) own.set(t, mod(-x * inv, this.q));
    this.combos.set(tag, own);
    this.rows.push({ pivot, v, tag });
  }

  /** The coefficients γ (by tag) with c1 = Σ γ·c1(tag), or undefined when c1 is outside the span. */
  solve(p: Parsed): Map<number, bigint> | undefined {
    const { rest, combo } = this.reduce(this.project(p.data, p.n * p.primes));
    return rest.every((x) => x === 0n) ? combo : undefined;
  }
}

export function randomCoords(n: number, count: number, seed: string): number[] {
  const r = seededRng(seed);
  const set = new Set<number>();
  while (set.size < Math.min(n, count)) set.add(Math.floor(r.next() * n));
  return [...set].sort((a, b) => a - b);
}

/** Every ciphertext in a message body, in field order (bytes, bytes[] and bytes[][] fields). */
export function ciphertextsOf(ckks: Ckks, body: Readonly<Record<string, unknown>>): Parsed[] {
  const out: Parsed[] = [];
  const visit = (v: unknown): void => {
    if (v instanceof Uint8Array) {
      const ct = loadCiphertext(ckks, v);
      if (ct) {
        out.push(parse(ckks, ct));
        ct.delete();
      }
    } else if (Array.isArray(v)) v.forEach(visit);
  };
  for (const v of Object.values(body)) visit(v);
  return out;
}

export interface SweepResult {
  /** Ciphertexts received, by receiver/protocol/type. */
  checked: Record<string, number>;
  /** Of them, those in the span of what the receiver sent before. */
  inSpan: Record<string, number>;
}

/**
 * For every party: every ciphertext it received, in delivery order, tested against the span of
 * every ciphertext it had sent until then (over the first prime). Order matters: the host's basis
 * is the arbiter's encryption of zero plus its plaintext, so a zero it received earlier shares its
 * c1 with a basis it sends later, and only the later direction is a leak.
 */
export function sweep(ckks: Ckks, log: readonly DeliveryRecord[]): SweepResult {
  const q = primesOf(ckks)[0]!;
  const parsed = log.map((r) => ciphertextsOf(ckks, r.received.body));
  const sentBy = new Map<string, number>();
  log.forEach((r, i) => sentBy.set(r.from, (sentBy.get(r.from) ?? 0) + parsed[i]!.length));
  const spans = new Map<string, Span>();
  for (const [party, count] of sentBy) spans.set(party, new Span(q, randomCoords(ckks.params.polyModulusDegree, count + 64, party)));
  const checked: Record<string, number> = {};
  const inSpan: Record<string, number> = {};
  let tag = 0;
  log.forEach((r, i) => {
    const key = `${r.to}<-${r.protocol}/${r.type}`;
    const span = spans.get(r.to);
    for (const p of parsed[i]!) {
      checked[key] = (checked[key] ?? 0) + 1;
      if (span && span.size > 0 && span.solve(p)) inSpan[key] = (inSpan[key] ?? 0) + 1;
    }
    for (const p of parsed[i]!) spans.get(r.from)!.add(p, tag++);
  });
  return { checked, inSpan };
}

export interface LabelAttack {
  /** Residual chunks whose c1 lies in the span of the platform's own round-0 basis. */
  chunksInSpan: number;
  chunks: number;
  /** Labels the platform reads correctly (of `rows`); the best of both cluster orientations. */
  recovered: number;
  rows: number;
}

/**
 * The platform's attack on one training run: it holds the basis ciphertexts it sent in round 0
 * and the residual it received. Where the residual is in their span it strips it to (p_0, 0),
 * decrypts with a key of its own making, and splits the values into two clusters.
 */
export function attackResidual(ckks: Ckks, basis: Uint8Array[][], chunks: Uint8Array[], labels: Uint8Array): LabelAttack {
  const primes = primesOf(ckks);
  const attackerKey = generateKeys(ckks);
  const decryptor = ckks.seal.Decryptor(ckks.context, attackerKey.secretKey);
  const values: number[] = [];
  let chunksInSpan = 0;
  chunks.forEach((bytes, c) => {
    const residual = loadCiphertext(ckks, bytes)!;
    const target = parse(ckks, residual);
    residual.delete();
    const own = basis.map((perK) => {
      const ct = loadCiphertext(ckks, perK[c]!)!;
      const p = parse(ckks, ct);
      ct.delete();
      return p;
    });
    const span = new Span(primes[0]!, randomCoords(target.n, own.length + 64, `chunk${c}`));
    own.forEach((p, k) => span.add(p, k));
    const gamma = span.solve(target);
    if (!gamma) return;
    // In span on the sampled coordinates: check γ on every coefficient of the first prime.
    const q0 = primes[0]!;
    const { n, primes: L } = target;
    const centred = new Map([...gamma].map(([k, g]) => [k, g > q0 / 2n ? g - q0 : g]));
    let exact = true;
    for (let j = 0; j < n && exact; j++) {
      let s = 0n;
      for (const [k, g] of centred) s += g * own[k]!.data[n * L + j]!;
      exact = mod(s, q0) === target.data[n * L + j]!;
    }
    if (!exact) return;
    chunksInSpan++;
    // Strip: c0 −= Σ γ_k·c0(T_k) on every prime; c1 = 0.
    const stripped = new BigUint64Array(target.data);
    for (let i = 0; i < L; i++) {
      const q = primes[i]!;
      for (let j = 0; j < n; j++) {
        let s = stripped[i * n + j]!;
        for (const [k, g] of centred) s -= mod(g, q) * own[k]!.data[i * n + j]!;
        stripped[i * n + j] = mod(s, q);
        stripped[n * L + i * n + j] = 0n;
      }
    }
    const ct = unparse(ckks, { ...target, data: stripped });
    const pt = decryptor.decrypt(ct)!;
    const decoded = ckks.encoder.decode(pt) as Float64Array;
    pt.delete();
    ct.delete();
    values.push(...decoded.subarray(0, Math.min(ckks.slots, labels.length - c * ckks.slots)));
  });
  decryptor.delete();
  attackerKey.secretKey.delete();
  let recovered = 0;
  if (values.length > 0) {
    // coef_0 − y: two clusters; the lower one is y = 1. Read both orientations, keep the better.
    const mid = (Math.min(...values) + Math.max(...values)) / 2;
    let agree = 0;
    values.forEach((v, i) => (agree += Number((v < mid ? 1 : 0) === labels[i])));
    recovered = Math.max(agree, values.length - agree);
  }
  return { chunksInSpan, chunks: chunks.length, recovered, rows: labels.length };
}

