/**
 * KNOWN LIMITATION (measured, not fixed): a SEMI-HONEST guest deconvolves the two-party training
 * score histogram (protocols/scorecard-2p/histogram.ts) with its own per-row points.
 *
 * The guest decrypts, per total score s and label y, Hist_y(s) = Σ_{g+h=s} N_y(g, h), and it
 * knows its own marginal N_y(g) = Σ_h N_y(g, h) row by row; under `full` it also knows the host's
 * points table, hence the set H of host sums a row can have (under `partial`, the test rows'
 * host points show it). Those are linear equations in the non-negative integers N_y(g, h):
 * bounds propagation (each cell between 0 and min(N_y(g), Hist_y(g + h)); in every equation a cell
 * is at least the total minus the others' upper bounds and at most the total minus their lower
 * bounds; repeated to a fixed point) is exact deduction, never a guess. When H is small the
 * system is triangular and gives the whole joint table N(g, h, y) that the header says the
 * guest never gets, and with it the host points of every row of a single-h cell (every row whose
 * (g, y) is unique among them). The arbiter of the three-party mode saw the histogram without
 * any g; here the party that decodes it knows g per row.
 *
 * Real protocol output: the guest's honest blocks, the host's hostConvolve with every defence on,
 * the guest's decryption and decodeHistogram (2,000 rows of default_credit; guest points from
 * three of its features, host points from one host feature: binary {0, 7} and the 12-level
 * version of two-party-scorecard-histogram.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { alignTo } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { bfvKeys, bfvPublicEncryptor, createBfv, loadBfv, readPolynomial } from '../../protocols/he/bfv.ts';
import { decodeHistogram, guestBlocks, histogramLayout, hostConvolve, type ScoreHistogram } from '../../protocols/scorecard-2p/histogram.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const ROWS = 2000;

function inputs() {
  const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const g = selectRows(guestAll, Array.from({ length: ROWS }, (_, i) => i));
  const h = alignTo(loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' }), g.ids);
  const clip = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
  const guestPoints = Float64Array.from({ length: ROWS }, (_, i) => clip(Math.round(10 * (g.features[0]![i]! + g.features[1]![i]! + g.features[2]![i]!)), -40, 40) + 40);
  const level = Float64Array.from({ length: ROWS }, (_, i) => clip(Math.round(3 * h.features[0]![i]!), -5, 6) + 5);
  return { guestPoints, level, labels: g.label!, guestRange: 81 };
}

/** The honest exchange: the guest's blocks, the host's convolution (defaults), the guest's decoding. */
async function histogram(guestPoints: Float64Array, hostPoints: Float64Array, labels: Uint8Array, guestRange: number, hostRange: number): Promise<ScoreHistogram> {
  const b = await createBfv();
  const keys = bfvKeys(b);
  const layout = histogramLayout(b.degree, ROWS, guestRange, hostRange);
  const blocks = guestBlocks(b, keys.encryptor, layout, guestPoints, labels).map((bytes) => loadBfv(b, bytes, 'blocks'));
  const enc = bfvPublicEncryptor(b, keys.publicKey);
  const out = hostConvolve(b, layout, hostPoints, blocks, enc, cryptoRng);
  for (const ct of blocks) ct.delete();
  enc.delete();
  const ct = loadBfv(b, out, 'histogram');
  const pt = keys.decryptor.decrypt(ct)!;
  const coef = readPolynomial(b, pt, layout.spacing);
  ct.delete();
  pt.delete();
  keys.encryptor.delete();
  keys.decryptor.delete();
  return decodeHistogram(coef, layout, 0, ROWS, labels.reduce((s, v) => s + v, 0));
}

