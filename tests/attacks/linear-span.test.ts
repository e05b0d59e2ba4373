/**
 * Attack: strip a ciphertext that was computed from the receiver's own ciphertexts (issue 12, item 1).
 *
 * A CKKS ciphertext is a pair (c0, c1) with c0 + c1·s = Δ·m + e. When the bank computes its residual
 * as Σ_k p_k ⊙ [[T_k]] + p_0 from the platform's basis ciphertexts [[T_k]], the residual's c1 is
 * Σ_k p_k·c1(T_k). In round 0 every p_k is a constant polynomial (the same coefficient in every
 * slot), so the platform, who made every c1(T_k), solves for the K integers γ_k modulo the first
 * prime, checks them on all 8,192 coefficients, subtracts Σ γ_k·[[T_k]] from the residual and holds
 * (p_0, 0): a ciphertext whose c1 is zero decrypts under ANY key, here to coef_0 − y, the labels.
 *
 * This file runs that attack, as the platform would, on real vfl-lr output (default_credit, 4,096
 * rows: one full chunk), with the bank's re-randomisation on (the attack must fail) and off (it
 * must succeed), and then sweeps every ciphertext every party receives in vfl-lr and in the
 * scorecard pipeline, every round: none may lie in the span of the ciphertexts the receiver sent.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { createCkks, generateKeys, type CipherText, type Ckks } from '../../protocols/he/ckks.ts';
import { MemoryTransport, type DeliveryRecord } from '../../protocols/transport.ts';
import { vflConfig, VflArbiter, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { splitPair } from '../../benchmarks/pair.ts';
import { runScorecard } from '../../benchmarks/scorecard.ts';
import { scorecardConfig } from '../../protocols/scorecard/protocol.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

// ---- What the attacker needs: a ciphertext's raw residues, modular linear algebra ------------------

/** A ciphertext's polynomials, as the attacker parses them from the wire bytes. */
interface Parsed {
  /** Bytes before the coefficient data (SEAL's header and ciphertext metadata). */
  readonly header: Uint8Array;
  /** Number of RNS primes at this level. */
  readonly primes: number;
  readonly n: number;
  /** [poly][prime][coefficient], each a residue modulo that prime (NTT form). */
  readonly data: BigUint64Array;
}

