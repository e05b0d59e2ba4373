/**
 * Attacks by the guest (bank) on the two-party scorecard's training score histogram
 * (protocols/scorecard-2p/histogram.ts): it owns the key and decrypts what the host returns. The
 * host's defences are switched off through its test-only switches (HistogramSwitches), which no
 * job spec, request or CLI flag reaches. Inputs: 2,000 rows of default_credit, the guest's points
 * an integer score of three of its features, the host's of one of its own (real values, the same
 * code path as protocols/scorecard-2p/{guest,host}.ts).
 *
 * 1. The joint table. Convolution off (`joint`): the host multiplies by X^{L_G·h} instead of X^h
 *    and the guest decrypts N(g, h, y); every row whose (g, y) is unique among the training rows
 *    then gives away its host points. Convolution on: the guest decrypts the histogram of g + h
 *    by label only; the same attacker (a unique-(g, y) row is read when exactly one host value is
 *    consistent with what it decrypted) reads no row.
 * 2. The linear span. Not re-randomised, the result's c1 is Σ_c Q_c·c1(P_c), and the guest holds
 *    every c1(P_c): of two host point vectors with the same histogram (two rows of one (g, y) cell
 *    swap their host points) it replays both and finds the one the host used by equality. With the
 *    fresh encryption of zero, c1 equals neither and the guess is at chance.
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { bfvKeys, bfvPublicEncryptor, createBfv, loadBfv, readPolynomial, type Bfv, type BfvKeys } from '../../protocols/he/bfv.ts';
import { decodeHistogram, guestBlocks, histogramLayout, hostConvolve, type HistogramLayout, type HistogramSwitches } from '../../protocols/scorecard-2p/histogram.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const ROWS = 2000;

function inputs() {
  const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const g = selectRows(guestAll, Array.from({ length: ROWS }, (_, i) => i));
  const h = alignTo(loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' }), g.ids);
  const clip = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
  const guestPoints = Float64Array.from({ length: ROWS }, (_, i) => clip(Math.round(10 * (g.features[0]![i]! + g.features[1]![i]! + g.features[2]![i]!)), -40, 40) + 40);
  const hostPoints = Float64Array.from({ length: ROWS }, (_, i) => clip(Math.round(3 * h.features[0]![i]!), -5, 6) + 5);
  return { guestPoints, hostPoints, labels: g.label!, guestRange: 81, hostRange: 12 };
}

/** The guest encrypts its blocks, the host convolves with `switches`, the guest decrypts. */
function exchange(b: Bfv, keys: BfvKeys, l: HistogramLayout, x: ReturnType<typeof inputs>, host: Float64Array, switches: HistogramSwitches) {
  const blocks = guestBlocks(b, keys.encryptor, l, x.guestPoints, x.labels).map((bytes) => loadBfv(b, bytes, 'blocks'));
  const enc = bfvPublicEncryptor(b, keys.publicKey);
  const out = hostConvolve(b, l, host, blocks, enc, cryptoRng, switches);
  for (const ct of blocks) ct.delete();
  enc.delete();
  return out;
}

function decrypt(b: Bfv, keys: BfvKeys, bytes: Uint8Array, count: number): Float64Array {
  const ct = loadBfv(b, bytes, 'histogram');
  const pt = keys.decryptor.decrypt(ct)!;
  ct.delete();
  const v = readPolynomial(b, pt, count);
  pt.delete();
  return v;
}

/** Rows whose (guest points, label) no other row shares. */
function uniqueRows(x: ReturnType<typeof inputs>): number[] {
  const cells = new Map<string, number[]>();
  x.guestPoints.forEach((g, i) => {
    const k = `${g}|${x.labels[i]}`;
    cells.set(k, [...(cells.get(k) ?? []), i]);
  });
  return [...cells.values()].filter((r) => r.length === 1).map((r) => r[0]!);
}

