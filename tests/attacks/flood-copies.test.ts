/**
 * Attack: the key owner averages the copies of a flooded result to strip the flood.
 *
 * An encrypted product Xᵀ[[v]] (protocols/he/packing.ts) holds each column's sum in every slot
 * ≡ j (mod M), S/M copies. The arbiter decrypts every slot of the gradients it receives. If the
 * re-randomisation floods each slot with independent noise, averaging the S/M copies of a sum divides
 * the flood by √(S/M) (64 copies here: by 8), and what the flood was there to hide (the evaluation
 * error, which depends on the other party's plaintext operands) shows through. The defence: the same
 * noise in every copy (`rerandomize(…, period)`), so the average carries the whole flood.
 */
import { describe, expect, it } from 'vitest';
import { cryptoRng } from '../../engine/rng.ts';
import { createCkks, decryptorFor, encryptVector, generateKeys, importPublicKeys, rerandomize } from '../../protocols/he/ckks.ts';
import { PackedColumns } from '../../protocols/he/packing.ts';

describe('attack: averaging the copies of a flooded product', () => {
  it('with the flood repeated per copy the average keeps all of it; with independent noise per slot it keeps an eighth', async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const keys = generateKeys(ckks);
    const ev = importPublicKeys(ckks, keys.publicKey, keys.galoisKeys);
    const dec = decryptorFor(ckks, keys);
    const rows = 1000;
    const columns = 64;
    const cols = Array.from({ length: columns }, () => Float64Array.from({ length: rows }, () => cryptoRng.next() - 0.5));
    const v = Float64Array.from({ length: rows }, () => cryptoRng.next() - 0.5);
    const exact = cols.map((c) => c.reduce((s, x, i) => s + x * v[i]!, 0));
    const packed = new PackedColumns(ev, cols, 1, ckks.operandScale);
    const copies = ckks.slots / packed.width;
    const sigma = 1e-3;
    /** The deviation, over the columns, of the copy-averaged result from the exact sums. */
    const averagedError = (period: number): number => {
      const ct = packed.transposeTimes([encryptVector(ev, v, ckks.scale * ckks.operandScale)]);
      rerandomize(ev, ct, sigma, cryptoRng, period);
      const all = dec.decrypt(ct, ckks.slots);
      ct.delete();
      let ss = 0;
      for (let j = 0; j < columns; j++) {
        let mean = 0;
        for (let k = 0; k < copies; k++) mean += all[k * packed.width + j]!;
        mean /= copies;
        ss += (mean - exact[j]!) ** 2;
      }
      return Math.sqrt(ss / columns);
    };
    const on = averagedError(packed.width);
    const off = averagedError(ckks.slots);
    console.log(`copy averaging, ${copies} copies, flood ${sigma}: per-copy flood leaves ${on.toExponential(2)}; independent flood leaves ${off.toExponential(2)} (${(sigma / off).toFixed(1)}× below the flood)`);
    // 64 columns: the deviation's estimate is within ±25% of its value with overwhelming probability.
    expect(on).toBeGreaterThan(0.7 * sigma);
    expect(off).toBeLessThan(0.2 * sigma);
  });
});
