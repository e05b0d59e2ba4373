/**
 * Attack: the bank (guest) recovers the platform's per-row values of the TRAINING enterprises (its
 * partial logit u_H and partial points P_H, from which its bins follow under `full`) from
 * everything it received in a real scorecard job on default_credit (24,000 training rows):
 *
 *   1. read them: any field received with one value per training row;
 *   2. solve the Fisher matrix for the per-row weights w = p(1−p): the bank knows its own columns
 *      g = [1, x_G] of every row, so F_GG = Σ_i w_i g_i g_iᵀ is a linear system in w (minimum-norm
 *      solution), then p from w, the joint logit from p, u_H = logit − (β₀ + u_G);
 *   3. invert the training-sample band table: total points T = own + P_H, the table gives the
 *      distribution of T per band; guess for each row the P_H that puts T in the densest band.
 *
 * Each guess is scored against the platform's true values (the test harness reads them from the
 * host's state) and compared with the no-message baselines: what the bank can guess without any
 * training-stage message, from its own data and the platform's test-set partials it receives for
 * validation anyway: (a) their median, (b) a least-squares fit of them on the bank's own
 * features over the test rows, applied to the training rows. The better baseline counts. With the defence on, the bank holds no
 * per-row training field and attacks 2 and 3 recover no more rows than the baseline; with it off
 * (the test-only switch `trainRowsToBank`, the old HostPartialScores), attack 1 reads every row.
 */
import { describe, expect, it } from 'vitest';
import { alignTo, seededSplit } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { spdInverse } from '../../engine/linalg.ts';
import { cryptoRng } from '../../engine/rng.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { bandsFromEdges } from '../../models/report.ts';
import { createCkks, decryptorFor, deserialize, generateKeys, oneProductScale } from '../../protocols/he/ckks.ts';
import { unpackGroups } from '../../protocols/scorecard/arbiter.ts';
import type { ScorecardTestSwitches } from '../../protocols/scorecard/host.ts';
import { scorecardConfig, scorecardInMemory, type ScorecardRun } from '../../protocols/scorecard/protocol.ts';
import { shareLayout } from '../../protocols/scorecard/shares.ts';
import { vflConfig } from '../../protocols/vfl-lr/protocol.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

function split() {
  const guest = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const host = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
  const hostIds = new Set(host.ids);
  const ids = guest.ids.filter((id) => hostIds.has(id));
  const s = seededSplit(ids.length, 0.2, 'train-rows');
  const part = (t: PartyTable) => {
    const a = alignTo(t, ids);
    return { train: selectRows(a, s.train), test: selectRows(a, s.test) };
  };
  return { guest: part(guest), host: part(host) };
}

async function run(testOnly: ScorecardTestSwitches): Promise<ScorecardRun> {
  const p = split();
  const side = (t: ReturnType<typeof split>['guest']) => ({ names: t.train.featureNames, train: t.train.features, test: t.test.features });
  return scorecardInMemory({
    guest: side(p.guest),
    labels: { train: p.guest.train.label!, test: p.guest.test.label! },
    host: side(p.host),
    hostDeclarations: { categorical: ['x1', 'x2', 'x3'] },
    // `partial`: the bank then also holds the platform's float partial logits of the test rows, the
    // richest material for the no-message baselines (under `full` it gets integer points only).
    config: scorecardConfig('attack-train-rows', { policy: 'partial' }),
    rng: cryptoRng,
    testOnly,
  });
}

let defended: Promise<ScorecardRun> | undefined;
/** The defended run, shared by the attacks. */
const runOn = () => (defended ??= run({}));

/** The platform's true per-row training values (harness only: the host's own state). */
function truth(r: ScorecardRun) {
  const n = r.guest.kept[0]!.trainWoe.length;
  const logit = new Float64Array(n);
  const points = new Float64Array(n);
  r.host.kept.forEach((f, j) => {
    for (let i = 0; i < n; i++) {
      logit[i]! += r.host.weights[j]! * f.trainWoe[i]!;
      points[i]! += r.host.points[j]![f.trainBins[i]!]!;
    }
  });
  return { logit, points };
}

