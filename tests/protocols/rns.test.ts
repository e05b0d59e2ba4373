/**
 * The residue-number ring of vfl-lr's shares (protocols/mpc/rns.ts), against BigInt arithmetic
 * modulo M: encoding and centred decoding, the kernels (row-wise dot products, transposed
 * matrix-vector products with their lazy reductions), pads (deterministic per seed and label,
 * each prime's residues uniform), and the refusals of malformed wire values.
 */
import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { add, decodeFixed, encodeFixed, fromBytes, matVecInto, PRIMES, RESIDUES, rowDot, sub, toBytes, uniform } from '../../protocols/mpc/rns.ts';

const M = PRIMES.reduce((m, p) => m * BigInt(p), 1n);

/** The value in [0, M) of residues v[k·n + i] (CRT by search-free BigInt reconstruction). */
function valueAt(v: Int32Array, n: number, i: number): bigint {
  let x = 0n;
  PRIMES.forEach((p, k) => {
    const mp = M / BigInt(p);
    let inv = 1n;
    // (M/p)^(p−2) mod p: Fermat inverse.
    let base = mp % BigInt(p);
    let e = BigInt(p) - 2n;
    while (e > 0n) {
      if (e & 1n) inv = (inv * base) % BigInt(p);
      base = (base * base) % BigInt(p);
      e >>= 1n;
    }
    x += BigInt(v[k * n + i]!) * mp * inv;
  });
  return x % M;
}

const seed = (s: string) => seededRng(s).bytes(32);

describe('residue-number ring Z_M', () => {
  it('encodes round(x·2^f) and decodes the centred value, negatives and 2^52-scale values included', () => {
    const xs = Float64Array.of(0, 1, -1, 0.5, -0.75, 3.25e5, -7e-8, 2 ** 12 - 1e-9, -(2 ** 20));
    for (const bits of [0, 26, 30]) {
      const e = encodeFixed(xs, bits, 'x');
      xs.forEach((x, i) => {
        const want = BigInt(Math.round(x * 2 ** bits));
        expect(valueAt(e, xs.length, i)).toBe(((want % M) + M) % M);
      });
      const d = decodeFixed(e, bits);
      xs.forEach((x, i) => expect(d[i]).toBe(Math.round(x * 2 ** bits) / 2 ** bits + 0));
    }
    expect(() => encodeFixed(Float64Array.of(2 ** 30), 26, 'big')).toThrow(expect.objectContaining({ code: 'VFL_BAD_DATA', location: { field: 'big' } }));
    expect(() => encodeFixed(Float64Array.of(Number.NaN), 26, 'nan')).toThrow(expect.objectContaining({ code: 'VFL_BAD_DATA' }));
  });

  it('shares: (x − pad) + pad = x; a sum of 2^100 decodes exactly', () => {
    const rng = seededRng('shares');
    const xs = Float64Array.from({ length: 1000 }, () => rng.next() * 4 - 2);
    const e = encodeFixed(xs, 52, 'x');
    const pad = uniform(seed('s'), 'pad', xs.length);
    const back = decodeFixed(add(sub(e, pad), pad), 52);
    xs.forEach((x, i) => expect(back[i]).toBe(Math.round(x * 2 ** 52) / 2 ** 52 + 0));
    // 2^48 · 2^52 built by repeated doubling in the ring: far beyond 2^53, well inside M/2.
    let v = encodeFixed(Float64Array.of(-(2 ** 48)), 0, 'v');
    for (let i = 0; i < 52; i++) v = add(v, v, new Int32Array(v.length));
    expect(decodeFixed(v, 100)[0]).toBe(-(2 ** 48) / 2 ** 48);
  });

  it('rowDot and matVecInto equal BigInt sums modulo M, over more terms than one lazy block', () => {
    const n = 37;
    const vectors = 2100;
    const a = uniform(seed('a'), 'a', vectors * n);
    const b = uniform(seed('b'), 'b', vectors * n);
    const got = rowDot(a, b, vectors, n);
    for (const i of [0, 17, 36]) {
      let want = 0n;
      // Vector v of row i, prime k, at (k·vectors + v)·n + i: the CRT value of its five residues.
      const one = (m: Int32Array, v: number) => valueAt(Int32Array.from(PRIMES, (_, k) => m[(k * vectors + v) * n + i]!), 1, 0);
      for (let v = 0; v < vectors; v++) want += one(a, v) * one(b, v);
      expect(valueAt(got, n, i)).toBe(want % M);
    }
    const rows = 5000;
    const cols = 3;
    const m = uniform(seed('m'), 'm', cols * rows);
    const vec = uniform(seed('v'), 'v', rows);
    const acc = uniform(seed('acc'), 'acc', cols);
    const start = Int32Array.from(acc);
    matVecInto(acc, m, cols, vec, rows);
    for (let j = 0; j < cols; j++) {
      let want = valueAt(start, cols, j);
      for (let i = 0; i < rows; i++) {
        const mv = valueAt(Int32Array.from(PRIMES, (_, k) => m[(k * cols + j) * rows + i]!), 1, 0);
        want += mv * valueAt(vec, rows, i);
      }
      expect(valueAt(acc, cols, j)).toBe(want % M);
    }
  });

  it('pads: the same seed and label give the same residues, another label or seed others; each prime uniform', () => {
    const s = seed('pads');
    const x = uniform(s, 'basis/0/0', 50_000);
    expect(uniform(s, 'basis/0/0', 50_000)).toEqual(x);
    expect(uniform(s, 'basis/0/1', 50_000)).not.toEqual(x);
    expect(uniform(seed('other'), 'basis/0/0', 50_000)).not.toEqual(x);
    const n = 50_000;
    PRIMES.forEach((p, k) => {
      const part = x.subarray(k * n, (k + 1) * n);
      // Ten equal bins: chi-square with 9 degrees of freedom below its 0.1% quantile (27.9).
      const bins = new Array<number>(10).fill(0);
      for (const r of part) {
        expect(r >= 0 && r < p).toBe(true);
        bins[Math.floor((r / p) * 10)]!++;
      }
      const chi = bins.reduce((s2, c) => s2 + (c - n / 10) ** 2 / (n / 10), 0);
      expect(chi).toBeLessThan(27.9);
    });
    expect(() => uniform(new Uint8Array(16), 'x', 1)).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
  });

  it('refuses wire values of the wrong length or with a residue out of range, naming the field', () => {
    const v = uniform(seed('wire'), 'w', 10);
    expect(fromBytes(toBytes(v), 10, 'share')).toEqual(v);
    expect(() => fromBytes(toBytes(v), 9, 'share')).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'share' } }));
    const bad = Int32Array.from(v);
    bad[3 * 10 + 4] = PRIMES[3]!;
    expect(() => fromBytes(toBytes(bad), 10, 'share')).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'share' } }));
    bad[3 * 10 + 4] = -1;
    expect(() => fromBytes(toBytes(bad), 10, 'share')).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(RESIDUES).toBe(5);
    expect(() => add(v, v.subarray(5))).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
  });
});
