import { describe, expect, it } from 'vitest';
import { alignTo, seededSplit } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng, permutation, seededRng } from '../../engine/rng.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import { PRIMES } from '../../protocols/mpc/rns.ts';
import { BlindingPool } from '../../protocols/psi/pool.ts';
import { psiInMemory } from '../../protocols/psi/run.ts';
import { trainInMemory, vflConfig, VflGuest, VflHost } from '../../protocols/vfl-lr/protocol.ts';
import { trainInThreads } from '../../protocols/vfl-lr/threads.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
/**
 * How far two trainings of one model on the same rows may end apart: the round's sums are exact in
 * Z_M (the pads cancel exactly, nothing is flooded), so runs with different randomness end on the
 * same weights; the sample Hessian's 32-bit fixed point is deterministic too.
 */
const RUN_SPREAD = 1e-12;

/**
 * Residues under a one-time pad in Z_M (protocols/mpc/rns.ts): every residue below its prime, and
 * each prime's residues spread over [0, p) (mean p/2 within 2%) with as many distinct values as n
 * uniform draws give (p(1 − e^(−n/p)), within 1%).
 */
function expectPadded(bytes: Uint8Array): void {
  const v = new Int32Array(new Uint8Array(bytes).buffer);
  const n = v.length / PRIMES.length;
  expect(Number.isInteger(n)).toBe(true);
  PRIMES.forEach((p, k) => {
    const part = v.subarray(k * n, (k + 1) * n);
    let sum = 0;
    for (const r of part) {
      expect(r >= 0 && r < p).toBe(true);
      sum += r;
    }
    if (n >= 2000) {
      expect(Math.abs(sum / n / p - 0.5)).toBeLessThan(0.02);
      expect(new Set(part).size).toBeGreaterThan(0.99 * p * (1 - Math.exp(-n / p)));
    }
  });
}

interface Prepared {
  g: { train: Float64Array[]; test: Float64Array[] };
  h: { train: Float64Array[]; test: Float64Array[] };
  yTrain: Uint8Array;
  yTest: Uint8Array;
}

async function prepare(guest: PartyTable, host: PartyTable, seed: string): Promise<Prepared & { intersection: number }> {
  const pool = new BlindingPool(2);
  const psi = await psiInMemory('psi', guest.ids, host.ids, pool, { guest: cryptoRng, host: cryptoRng });
  await pool.close();
  const ids = psi.guest.intersection!;
  const split = seededSplit(ids.length, 0.2, seed);
  const prep = (t: PartyTable) => {
    const a = alignTo(t, ids);
    const train = selectRows(a, split.train);
    const test = selectRows(a, split.test);
    const s = fitStandardizer(train.features);
    return { train: applyStandardizer(s, train.features), test: applyStandardizer(s, test.features), labels: [train.label, test.label] };
  };
  const g = prep(guest);
  return { g, h: prep(host), yTrain: g.labels[0]!, yTest: g.labels[1]!, intersection: ids.length };
}

function fedModel(guest: VflGuest, host: VflHost) {
  return { intercept: guest.weights[0]!, weights: Float64Array.from([...guest.weights.subarray(1), ...host.weights]) };
}

