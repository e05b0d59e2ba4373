import { describe, expect, it } from 'vitest';
import { createCkks, decryptorFor, deserialize, encode, encryptChunks, encryptVector, generateKeys, importPublicKeys, oneProductScale, productNoise, secretKeyBytes, zeroCiphertexts, ZeroPool } from '../../protocols/he/ckks.ts';
import { PackedColumns } from '../../protocols/he/packing.ts';
import { chebyshevBasis, chebyshevDegreeFor, perSampleCoefficients } from '../../protocols/vfl-lr/chebyshev.ts';
import { seededRng } from '../../engine/rng.ts';

describe('CKKS keys', () => {
  it('a restored secret key decrypts what was encrypted under the original public key', async () => {
    const ckks = await createCkks('ckks-n8192-d2');
    const first = generateKeys(ckks);
    const ev = importPublicKeys(ckks, first.publicKey, first.galoisKeys);
    const values = Float64Array.from({ length: 100 }, (_, i) => Math.sin(i) * 7);
    const [ct] = encryptChunks(ev, values);
    const restored = generateKeys(ckks, secretKeyBytes(ckks, first));
    // A new public key from the same secret key: different bytes, same key pair.
    expect(Buffer.from(restored.publicKey).equals(Buffer.from(first.publicKey))).toBe(false);
    const out = decryptorFor(ckks, restored).decrypt(deserialize(ckks, ct!), values.length);
    out.forEach((v, i) => expect(Math.abs(v - values[i]!)).toBeLessThan(1e-6));
    // A different key pair does not decrypt it.
    const other = decryptorFor(ckks, generateKeys(ckks)).decrypt(deserialize(ckks, ct!), values.length);
    expect(Math.max(...other.map((v, i) => Math.abs(v - values[i]!)))).toBeGreaterThan(1);
  });
});

describe('packed products', () => {
  it('every slot holds a full sum (no partial sums for the key owner); `precise` cuts the error ~20×', async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const keys = generateKeys(ckks);
    const ev = importPublicKeys(ckks, keys.publicKey, keys.galoisKeys);
    const dec = decryptorFor(ckks, keys);
    const rng = seededRng('packed');
    // As the vfl-lr sample cross-Gram: 960 rows of one "host" column against 13 "guest" columns.
    const rows = 960;
    const host = Float64Array.from({ length: rows }, () => rng.next() * 4 - 2);
    const guest = Array.from({ length: 13 }, () => Float64Array.from({ length: rows }, () => rng.next() * 4 - 2));
    const packed = new PackedColumns(ev, guest, 1, ckks.operandScale);
    const out = dec.decrypt(packed.transposeTimes([encryptVector(ev, host, ckks.scale * ckks.operandScale)]), ckks.slots);
    const exact = guest.map((g) => g.reduce((s, gi, i) => s + gi * host[i]!, 0));
    // Slot s holds column (s mod 16)'s full inner product (zero for the 3 padding columns).
    let worst = 0;
    for (let s = 0; s < ckks.slots; s++) worst = Math.max(worst, Math.abs(out[s]! - (exact[s % packed.width] ?? 0)));
    expect(worst).toBeLessThan(1e-4);
    // A full-width product at the fresh scale of one product, rotating before or after the rescale.
    const cols = Array.from({ length: 10 }, () => Float64Array.from({ length: ckks.slots }, () => rng.next() * 2 - 1));
    const v = Float64Array.from({ length: ckks.slots }, () => rng.next());
    const sums = cols.map((x) => x.reduce((s, xi, i) => s + xi * v[i]!, 0));
    const full = new PackedColumns(ev, cols);
    const input = encryptVector(ev, v, oneProductScale(ckks));
    const error = (precise: boolean) => {
      const r = dec.decrypt(full.transposeTimes([input], precise), cols.length);
      return Math.max(...sums.map((e, j) => Math.abs(r[j]! - e)));
    };
    const coarse = error(false);
    const fine = error(true);
    expect(coarse).toBeLessThan(1e-4);
    expect(fine).toBeLessThan(coarse / 20);
  });
});

