/**
 * Packed products (protocols/he/packing.ts) on layouts whose diagonals can be entirely zero: a
 * last chunk of fewer rows than the padded width (rows ≡ 1 mod the slot count, 5 columns padded
 * to 8: three of that chunk's diagonals hold no value) and sparse 0/1 columns. SEAL refuses a
 * product with an all-zero plaintext ("result ciphertext is transparent"); such a diagonal adds
 * nothing, so it is skipped, and the product must still equal the plaintext one.
 */
import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { createCkks, decryptorFor, encryptVector, generateKeys, importPublicKeys } from '../../protocols/he/ckks.ts';
import { PackedColumns } from '../../protocols/he/packing.ts';

describe('packed product with all-zero diagonals', () => {
  it('a one-row last chunk and sparse indicator columns give the plaintext product, kept or encoded per use', async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const keys = generateKeys(ckks);
    const ev = importPublicKeys(ckks, keys.publicKey, keys.galoisKeys);
    const dec = decryptorFor(ckks, keys);
    const rng = seededRng('packing-edges');
    const rows = ckks.slots + 1;
    const dense = Array.from({ length: 3 }, () => Float64Array.from({ length: rows }, () => rng.next() * 2 - 1));
    // Two indicator columns, each 1 on one row of the first chunk only.
    const ind = [17, 2_000].map((r) => Float64Array.from({ length: rows }, (_, i) => (i === r ? 1 : 0)));
    const cols = [...dense, ...ind];
    const v = Float64Array.from({ length: rows }, () => rng.next() * 2 - 1);
    const cts = [0, 1].map((c) => encryptVector(ev, v.subarray(c * ckks.slots, Math.min(rows, (c + 1) * ckks.slots)), ckks.scale * ckks.operandScale));
    const exact = cols.map((col) => col.reduce((s, x, i) => s + x * v[i]!, 0) / Math.sqrt(rows));
    for (const budget of [undefined, 0]) {
      const packed = new PackedColumns(ev, cols, Math.sqrt(rows), ckks.operandScale, budget);
      const got = dec.decrypt(packed.transposeTimes(cts), cols.length);
      exact.forEach((e, j) => expect(Math.abs(got[j]! - e)).toBeLessThan(1e-5));
      while (packed.prepareStep());
      const again = dec.decrypt(packed.transposeTimes(cts), cols.length);
      exact.forEach((e, j) => expect(Math.abs(again[j]! - e)).toBeLessThan(1e-5));
    }
  }, 300_000);
});