/** What the bank knows of its own part of each training row. */
function own(r: ScorecardRun) {
  const g = r.guest;
  const n = g.kept[0]!.trainWoe.length;
  const logit = new Float64Array(n).fill(g.intercept);
  const points = new Float64Array(n).fill(g.base);
  g.kept.forEach((f, j) => {
    for (let i = 0; i < n; i++) {
      logit[i]! += g.weights[j]! * f.trainWoe[i]!;
      points[i]! += g.points[j]![f.trainBins[i]!]!;
    }
  });
  return { logit, points };
}

const received = (r: ScorecardRun) => [...r.log, ...r.training.transport.log].filter((m) => m.to === 'guest');
const body = (r: ScorecardRun, type: string) => received(r).find((m) => m.type === type)!.received.body as Record<string, Float64Array>;

function median(v: ArrayLike<number>): number {
  const s = Float64Array.from(v).sort();
  return s[Math.floor(s.length / 2)]!;
}

/** Baseline (b): least squares of the platform's test partials on [1, own columns], applied to training rows. */
function ownFit(r: ScorecardRun, testTarget: Float64Array): Float64Array {
  const g = r.guest;
  const xs = [new Float64Array(testTarget.length).fill(1), ...g.kept.map((f) => f.testWoe)];
  const xt = [new Float64Array(g.kept[0]!.trainWoe.length).fill(1), ...g.kept.map((f) => f.trainWoe)];
  const d = xs.length;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < d; k++) for (let i = 0; i < testTarget.length; i++) a[j * d + k]! += xs[j]![i]! * xs[k]![i]!;
    for (let i = 0; i < testTarget.length; i++) b[j]! += xs[j]![i]! * testTarget[i]!;
  }
  const inv = spdInverse(a, d);
  const beta = Float64Array.from({ length: d }, (_, j) => b.reduce((acc, v, k) => acc + inv[j * d + k]! * v, 0));
  return Float64Array.from(xt[0]!, (_, i) => xt.reduce((acc, col, j) => acc + beta[j]! * col[i]!, 0));
}

/** The better of two baseline scores: more rows within tolerance, lower error. */
function better(a: { hit: number; mae: number }, b: { hit: number; mae: number }) {
  return { hit: Math.max(a.hit, b.hit), mae: Math.min(a.mae, b.mae) };
}

/** Rows within `tol` of the truth, and the mean absolute error. */
function score(guess: ArrayLike<number>, t: ArrayLike<number>, tol: number) {
  let hit = 0;
  let err = 0;
  for (let i = 0; i < t.length; i++) {
    const e = Math.abs(guess[i]! - t[i]!);
    if (e <= tol) hit++;
    err += e;
  }
  return { hit, mae: err / t.length };
}

/** Attack 1: every received field holding one number per training row, read as the platform's partial. */
function readRows(r: ScorecardRun, n: number) {
  const fields: { type: string; field: string; values: Float64Array }[] = [];
  for (const m of received(r)) {
    for (const [field, v] of Object.entries(m.received.body)) if (v instanceof Float64Array && v.length === n) fields.push({ type: m.type, field, values: v });
  }
  return fields;
}

/** Attack 2: minimum-norm per-row weights from the guest block of the Fisher matrix, then u_H. */
function fisherSolve(r: ScorecardRun, mine: { logit: Float64Array }): Float64Array {
  const g = r.guest;
  const n = mine.logit.length;
  const cols = [new Float64Array(n).fill(1), ...g.kept.map((f) => f.trainWoe)];
  const d = 1 + g.kept.length + g.hostSelection!.kept.length;
  const f = body(r, 'FisherMatrix').fisher!;
  const rows: Float64Array[] = [];
  const rhs: number[] = [];
  for (let a = 0; a < cols.length; a++) {
    for (let b = a; b < cols.length; b++) {
      rows.push(Float64Array.from(cols[a]!, (x, i) => x * cols[b]![i]!));
      rhs.push(f[a * d + b]!);
    }
  }
  const q = rows.length;
  const gram = new Float64Array(q * q);
  for (let s = 0; s < q; s++) for (let t = s; t < q; t++) {
    let v = 0;
    for (let i = 0; i < n; i++) v += rows[s]![i]! * rows[t]![i]!;
    gram[s * q + t] = gram[t * q + s] = v + (s === t ? 1e-9 * n : 0);
  }
  const inv = spdInverse(gram, q);
  const lambda = Float64Array.from({ length: q }, (_, s) => rhs.reduce((acc, y, t) => acc + inv[s * q + t]! * y, 0));
  return Float64Array.from({ length: n }, (_, i) => {
    let w = 0;
    for (let s = 0; s < q; s++) w += lambda[s]! * rows[s]![i]!;
    w = Math.min(0.25, Math.max(1e-6, w));
    // The lower branch (most rows are below p = 1/2 at a 22% event rate).
    const p = (1 - Math.sqrt(1 - 4 * w)) / 2;
    return Math.log(p / (1 - p)) - mine.logit[i]!;
  });
}

