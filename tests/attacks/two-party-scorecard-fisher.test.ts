/**
 * Circuit privacy of the two-party scorecard's Fisher blocks (protocols/scorecard-2p/fisher.ts)
 * against the guest (bank), who holds the CKKS key and decrypts them. The cross block of a host
 * column x̃_l is Σ_i σ′_i·x̃_l,i·x_G,i: the guest knows two candidate host columns x0 and x1 = x0 + t
 * with t orthogonal to every σ′ ⊙ x_G,a, so both give the same released sums. It replays the host's
 * evaluation for each (it holds every key and all of its own messages) and picks the one whose
 * decryption is closer. Re-randomised only (the host's test-only `flood: false`), the decryption
 * error is the host's evaluation's, which depends on its plaintexts beyond the sums (the rounding
 * of B_v ⊙ x̃_l at the operand scale): the guess is right. Flooded per copy: at chance.
 * Inputs: 4,096 rows of default_credit, the real code path of the host's FisherBlocks.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { linearPredictor, ones } from '../../engine/columns.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng, gaussian, seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { createCkks, decryptorFor, deserialize, generateKeys, importPublicKeys, type Ckks, type KeyOwner } from '../../protocols/he/ckks.ts';
import { sigmoid } from '../../models/logistic.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { OwnerEncryptor } from '../../protocols/vfl-lr-2p/common.ts';
import { encryptDiagonals, fisherBasis, fisherCoefficients, fisherFlood, fisherWindows, hostFisherBlocks, pairProducts } from '../../protocols/scorecard-2p/fisher.ts';
import { fisherConfig } from '../../protocols/scorecard-2p/common.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const ROWS = 4096;

/** The first `count` values of a packed result, its S/width copies averaged (the guest's best read). */
function averaged(ckks: Ckks, key: KeyOwner, bytes: Uint8Array, count: number, width: number): Float64Array {
  const ct = deserialize(ckks, bytes);
  const all = decryptorFor(ckks, key).decrypt(ct, ckks.slots);
  ct.delete();
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) {
    for (let k = j; k < ckks.slots; k += width) out[j] += all[k]!;
    out[j] /= ckks.slots / width;
  }
  return out;
}

describe('attacks by the guest on the two-party Fisher blocks', () => {
  it('circuit privacy: unflooded, the guest tells which of two host columns with the same cross sums was used; flooded per copy, at chance', async () => {
    const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const g = selectRows(guestAll, Array.from({ length: ROWS }, (_, i) => i));
    const h = alignTo(loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' }), g.ids);
    const z = (cols: Float64Array[]) => applyStandardizer(fitStandardizer(cols), cols);
    const xg = z(g.features.slice(0, 2));
    const xh = z(h.features.slice(0, 1));
    const config = fisherConfig(vflConfig('attack-2p-fisher', {}));
    const ckks = await createCkks(config.params);
    const key = generateKeys(ckks);
    const kg = ckks.seal.KeyGenerator(ckks.context, key.secretKey);
    const relinKeys = kg.createRelinKeys();
    kg.delete();
    const ev = importPublicKeys(ckks, key.publicKey, key.galoisKeys);

    // A model: the guest's logit with its intercept, the host's partial logit.
    const a = linearPredictor(xg, [0.4, -0.3], ROWS, -1.2);
    const u = linearPredictor(xh, [0.5], ROWS);
    const windows = fisherWindows(u, config);
    const basis = fisherBasis(u, windows);
    const enc = new OwnerEncryptor(ckks, key);
    const input = {
      coefficients: fisherCoefficients(a, windows).map((c) => enc.encryptChunks(c, ckks.scale)),
      columns: encryptDiagonals(enc, ckks, [ones(ROWS), ...xg], ROWS),
      products: encryptDiagonals(enc, ckks, pairProducts(xg), ROWS),
    };
    enc.release();

    // Candidates with the same cross sums: t ⊥ σ′ ⊙ x_a for a ∈ {1, x_G1, x_G2} (Gram–Schmidt).
    const w = Float64Array.from(a, (v, i) => {
      const p = sigmoid(v + u[i]!);
      return p * (1 - p);
    });
    const dirs = [ones(ROWS), ...xg].map((x) => Float64Array.from(x, (v, i) => v * w[i]!));
    const r = seededRng('candidate');
    const t = Float64Array.from({ length: ROWS }, () => 0.5 * gaussian(r));
    const basisDirs: Float64Array[] = [];
    for (const d of dirs) {
      const v = Float64Array.from(d);
      for (const q of basisDirs) {
        const c = v.reduce((s, x, i) => s + x * q[i]!, 0);
        for (let i = 0; i < ROWS; i++) v[i] -= c * q[i]!;
      }
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      basisDirs.push(v.map((x) => x / norm));
    }
    for (const q of basisDirs) {
      const c = t.reduce((s, x, i) => s + x * q[i]!, 0);
      for (let i = 0; i < ROWS; i++) t[i] -= c * q[i]!;
    }
    const x0 = xh[0]!;
    const x1 = Float64Array.from(x0, (v, i) => v + t[i]!);
    const sumGap = Math.max(...dirs.map((d) => Math.abs(d.reduce((s, v, i) => s + v * (x1[i]! - x0[i]!), 0))));

    const count = 3;
    const reply = (x: Float64Array, flood: boolean) => {
      const sigma = flood ? fisherFlood(ckks, ROWS, config) : 1e-30;
      const blocks = hostFisherBlocks(ckks, ev, relinKeys, [x], basis, input, sigma, cryptoRng);
      return averaged(ckks, key, blocks.cross[0]!, count, input.columns.length);
    };
    const sims = [reply(x0, false), reply(x1, false)];
    const simGap = Math.max(...sims[0]!.map((v, j) => Math.abs(v - sims[1]![j]!)));
    const game = (flood: boolean, trials: number) => {
      const coin = seededRng(`coin-${flood}`);
      let right = 0;
      for (let k = 0; k < trials; k++) {
        const bit = coin.next() < 0.5 ? 0 : 1;
        const got = reply(bit ? x1 : x0, flood);
        const dist = sims.map((s) => s.reduce((acc, v, j) => acc + (v - got[j]!) ** 2, 0));
        right += Number((dist[0]! <= dist[1]! ? 0 : 1) === bit);
      }
      return right / trials;
    };
    const off = game(false, 8);
    const on = game(true, 20);
    console.log(
      `Fisher circuit privacy (${ROWS} rows): candidates' cross sums differ by ${sumGap.toExponential(1)}, their evaluations by ${simGap.toExponential(1)} (flood σ ${fisherFlood(ckks, ROWS, config).toExponential(1)}); ` +
        `unflooded ${(100 * off).toFixed(0)}% right, flooded ${(100 * on).toFixed(0)}%`,
    );
    expect(sumGap).toBeLessThan(1e-9);
    expect(off).toBe(1);
    expect(on).toBeLessThan(0.8);
    relinKeys.delete();
  }, 900_000);
});