describe('vertical logistic regression', () => {
  it('default_credit with partial overlap and shuffled rows: test AUC within 0.002 of centralised LR; shape and class of every message', async () => {
    const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
    // Partial overlap (guest 22,000 of 30,000 ids, host 24,000, overlap ~17,600) in shuffled orders.
    const r = seededRng('overlap');
    const guest = selectRows(guestAll, permutation(30000, r).slice(0, 22000));
    const host = selectRows(hostAll, permutation(30000, r).slice(0, 24000));
    const p = await prepare(guest, host, 'vfl-test');
    expect(p.intersection).toBeGreaterThan(15000);
    expect(p.intersection).toBeLessThan(20000);

    const config = vflConfig('job-dc', { hessianGradient: 0.03 });
    const fed = await trainInMemory({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, rng: seededRng('flood') });
    expect(fed.arbiter.converged).toBe(true);
    const test = [...p.g.test, ...p.h.test];
    const fedAuc = auc(predictLogistic(fedModel(fed.guest, fed.host), test), p.yTest);
    const central = fitLogistic([...p.g.train, ...p.h.train], p.yTrain, { optimizer: 'newton', tolerance: 1e-10 });
    const centralAuc = auc(predictLogistic(central, test), p.yTest);
    expect(Math.abs(fedAuc - centralAuc)).toBeLessThan(0.002);
    // A sanity floor: on this subset the centralised model itself reaches about 0.70.
    expect(fedAuc).toBeGreaterThan(0.69);

    // Shape of everything each party received: classes, per-party vector lengths, and every
    // row-level payload a one-time-padded vector of Z_M. Whether a pad can be removed is what
    // tests/attacks/residual-shares.test.ts attacks.
    const hostDims = p.h.train.length;
    const guestDims = p.g.train.length + 1;
    const rowLevel: Record<string, string[]> = {
      GuestColumns: ['columns'],
      HostColumns: ['columns'],
      HostBasis: ['basis'],
      Residual: ['coefficients', 'share'],
      ResidualShare: ['share'],
      BeaverCorrection: ['correction'],
    };
    for (const rec of fed.transport.log) {
      const body = rec.received.body as Record<string, unknown>;
      if (rec.type === 'GuestPaddedSample' || rec.type === 'HostPaddedSample') {
        // Fixed-point sample columns under a one-time pad: the words look uniform, and the
        // guest's intercept column (constant before padding) is not constant.
        expect(rec.privacy).toBe('ciphertext');
        const words = new Int32Array(new Uint8Array(body.padded as Uint8Array).buffer);
        let negative = 0;
        for (const w of words) if (w < 0) negative++;
        expect(Math.abs(negative / words.length - 0.5)).toBeLessThan(0.02);
        expect(new Set(words.subarray(0, 4096)).size).toBeGreaterThan(4000);
      }
      for (const field of rowLevel[rec.type] ?? []) {
        expect(rec.privacy).toBe('ciphertext');
        expectPadded(body[field] as Uint8Array);
      }
      if (rec.to === 'host') {
        expect(['metadata', 'ciphertext', 'model']).toContain(rec.privacy);
        // Numbers the host gets are its own step (one per host weight), never per-row.
        for (const v of Object.values(body)) if (v instanceof Float64Array) expect(v.length).toBe(hostDims);
      }
      if (rec.to === 'guest') {
        expect(['metadata', 'ciphertext', 'model']).toContain(rec.privacy);
        for (const v of Object.values(body)) if (v instanceof Float64Array) expect(v.length).toBe(guestDims);
        for (const v of Object.values(body)) if (typeof v === 'number') expect(rec.type).toMatch(/HostBasis|HostColumns|ResidualShare|Finished/);
      }
      if (rec.to === 'arbiter') expect(rec.privacy).toBe(rec.type === 'BasisSize' ? 'metadata' : 'aggregate');
      // The gradient shares the arbiter gets are uniform too: only their sum means anything.
      if (rec.type === 'GuestGradient' || rec.type === 'HostGradient') expect(new Int32Array(new Uint8Array(body.share as Uint8Array).buffer).length).toBe(PRIMES.length * (hostDims + guestDims));
    }
    const types = new Set(fed.transport.log.map((r) => `${r.from}->${r.to}:${r.type}`));
    for (const t of ['guest->host:Residual', 'host->guest:HostBasis', 'host->guest:ResidualShare', 'arbiter->host:BeaverCorrection', 'host->arbiter:BasisSize', 'guest->host:GuestColumns', 'host->guest:HostColumns']) expect(types).toContain(t);
    expect(types).toContain('guest->host:GuestPaddedSample');
    // The one weighted Hessian: both padded sides (uniform words), both shares to the arbiter.
    for (const t of ['host->guest:HostHessianPadded', 'guest->host:GuestHessianPadded', 'guest->arbiter:GuestHessianShare', 'host->arbiter:HostHessianShare']) expect(types).toContain(t);
    for (const rec of fed.transport.log.filter((r) => r.type.endsWith('HessianPadded'))) {
      expect(rec.privacy).toBe('ciphertext');
      for (const [field, v] of Object.entries(rec.received.body as Record<string, Uint8Array>)) {
        if (field.endsWith('Mask') || v.length === 0) continue;
        const words = new Int32Array(new Uint8Array(v).buffer);
        let negative = 0;
        for (const w of words) if (w < 0) negative++;
        expect(Math.abs(negative / words.length - 0.5)).toBeLessThan(0.02);
      }
    }
  }, 600_000);

  it('breast pair: test AUC matches centralised Newton; the same weights whatever the randomness', async () => {
    const guest = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const host = loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' });
    const p = await prepare(guest, host, 'breast');
    const config = vflConfig('job-breast', { lambda: 0.05 });
    const a = await trainInMemory({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, rng: seededRng(1) });
    const b = await trainInMemory({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, rng: seededRng(2), guestRng: seededRng(3) });
    const wa = fedModel(a.guest, a.host);
    const wb = fedModel(b.guest, b.host);
    expect(a.arbiter.iterations).toBe(b.arbiter.iterations);
    wa.weights.forEach((w, j) => expect(Math.abs(w - wb.weights[j]!)).toBeLessThan(RUN_SPREAD));
    const central = fitLogistic([...p.g.train, ...p.h.train], p.yTrain, { optimizer: 'newton', tolerance: 1e-12, lambda: 0.05 });
    const fedAuc = auc(predictLogistic(wa, [...p.g.test, ...p.h.test]), p.yTest);
    const cAuc = auc(predictLogistic(central, [...p.g.test, ...p.h.test]), p.yTest);
    expect(Math.abs(fedAuc - cAuc)).toBeLessThan(0.01);
  }, 600_000);

  it('each role in its own worker thread trains the same model as all three in one thread', async () => {
    const guest = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const host = loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' });
    const p = await prepare(guest, host, 'breast-threads');
    const config = vflConfig('job-threads', { lambda: 0.05 });
    const mem = await trainInMemory({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, rng: seededRng(2) });
    const thr = await trainInThreads({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, arbiterSecret: cryptoRng.bytes(32), guestSecret: cryptoRng.bytes(32) });
    expect(thr.converged).toBe(true);
    expect(thr.iterations).toBe(mem.arbiter.iterations);
    thr.guestWeights.forEach((w, j) => expect(Math.abs(w - mem.guest.weights[j]!)).toBeLessThan(RUN_SPREAD));
    thr.hostWeights.forEach((w, j) => expect(Math.abs(w - mem.host.weights[j]!)).toBeLessThan(RUN_SPREAD));
    // Every route the protocol uses carried bytes; the host's Beaver corrections came from the arbiter.
    for (const pair of ['arbiter->guest', 'arbiter->host', 'guest->host', 'host->guest', 'guest->arbiter', 'host->arbiter']) expect(thr.bytesByPair[pair]).toBeGreaterThan(0);
    expect(mem.transport.log.some((r) => r.type === 'BeaverCorrection' && r.to === 'host')).toBe(true);
  }, 600_000);

  it('refuses messages for another job, stage or round with coded errors', async () => {
    const ckks = await createCkks('ckks-n8192-d2');
    const config = vflConfig('job-x');
    const host = new VflHost(ckks, [Float64Array.of(1, 2, 3)], config);
    const base = { protocol: 'vfl-lr', round: 0, from: 'arbiter', to: 'host' };
    expect(() => host.receive({ ...base, job: 'other', type: 'HeSetup', body: {} })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_JOB' }));
    expect(() => host.receive({ ...base, job: 'job-x', type: 'Update', body: { step: Float64Array.of(1) } })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_STAGE' }));
    expect(() => host.receive({ ...base, job: 'job-x', type: 'HeSetup', body: { params: 'x' } })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => host.receive({ ...base, job: 'job-x', round: 3, type: 'HeSetup', body: {} })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_ROUND' }));
    expect(() => vflConfig('j', { chebyshevDegree: 0 })).toThrow(expect.objectContaining({ code: 'VFL_BAD_CONFIG' }));
    // A job spec cannot shrink the noise flood (found by the consortium review: it was passed through unchecked).
    for (const floodMarginBits of [-8, 0, 3, 2.5, Number.NaN, 17]) {
      expect(() => vflConfig('j', { floodMarginBits })).toThrow(expect.objectContaining({ code: 'VFL_BAD_CONFIG', location: { field: 'floodMarginBits' } }));
    }
    expect(vflConfig('j', { floodMarginBits: 8 }).floodMarginBits).toBe(8);
  });
});