describe('attacks by the guest on the two-party score histogram', () => {
  it('convolution off: the joint table gives the host points of every unique-(g, y) row; on: none', async () => {
    const b = await createBfv();
    const x = inputs();
    const keys = bfvKeys(b);
    const unique = uniqueRows(x);
    const weight = 2 ** Math.ceil(Math.log2(ROWS + 1));
    const split = (v: number) => {
      const c = ((v % weight) + weight) % weight;
      return { rows: c, events: (v - c) / weight };
    };

    // Off: coefficient g + L_G·h holds rows + B·events of the cell (g, h).
    const joint = histogramLayout(b.degree, ROWS, x.guestRange, x.hostRange, x.guestRange * x.hostRange);
    const table = decrypt(b, keys, exchange(b, keys, joint, x, x.hostPoints, { joint: true }), joint.spacing);
    let readOff = 0;
    for (const i of unique) {
      const y = x.labels[i]!;
      const fits: number[] = [];
      for (let h = 0; h < x.hostRange; h++) {
        const c = split(table[x.guestPoints[i]! + x.guestRange * h]!);
        if ((y === 1 ? c.events : c.rows - c.events) > 0) fits.push(h);
      }
      if (fits.length === 1 && fits[0] === x.hostPoints[i]) readOff++;
    }

    // On: the histogram of g + h by label; a unique row's host value is read only when one
    // value of h is consistent with the histogram.
    const layout = histogramLayout(b.degree, ROWS, x.guestRange, x.hostRange);
    const coef = decrypt(b, keys, exchange(b, keys, layout, x, x.hostPoints, {}), layout.spacing);
    const events = x.labels.reduce((s, v) => s + v, 0);
    const hist = decodeHistogram(coef, layout, 0, ROWS, events);
    let readOn = 0;
    let candidates = 0;
    for (const i of unique) {
      const y = x.labels[i]!;
      const fits: number[] = [];
      for (let h = 0; h < x.hostRange; h++) {
        const s = x.guestPoints[i]! + h;
        if ((y === 1 ? hist.events[s]! : hist.rows[s]! - hist.events[s]!) > 0) fits.push(h);
      }
      candidates += fits.length;
      if (fits.length === 1 && fits[0] === x.hostPoints[i]) readOn++;
    }
    console.log(
      `joint table (${ROWS} rows, ${unique.length} with a unique (g, y)): convolution off, host points read for ${readOff}; on, ${readOn} (on average ${(candidates / unique.length).toFixed(1)} of ${x.hostRange} host values fit each)`,
    );
    expect(unique.length).toBeGreaterThanOrEqual(5);
    expect(readOff).toBe(unique.length);
    expect(readOn).toBe(0);
    keys.encryptor.delete();
    keys.decryptor.delete();
  }, 600_000);

  it('linear span: not re-randomised, the guest finds which of two host point vectors with the same histogram was used; re-randomised, at chance', async () => {
    const b = await createBfv();
    const x = inputs();
    const keys = bfvKeys(b);
    const layout = histogramLayout(b.degree, ROWS, x.guestRange, x.hostRange);
    // Two rows of one (g, y) cell with different host points, in different blocks: swapping their
    // host points leaves the histogram (and the joint table) unchanged.
    let pair: [number, number] | undefined;
    for (let i = 0; i < ROWS && !pair; i++) {
      for (let j = i + layout.rowsPerBlock; j < ROWS; j++) {
        if (x.guestPoints[i] === x.guestPoints[j] && x.labels[i] === x.labels[j] && x.hostPoints[i] !== x.hostPoints[j]) {
          pair = [i, j];
          break;
        }
      }
    }
    const [i, j] = pair!;
    const swapped = Float64Array.from(x.hostPoints);
    swapped[i] = x.hostPoints[j]!;
    swapped[j] = x.hostPoints[i]!;
    const candidates = [x.hostPoints, swapped];
    // The guest's blocks are fixed (it sent them once); it replays the host's products for each candidate.
    const blockBytes = guestBlocks(b, keys.encryptor, layout, x.guestPoints, x.labels);
    const run = (host: Float64Array, switches: HistogramSwitches) => {
      const blocks = blockBytes.map((bytes) => loadBfv(b, bytes, 'blocks'));
      const enc = bfvPublicEncryptor(b, keys.publicKey);
      const out = hostConvolve(b, layout, host, blocks, enc, cryptoRng, switches);
      for (const ct of blocks) ct.delete();
      enc.delete();
      return out;
    };
    // c1 closes the serialisation; the pad and the flood touch c0 only.
    const c1 = (bytes: Uint8Array) => Buffer.from(bytes.subarray(bytes.length - 8 * 2 * b.degree));
    const sims = candidates.map((h) => c1(run(h, { rerandomise: false, flood: false })));
    expect(sims[0]!.equals(sims[1]!)).toBe(false);
    const game = (rerandomise: boolean, trials: number) => {
      const coin = seededRng(`coin-${rerandomise}`);
      let right = 0;
      let matched = 0;
      for (let k = 0; k < trials; k++) {
        const bit = coin.next() < 0.5 ? 0 : 1;
        const got = c1(run(candidates[bit]!, { rerandomise, flood: rerandomise }));
        const hit = sims.findIndex((s) => s.equals(got));
        if (hit >= 0) matched++;
        const guess = hit >= 0 ? hit : coin.next() < 0.5 ? 0 : 1;
        right += Number(guess === bit);
      }
      return { right: right / trials, matched };
    };
    const off = game(false, 8);
    const on = game(true, 16);
    console.log(`linear span (${ROWS} rows, rows ${i} and ${j} swap host points): not re-randomised ${(100 * off.right).toFixed(0)}% right (${off.matched} exact matches); re-randomised ${(100 * on.right).toFixed(0)}% (${on.matched} matches)`);
    expect(off.right).toBe(1);
    expect(on.matched).toBe(0);
    expect(on.right).toBeLessThanOrEqual(0.8);
    keys.encryptor.delete();
    keys.decryptor.delete();
  }, 600_000);
});