/** Exact bounds of every N_y(g, h), h ∈ H, from the histogram and the guest's own (g, y) per row. */
function deconvolve(hist: ScoreHistogram, g: Float64Array, labels: Uint8Array, hs: readonly number[], label: number) {
  const total = (s: number) => {
    const k = s - hist.lowest;
    if (k < 0 || k >= hist.rows.length) return 0;
    return label === 1 ? hist.events[k]! : hist.rows[k]! - hist.events[k]!;
  };
  const marginal = new Map<number, number>();
  g.forEach((v, i) => {
    if (labels[i] === label) marginal.set(v, (marginal.get(v) ?? 0) + 1);
  });
  const key = (a: number, b: number) => `${a}|${b}`;
  const lb = new Map<string, number>();
  const ub = new Map<string, number>();
  const equations: { cells: string[]; total: number }[] = [];
  const byScore = new Map<number, string[]>();
  for (const [a, m] of marginal) {
    const cells: string[] = [];
    for (const b of hs) {
      const u = Math.min(m, total(a + b));
      if (u === 0) continue;
      const k = key(a, b);
      lb.set(k, 0);
      ub.set(k, u);
      cells.push(k);
      byScore.set(a + b, [...(byScore.get(a + b) ?? []), k]);
    }
    equations.push({ cells, total: m });
  }
  for (const [s, cells] of byScore) equations.push({ cells, total: total(s) });
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of equations) {
      for (const k of e.cells) {
        let otherUb = 0;
        let otherLb = 0;
        for (const o of e.cells) if (o !== k) (otherUb += ub.get(o)!), (otherLb += lb.get(o)!);
        const lo = Math.max(lb.get(k)!, e.total - otherUb);
        const hi = Math.min(ub.get(k)!, e.total - otherLb);
        if (lo !== lb.get(k) || hi !== ub.get(k)) {
          lb.set(k, lo);
          ub.set(k, hi);
          changed = true;
        }
      }
    }
  }
  return { lb, ub, key };
}

/** Rows whose host points the deduction fixes (one h left with a positive upper bound), and cells fixed. */
function attack(hist: ScoreHistogram, x: ReturnType<typeof inputs>, host: Float64Array, hs: readonly number[]) {
  let read = 0;
  let wrong = 0;
  let cells = 0;
  let fixed = 0;
  for (const label of [0, 1]) {
    const { lb, ub, key } = deconvolve(hist, x.guestPoints, x.labels, hs, label);
    for (const [k, u] of ub) {
      cells++;
      if (u === lb.get(k)) fixed++;
    }
    x.guestPoints.forEach((g, i) => {
      if (x.labels[i] !== label) return;
      const left = hs.filter((h) => (ub.get(key(g, h)) ?? 0) > 0);
      if (left.length !== 1) return;
      if (left[0] === host[i]) read++;
      else wrong++;
    });
  }
  return { read, wrong, cells, fixed };
}

describe('a semi-honest guest deconvolves the training score histogram (known limitation)', () => {
  it('host points from a small set H: the joint table N(g, h, y) and the host points of single-h cells', async () => {
    const x = inputs();
    const binary = Float64Array.from(x.level, (v) => (v < 6 ? 0 : 7));
    const two = attack(await histogram(x.guestPoints, binary, x.labels, x.guestRange, 8), x, binary, [0, 7]);
    const twelve = attack(await histogram(x.guestPoints, x.level, x.labels, x.guestRange, 12), x, x.level, Array.from({ length: 12 }, (_, h) => h));
    console.log(
      `deconvolution (${ROWS} rows, honest exchange, every host defence on): host points in {0, 7}: joint table ${two.fixed}/${two.cells} cells fixed, host points of ${two.read} rows read (${two.wrong} wrong); ` +
        `12 host values: ${twelve.fixed}/${twelve.cells} cells, ${twelve.read} rows (${twelve.wrong} wrong)`,
    );
    // Deduction, not guessing: never a wrong row.
    expect(two.wrong + twelve.wrong).toBe(0);
    expect(two.fixed).toBe(two.cells);
    expect(two.read).toBeGreaterThan(100);
    expect(twelve.read).toBeGreaterThanOrEqual(1);
  }, 600_000);
});