/** Attack 3: the P_H that puts the row's total points in the densest training band. */
function bandInvert(r: ScorecardRun, mine: { points: Float64Array }): Float64Array {
  const s = body(r, 'TrainSummary');
  const bands = bandsFromEdges(Array.from(s.edges!));
  const groups = unpackGroups(s.bands!, 'bands');
  const density = (t: number) => {
    const k = bands.findIndex((b) => t >= b.from && t < b.to);
    const g = groups[k]!;
    return g.rows > 0 && t >= g.minPoints && t <= g.maxPoints ? g.rows / (g.maxPoints - g.minPoints + 1) : 0;
  };
  const { min, max } = r.guest.hostPointRange;
  return Float64Array.from(mine.points, (o) => {
    let best = (min + max) / 2;
    let bestD = -1;
    for (let p = min; p <= max; p++) {
      const dd = density(o + p);
      if (dd > bestD || (dd === bestD && Math.abs(p - (min + max) / 2) < Math.abs(best - (min + max) / 2))) {
        bestD = dd;
        best = p;
      }
    }
    return best;
  });
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** The two polynomials of a ciphertext (NTT form, RNS): the last 2·N·L words of its bytes. */
function polys(bytes: Uint8Array, words: number): { c0: BigUint64Array; c1: BigUint64Array; offset: number } {
  const offset = bytes.length - 16 * words;
  const data = new BigUint64Array(bytes.slice(offset).buffer);
  return { c0: data.subarray(0, words), c1: data.subarray(words), offset };
}

/**
 * Attack 4: x_Hl = c1([[w·x_Hl]]) / c1([[w]]) at every NTT point of every prime, read by decrypting
 * (quotient, 0) under the bank's own key. Returns the recovered columns in training-row order.
 */
async function spanAttack(r: ScorecardRun): Promise<Float64Array[]> {
  const ckks = await createCkks(vflConfig('attack').params);
  const dec = decryptorFor(ckks, generateKeys(ckks));
  const primes = Array.from(ckks.context.firstContextData.parms.coeffModulus);
  const n = ckks.params.polyModulusDegree;
  const words = n * primes.length;
  const weights = (received(r).find((m) => m.type === 'FisherWeights')!.received.body as { weights: Uint8Array[] }).weights;
  const vectors = (received(r).find((m) => m.type === 'HostFisherVectors')!.received.body as { vectors: Uint8Array[][] }).vectors;
  const seed = (r.log.find((m) => m.type === 'ShareSeed')!.received.body as { seed: Uint8Array }).seed;
  const rows = r.guest.kept[0]!.trainWoe.length;
  const order = shareLayout(seed, rows, 2).order;
  // c1([[w]])⁻¹ per chunk, prime and NTT point (Fermat).
  const inverses = weights.map((bytes) => {
    const a1 = polys(bytes, words).c1;
    return BigUint64Array.from(a1, (a, k) => {
      const q = primes[Math.floor(k / n)]!;
      return a === 0n ? 0n : modPow(a, q - 2n, q);
    });
  });
  return vectors.map((chunks) => {
    const out = new Float64Array(rows);
    chunks.forEach((bytes, c) => {
      const { c1, offset } = polys(bytes, words);
      const forged = bytes.slice();
      const quotient = new BigUint64Array(2 * words);
      for (let k = 0; k < words; k++) quotient[k] = (c1[k]! * inverses[c]![k]!) % primes[Math.floor(k / n)]!;
      forged.set(new Uint8Array(quotient.buffer), offset);
      let values: Float64Array;
      try {
        const ct = deserialize(ckks, forged);
        values = dec.decrypt(ct, ckks.slots);
        ct.delete();
      } catch {
        values = new Float64Array(ckks.slots).fill(NaN);
      }
      // Decoded at the product's scale ([[w]]'s times the operand's) the quotient, x_Hl at the
      // operand's scale, reads x_Hl divided by [[w]]'s scale.
      const scale = oneProductScale(ckks);
      for (let t = 0; t < ckks.slots && c * ckks.slots + t < rows; t++) out[order[c * ckks.slots + t]!] = values[t]! * scale;
    });
    return out;
  });
}

/** Training rows whose every kept platform feature the attack recovered (within 1e-3). */
function rowsRecovered(r: ScorecardRun, columns: Float64Array[]): number {
  const rows = r.guest.kept[0]!.trainWoe.length;
  let hit = 0;
  for (let i = 0; i < rows; i++) if (r.host.kept.every((f, l) => Math.abs(columns[l]![i]! - f.trainWoe[i]!) <= 1e-3)) hit++;
  return hit;
}

describe('attack: the platform\'s per-row training values at the bank', () => {
  it('defence on: no per-row training field, Fisher and band-table inversions no better than the baseline; off: every row read', async () => {
    const on = await runOn();
    const t = truth(on);
    const n = t.logit.length;
    expect(n).toBe(24_000);
    const mine = own(on);

    const onFields = readRows(on, n);
    const onRead = onFields.length ? Math.max(...onFields.map((f) => score(f.values, t.logit, 1e-9).hit)) : 0;

    const test = body(on, 'HostPartialScores');
    const fisher = score(fisherSolve(on, mine), t.logit, 0.05);
    const fisherMedian = score(new Float64Array(n).fill(median(test.testLogit!)), t.logit, 0.05);
    const fisherFit = score(ownFit(on, test.testLogit!), t.logit, 0.05);
    const fisherBase = better(fisherMedian, fisherFit);
    const bands = score(bandInvert(on, mine), t.points, 0);
    const bandsMedian = score(new Float64Array(n).fill(median(test.testPoints!)), t.points, 0);
    const bandsFit = score(ownFit(on, test.testPoints!).map(Math.round), t.points, 0);
    const bandsBase = better(bandsMedian, bandsFit);

    const off = await run({ trainRowsToBank: true });
    const offTruth = truth(off);
    const offFields = readRows(off, n);
    const offRead = Math.max(...offFields.map((f) => score(f.values, offTruth.logit, 1e-9).hit));
    const offPoints = Math.max(...offFields.map((f) => score(f.values, offTruth.points, 0).hit));

    console.log(
      `train rows: ${n}\n` +
        `  per-row training fields at the bank: on ${onFields.length} (${onRead} of ${n} partial logits read), off ${offFields.length} (${offRead} of ${n} partial logits, ${offPoints} of ${n} partial points read)\n` +
        `  Fisher solve, |u_H error| <= 0.05: on ${fisher.hit} of ${n} (MAE ${fisher.mae.toFixed(4)}); no-message baselines: median ${fisherMedian.hit} (MAE ${fisherMedian.mae.toFixed(4)}), own-feature fit ${fisherFit.hit} (MAE ${fisherFit.mae.toFixed(4)})\n` +
        `  band-table inversion, exact points: on ${bands.hit} of ${n} (MAE ${bands.mae.toFixed(2)}); no-message baselines: median ${bandsMedian.hit} (MAE ${bandsMedian.mae.toFixed(2)}), own-feature fit ${bandsFit.hit} (MAE ${bandsFit.mae.toFixed(2)})`,
    );

    expect(onFields).toEqual([]);
    expect(onRead).toBe(0);
    expect(fisher.hit).toBeLessThanOrEqual(fisherBase.hit);
    expect(fisher.mae).toBeGreaterThanOrEqual(fisherBase.mae);
    expect(bands.hit).toBeLessThanOrEqual(bandsBase.hit);
    expect(bands.mae).toBeGreaterThanOrEqual(bandsBase.mae);

    expect(offRead).toBe(n);
    expect(offPoints).toBe(n);
  }, 600_000);

  it('linear span on the Fisher ciphertexts: re-randomised, no row; plain, every training row\'s platform features', async () => {
    const on = await runOn();
    const n = on.guest.kept[0]!.trainWoe.length;
    const onRows = rowsRecovered(on, await spanAttack(on));
    const off = await run({ plainFisherVectors: true });
    const offRows = rowsRecovered(off, await spanAttack(off));
    console.log(`  linear span on HostFisherVectors, rows with every platform feature recovered: on ${onRows} of ${n}, off ${offRows} of ${n}`);
    expect(onRows).toBe(0);
    expect(offRows).toBe(n);
  }, 600_000);
});