describe('encryptions of zero and flooding', () => {
  it("the key owner's zeros encrypt like the public key; productNoise bounds a product's run-to-run noise", async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const keys = generateKeys(ckks);
    const ev = importPublicKeys(ckks, keys.publicKey, keys.galoisKeys);
    const dec = decryptorFor(ckks, keys);
    const rng = seededRng('zeros');
    const n = 2 * ckks.slots;
    const cols = Array.from({ length: 14 }, () => Float64Array.from({ length: n }, () => rng.next() * 4 - 2));
    const d = Float64Array.from({ length: n }, () => rng.next() - 0.5);
    const packed = new PackedColumns(ev, cols, Math.sqrt(n), ckks.operandScale);
    // The vfl-lr product: a basis encrypted from supplied zeros, times plaintext coefficients.
    const product = (): Float64Array => {
      const pool = new ZeroPool(ev);
      pool.supply(zeroCiphertexts(ckks, keys, 2));
      expect(pool.size).toBe(2);
      const cts = [0, 1].map((c) => {
        const ct = pool.encrypt(new Float64Array(ckks.slots).fill(1));
        const pt = encode(ckks, d.subarray(c * ckks.slots, (c + 1) * ckks.slots), ckks.operandScale, ct);
        ckks.evaluator.multiplyPlain(ct, pt, ct);
        pt.delete();
        return ct;
      });
      expect(pool.size).toBe(0);
      const out = packed.transposeTimes(cts);
      for (const ct of cts) ct.delete();
      const v = dec.decrypt(out, 14);
      out.delete();
      return v;
    };
    const runs = Array.from({ length: 5 }, product);
    let pooled = 0;
    cols.forEach((x, j) => {
      let exact = 0;
      for (let i = 0; i < n; i++) exact += x[i]! * d[i]!;
      exact /= Math.sqrt(n);
      const mean = runs.reduce((s, r) => s + r[j]!, 0) / runs.length;
      expect(Math.abs(mean - exact)).toBeLessThan(1e-5);
      pooled += runs.reduce((s, r) => s + (r[j]! - mean) ** 2, 0);
    });
    const sd = Math.sqrt(pooled / (14 * (runs.length - 1)));
    // Fresh randomness on every run: the noise is there, and within the bound the flood is set from.
    expect(sd).toBeGreaterThan(0);
    expect(sd).toBeLessThan(productNoise(ckks, 2));
  });
});

describe('per-round Chebyshev degree', () => {
  it('is the smallest degree within tolerance, grows with the window and never exceeds the cap', () => {
    let last = 0;
    for (const r of [0.5, 1, 2, 3, 4, 6]) {
      const k = chebyshevDegreeFor(r, 1e-2, 16);
      expect(k).toBeGreaterThanOrEqual(last);
      last = k;
      // The chosen degree meets the tolerance at the worst offset; one less does not.
      const worst = (deg: number) => {
        let w = 0;
        const base = Float64Array.from({ length: 81 }, (_, i) => -r - 5 + (i * (2 * r + 10)) / 80);
        const coef = perSampleCoefficients((z) => 1 / (1 + Math.exp(-z)), base, r, deg);
        for (let g = 0; g <= 200; g++) {
          const t = -1 + g / 100;
          const basis = chebyshevBasis(Float64Array.of(t), deg);
          for (let i = 0; i < base.length; i++) {
            let s = coef[0]![i]!;
            for (let q = 1; q <= deg; q++) s += coef[q]![i]! * basis[q - 1]![0]!;
            w = Math.max(w, Math.abs(s - 1 / (1 + Math.exp(-(base[i]! + r * t)))));
          }
        }
        return w;
      };
      expect(worst(k)).toBeLessThanOrEqual(1.05e-2);
      if (k > 1) expect(worst(k - 1)).toBeGreaterThan(1e-2 * 0.9);
    }
    expect(chebyshevDegreeFor(50, 1e-3, 8)).toBe(8);
  });
});