/** Load wire bytes as a SEAL ciphertext, or undefined when they are not one (keys, pads, seeds). */
function loadCiphertext(ckks: Ckks, bytes: Uint8Array): CipherText | undefined {
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

function parse(ckks: Ckks, ct: CipherText): Parsed {
  const raw = ct.saveArray(ckks.seal.ComprModeType.none);
  const primes = ct.coeffModulusSize;
  const n = ct.polyModulusDegree;
  const words = 2 * primes * n;
  const start = raw.length - words * 8;
  const copy = new Uint8Array(raw.subarray(start));
  return { header: raw.slice(0, start), primes, n, data: new BigUint64Array(copy.buffer) };
}

function unparse(ckks: Ckks, p: Parsed): CipherText {
  const bytes = new Uint8Array(p.header.length + p.data.byteLength);
  bytes.set(p.header, 0);
  bytes.set(new Uint8Array(p.data.buffer), p.header.length);
  const ct = ckks.seal.CipherText();
  ct.loadArray(ckks.context, bytes);
  return ct;
}

/** The data primes of the parameter set, first prime first. */
function primesOf(ckks: Ckks): bigint[] {
  return [...(ckks.context.firstContextData.parms.coeffModulus as BigUint64Array)];
}

function mod(a: bigint, q: bigint): bigint {
  const r = a % q;
  return r < 0n ? r + q : r;
}

function inverse(a: bigint, q: bigint): bigint {
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
class Span {
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

function randomCoords(n: number, count: number, seed: string): number[] {
  const r = seededRng(seed);
  const set = new Set<number>();
  while (set.size < Math.min(n, count)) set.add(Math.floor(r.next() * n));
  return [...set].sort((a, b) => a - b);
}

/** Every ciphertext in a message body, in field order (bytes, bytes[] and bytes[][] fields). */
function ciphertextsOf(ckks: Ckks, body: Readonly<Record<string, unknown>>): Parsed[] {
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

interface SweepResult {
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
function sweep(ckks: Ckks, log: readonly DeliveryRecord[]): SweepResult {
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

function merged(...results: SweepResult[]): SweepResult {
  const out: SweepResult = { checked: {}, inSpan: {} };
  for (const r of results) {
    for (const [k, v] of Object.entries(r.checked)) out.checked[k] = (out.checked[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.inSpan)) out.inSpan[k] = (out.inSpan[k] ?? 0) + v;
  }
  return out;
}

// ---- The label attack on vfl-lr's residual, as the platform runs it -----------------------------------

interface LabelAttack {
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
function attackResidual(ckks: Ckks, log: readonly DeliveryRecord[], labels: Uint8Array): LabelAttack {
  const primes = primesOf(ckks);
  const basisMsg = log.find((r) => r.type === 'HostBasis' && r.round === 0)!;
  const residualMsg = log.find((r) => r.type === 'Residual' && r.round === 0)!;
  const basis = basisMsg.received.body.basis as Uint8Array[][];
  const chunks = residualMsg.received.body.chunks as Uint8Array[];
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

async function trainVfl(rerandomise: boolean, rows: number) {
  const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
  const ids = guestAll.ids.slice(0, rows);
  const g = selectRows(guestAll, Array.from({ length: rows }, (_, i) => i));
  const h = alignTo(hostAll, ids);
  const config = vflConfig(`attack-span-${rerandomise ? 'on' : 'off'}`, { maxIterations: 4 });
  const [cg, ch, ca] = await Promise.all([createCkks(config.params), createCkks(config.params), createCkks(config.params)]);
  const guest = new VflGuest(cg, g.features, g.label!, config, cryptoRng, rerandomise);
  const host = new VflHost(ch, h.features, config);
  const arbiter = new VflArbiter(ca, config, cryptoRng);
  const transport = new MemoryTransport([arbiter, guest, host]);
  await transport.run();
  return { log: transport.log, labels: g.label!, ckks: ch };
}

describe('attack: linear span (the platform strips the residual to read the labels)', () => {
  it('re-randomised residuals are outside the span of the platform basis: labels no better than the majority guess; without it, every label', async () => {
    const rows = 4096;
    const on = await trainVfl(true, rows);
    const off = await trainVfl(false, rows);
    const aOn = attackResidual(on.ckks, on.log, on.labels);
    const aOff = attackResidual(off.ckks, off.log, off.labels);
    const events = on.labels.reduce((s, y) => s + y, 0);
    const majority = Math.max(events, rows - events);
    console.log(
      `linear-span label attack, ${rows} rows: re-randomised: ${aOn.chunksInSpan} of ${aOn.chunks} residual chunks in span, ${aOn.recovered} labels read; ` +
        `not re-randomised: ${aOff.chunksInSpan} of ${aOff.chunks} in span, ${aOff.recovered} of ${rows} labels read (majority guess: ${majority})`,
    );
    // Defence on: the platform cannot strip the residual; it reads nothing.
    expect(aOn.chunksInSpan).toBe(0);
    expect(aOn.recovered).toBe(0);
    // Defence off: the same attack reads every label.
    expect(aOff.chunksInSpan).toBe(aOff.chunks);
    expect(aOff.recovered).toBe(rows);

    // Every round, every role: no received ciphertext in the span of what the receiver sent.
    const sOn = sweep(on.ckks, on.log);
    const sOff = sweep(off.ckks, off.log);
    console.log('vfl-lr sweep, re-randomised:', JSON.stringify(sOn), ' not re-randomised:', JSON.stringify(sOff));
    expect(sOn.checked['host<-vfl-lr/Residual']).toBeGreaterThan(0);
    expect(sOn.checked['arbiter<-vfl-lr/HostGradient']).toBeGreaterThan(0);
    expect(sOn.checked['arbiter<-vfl-lr/GuestGradient']).toBeGreaterThan(0);
    expect(sOn.checked['guest<-vfl-lr/HostBasis']).toBeGreaterThan(0);
    expect(sOn.inSpan).toEqual({});
    // The sweep finds the leak when the defence is off (round 0 at least).
    expect(sOff.inSpan['host<-vfl-lr/Residual']).toBeGreaterThan(0);
  }, 240_000);

  it('scorecard: no ciphertext any party receives, in binning, training or the scorecard stage, lies in the span of what it sent', async () => {
    const guest = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const host = loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' });
    const pair = await splitPair(guest, host, 'span-scorecard', 0.2);
    const run = await runScorecard(pair, { seed: 'span-scorecard', policy: 'partial' });
    // The scorecard's own key and the training's arbiter key use the same parameter set.
    expect(scorecardConfig('sweep').params).toBe(vflConfig('sweep').params);
    const ckks = await createCkks(scorecardConfig('sweep').params);
    // Two keys, two sweeps: the guest's key (binning and scorecard stages, in order) and the arbiter's
    // (training).
    const s = merged(sweep(ckks, run.log), sweep(ckks, run.training.transport.log));
    console.log('scorecard sweep:', JSON.stringify(s));
    const receivedTypes = Object.keys(s.checked);
    expect(receivedTypes.some((k) => k.startsWith('host<-scorecard/'))).toBe(true);
    expect(receivedTypes.some((k) => k.startsWith('guest<-scorecard/'))).toBe(true);
    expect(s.inSpan).toEqual({});
  }, 240_000);
});
