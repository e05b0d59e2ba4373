/**
 * Two-party vertical LR (protocols/vfl-lr-2p): the same accuracy bounds as the three-party tests
 * (tests/protocols/vfl.test.ts, vfl-shapes.test.ts), the host's weights rotated back by the host.
 */
import { describe, expect, it } from 'vitest';
import { alignTo, seededSplit } from '../../engine/align.ts';
import { loadCsv } from '../../engine/csv.ts';
import { cryptoRng, permutation, seededRng } from '../../engine/rng.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { createCkks, deserialize } from '../../protocols/he/ckks.ts';
import { BlindingPool } from '../../protocols/psi/pool.ts';
import { psiInMemory } from '../../protocols/psi/run.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { trainTwoPartyInMemory, TwoPartyGuest, TwoPartyHost, type TwoPartyTrainResult } from '../../protocols/vfl-lr-2p/protocol.ts';
import { relativeError } from '../helpers/shapes.ts';
import { trainTwoPartyInThreads } from '../../protocols/vfl-lr-2p/threads.ts';
import { benchMain } from '../../benchmarks/cli.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

async function prepare(guest: PartyTable, host: PartyTable, seed: string) {
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

function fedModel(r: TwoPartyTrainResult) {
  return { intercept: r.guest.weights[0]!, weights: Float64Array.from([...r.guest.weights.subarray(1), ...r.host.weights]) };
}

describe('two-party vertical logistic regression (no arbiter)', () => {
  it('default_credit, partial overlap, shuffled rows: test AUC within 0.002 of centralised LR, weights within 1e-3 of the optimum; only the guest can decrypt', async () => {
    const guestAll = loadCsv(data('default_credit_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const hostAll = loadCsv(data('default_credit_hetero_host.csv'), { idColumn: 'id' });
    const r = seededRng('overlap');
    const guest = selectRows(guestAll, permutation(30000, r).slice(0, 22000));
    const host = selectRows(hostAll, permutation(30000, r).slice(0, 24000));
    const p = await prepare(guest, host, 'vfl-2p-test');
    const config = vflConfig('job-2p-dc');
    const fed = await trainTwoPartyInMemory({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, guestRng: seededRng('g-flood'), hostRng: seededRng('h-secret') });
    const test = [...p.g.test, ...p.h.test];
    const model = fedModel(fed);
    const fedAuc = auc(predictLogistic(model, test), p.yTest);
    const central = fitLogistic([...p.g.train, ...p.h.train], p.yTrain, { optimizer: 'newton', tolerance: 1e-10 });
    const centralAuc = auc(predictLogistic(central, test), p.yTest);
    const rel = relativeError(model.weights, central.weights);
    console.log(`two-party default_credit: ${fed.guest.iterations} rounds, converged ${fed.guest.converged}, AUC ${fedAuc.toFixed(4)} vs centralised ${centralAuc.toFixed(4)}, relative weight error ${rel.toExponential(2)}, ${fed.seconds.toFixed(1)} s`);
    expect(fed.guest.converged).toBe(true);
    expect(fed.host.converged).toBe(true);
    expect(Math.abs(fedAuc - centralAuc)).toBeLessThan(0.002);
    expect(rel).toBeLessThan(1e-3);
    expect(fedAuc).toBeGreaterThan(0.69);

    // What crossed: every message between the two parties only, of the declared classes; what the
    // host received is metadata, its own steps, or ciphertexts that load under the parameter set.
    const ckks = await createCkks(config.params);
    const hostDims = p.h.train.length;
    for (const rec of fed.transport.log) {
      expect(['guest', 'host']).toContain(rec.from);
      expect(['guest', 'host']).toContain(rec.to);
      const body = rec.received.body as Record<string, unknown>;
      if (rec.to === 'host') {
        expect(['metadata', 'ciphertext', 'model']).toContain(rec.privacy);
        for (const v of Object.values(body)) if (v instanceof Float64Array) expect(v.length).toBe(hostDims);
        if (rec.privacy === 'ciphertext') for (const v of Object.values(body)) for (const a of [v].flat(3) as Uint8Array[]) deserialize(ckks, a).delete();
      } else {
        expect(['aggregate']).toContain(rec.privacy);
      }
    }
    const types = new Set(fed.transport.log.map((x) => `${x.from}->${x.to}:${x.type}`));
    expect([...types].sort()).toEqual(
      ['guest->host:Finished', 'guest->host:GuestCoefficients', 'guest->host:GuestColumns', 'guest->host:GuestSample', 'guest->host:RoundStart', 'guest->host:TwoPartySetup', 'guest->host:Update', 'host->guest:HostSampleGram', 'host->guest:HostWindows', 'host->guest:TwoPartyGradient'].sort(),
    );
  }, 600_000);

  // The generated shapes (special codes, heavy tails, …): tests/protocols/vfl-2p-shapes.test.ts.

  it('refuses messages for another job, stage or round, and a setup for another row count, with coded errors', async () => {
    const ckks = await createCkks('ckks-n8192-l1');
    const config = vflConfig('job-2p');
    const host = new TwoPartyHost(ckks, [Float64Array.of(1, 2, 3), Float64Array.of(3, 1, 2)], config, cryptoRng);
    const base = { protocol: 'vfl-lr-2p', round: 0, from: 'guest', to: 'host' };
    expect(() => host.receive({ ...base, job: 'other', type: 'TwoPartySetup', body: {} })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_JOB' }));
    expect(() => host.receive({ ...base, job: 'job-2p', type: 'Update', body: { step: Float64Array.of(1, 2) } })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_STAGE' }));
    expect(() => host.receive({ ...base, job: 'job-2p', type: 'TwoPartySetup', body: { params: 'x' } })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => host.receive({ ...base, job: 'job-2p', round: 2, type: 'TwoPartySetup', body: {} })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_ROUND' }));
    const guest = new TwoPartyGuest(ckks, [Float64Array.of(1, 2, 3, 4)], Uint8Array.of(0, 1, 0, 1), config, cryptoRng);
    const [setup] = guest.start();
    expect(() => host.receive(setup!)).toThrow(expect.objectContaining({ code: 'VFL_ROW_MISMATCH' }));

    // Ciphertexts of the wrong shape or scale are refused before any evaluation.
    // Three rows on a line, the middle one the event: the guest's own columns do not separate its
    // labels (three points off a line always would, and the guest refuses that: VFL_SEPARATION).
    const g3 = new TwoPartyGuest(ckks, [Float64Array.of(1, 2, 3), Float64Array.of(3, 2, 1)], Uint8Array.of(0, 1, 0), config, cryptoRng);
    const [s3, sample, columns] = g3.start();
    const h3 = () => {
      const h = new TwoPartyHost(ckks, [Float64Array.of(1, 2, 3), Float64Array.of(3, 1, 2)], config, cryptoRng);
      h.receive(s3!);
      return h;
    };
    const cols = sample!.body.columns as Uint8Array[];
    // The sample columns must be at the product scale: a diagonal (operand scale) in their place is refused.
    const wrongScale = { ...sample!, body: { columns: [(columns!.body.diagonals as Uint8Array[][])[0]![0]!, ...cols.slice(1)] } };
    expect(() => h3().receive(wrongScale)).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'columns' } }));
    const h = h3();
    const [gram] = h.receive(sample!);
    expect(() => h.receive({ ...columns!, body: { diagonals: (columns!.body.diagonals as Uint8Array[][]).slice(1) } })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'diagonals' } }));
    h.receive(columns!);
    const [roundStart] = g3.receive(gram!);
    const [windows] = h.receive(roundStart!);
    const [coefficients] = g3.receive(windows!);
    const coef = coefficients!.body.coefficients as Uint8Array[][];
    expect(() => h.receive({ ...coefficients!, body: { coefficients: coef.slice(1) } })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'coefficients' } }));
    const [reply] = h.receive(coefficients!);
    expect(reply!.type).toBe('TwoPartyGradient');
  });

  it('guest and host in their own worker threads train the same model as in one thread (breast)', async () => {
    const guest = loadCsv(data('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
    const host = loadCsv(data('breast_hetero_host.csv'), { idColumn: 'id' });
    const p = await prepare(guest, host, 'breast-2p-threads');
    const config = vflConfig('job-2p-threads', { lambda: 0.05 });
    const mem = await trainTwoPartyInMemory({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config });
    const thr = await trainTwoPartyInThreads({ guest: p.g.train, labels: p.yTrain, host: p.h.train, config, guestSecret: cryptoRng.bytes(32), hostSecret: cryptoRng.bytes(32) });
    expect(thr.converged).toBe(true);
    expect(Math.abs(thr.iterations - mem.guest.iterations)).toBeLessThanOrEqual(4);
    // Up to the floods (tests/protocols/vfl.test.ts FLOOD_SPREAD), and whatever rotation each host drew.
    thr.guestWeights.forEach((w, j) => expect(Math.abs(w - mem.guest.weights[j]!)).toBeLessThan(5e-4));
    const hw = mem.host.weights;
    thr.hostWeights.forEach((w, j) => expect(Math.abs(w - hw[j]!)).toBeLessThan(5e-4));
    expect(Object.keys(thr.bytesByPair).sort()).toEqual(['guest->host', 'host->guest']);
  }, 600_000);

  it('bench: --mode takes three-party, two-party or both, for the vfl and scorecard suites (CLI_BAD_ARGS before any data is read)', async () => {
    const args = ['--guest', 'missing-g.csv', '--host', 'missing-h.csv', '--id', 'id', '--label', 'y'];
    await expect(benchMain(['vfl', ...args, '--mode', 'four-party'])).rejects.toMatchObject({ code: 'CLI_BAD_ARGS', message: expect.stringContaining('--mode must be one of three-party, two-party, both') });
    await expect(benchMain(['scorecard', ...args, '--mode', 'none'])).rejects.toMatchObject({ code: 'CLI_BAD_ARGS', message: expect.stringContaining('--mode must be one of three-party, two-party, both') });
  });
});
