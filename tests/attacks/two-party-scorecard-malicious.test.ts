/**
 * KNOWN LIMITATIONS (measured, not fixed): what a MALICIOUS party reads through the two-party
 * scorecard stage's new messages (protocols/scorecard-2p). Both run on real protocol output: an
 * honest `scorecardTwoPartyInMemory` run on breast (binning, vfl-lr-2p training, the scorecard
 * stage), then a fresh stage object of the honest party (the same binned party, the same trained
 * keys, rotation and model) answers the attacker's crafted message through its real `receive`.
 *
 * 1. Malicious guest, HistogramBlocks. The host convolves whatever the guest encrypted with its
 *    per-row monomials X^{h'_r − rL} and pads only [L, N); the guest reads [0, L). Encrypting, for
 *    row r of block c, the monomial 2^k·X^{rL + o_j} (one window offset o_j = j·L_H and one bit k
 *    per row) instead of (1 + B·y_r)·X^{g'_r + rL}, the coefficient o_j + s of the result is the
 *    bitmask of the rows of window j whose host points are h_min + s: every such row's exact
 *    training host points (its platform partial score), ≤ 48 rows a window (t ≈ 2^50), and
 *    ⌊(L_G − 1)/L_H⌋ + 1 windows for the guestRange L_G it declares. The pad, the re-randomisation
 *    and the flood are all on: they protect the cross terms and the noise, not the diagonal
 *    the guest is entitled to, whose weights and offsets it alone chooses.
 * 2. Malicious host, FisherBlocks → HostCovariance. The guest decrypts whatever the host returns
 *    as the Fisher blocks, inverts and sends back the host block of the inverse: with the guest
 *    block set to I, F_0H = 0, F_HH = λI and cross columns C_l, that block is (λI − CᵀC)⁻¹. With
 *    k of the C_l known unit vectors κe_a and the rest the guest's own encrypted column diagonals
 *    from GuestFisherInput (rotated; no other computation), CᵀC holds κ·(each secret slot):
 *    k·(p_H − k) of the guest's per-row feature values per job, to the guest's flood.
 * Both are instances of the classes vfl-lr-2p declares (a malicious guest chooses what it
 * encrypts; the guest is a decryption oracle for a malicious host) through NEW messages of this
 * stage; a defence needs proofs of well-formed ciphertexts / bounded replies (not built).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spdInverse } from '../../engine/linalg.ts';
import { cryptoRng, seededRng } from '../../engine/rng.ts';
import { loadSplitPair } from '../../benchmarks/pair.ts';
import { createCkks, encryptVector, importPublicKeys, rerandomize, serialize, deserialize } from '../../protocols/he/ckks.ts';
import { bfvKeys, createBfv, loadBfv, plainPolynomial, readPolynomial } from '../../protocols/he/bfv.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { scorecardConfig } from '../../protocols/scorecard/protocol.ts';
import { scorecardTwoPartyInMemory, TwoPartyScorecardGuest, TwoPartyScorecardHost, type TwoPartyScorecardRun } from '../../protocols/scorecard-2p/protocol.ts';
import { envelope, fisherConfig } from '../../protocols/scorecard-2p/common.ts';
import { fisherWindows } from '../../protocols/scorecard-2p/fisher.ts';
import { guestColumnDivisor } from '../../protocols/vfl-lr-2p/scales.ts';
import type { Envelope } from '../../protocols/message.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
const JOB = 'attack-sc2p-malicious';

let run: TwoPartyScorecardRun;
const config = scorecardConfig(JOB, { policy: 'full' });
const lrConfig = vflConfig(`${JOB}/lr`);

beforeAll(async () => {
  const pair = await loadSplitPair({ guest: data('breast_hetero_guest.csv'), host: data('breast_hetero_host.csv'), id: 'id', label: 'y', seed: JOB, testFraction: 0.2 });
  const side = (t: typeof pair.guest) => ({ names: t.train.featureNames, train: t.train.features, test: t.test.features });
  run = await scorecardTwoPartyInMemory({
    guest: side(pair.guest),
    labels: { train: pair.guest.train.label!, test: pair.guest.test.label! },
    host: side(pair.host),
    config,
    // Breast does not converge at the default λ within the round limit: the attack needs a
    // trained model, not a converged one.
    training: { maxIterations: 30, refuseUnconverged: false },
    rng: seededRng(`${JOB}/rng`),
  });
}, 900_000);

/** A fresh stage host over the honest run's binned host, rotation and the guest's public keys. */
async function freshHost(): Promise<TwoPartyScorecardHost> {
  const [ck, bfv] = await Promise.all([createCkks(lrConfig.params), createBfv()]);
  const trained = { rotation: run.training.host.rotation, guestKeys: run.training.host.guestKeys! };
  return new TwoPartyScorecardHost(ck, bfv, run.host, trained, lrConfig, config, cryptoRng);
}

describe('malicious parties in the two-party scorecard stage (known limitations)', () => {
  it('a malicious guest reads the exact host points of every training row from ONE HistogramBlocks', async () => {
    const bfv = await createBfv();
    const truth = run.host.partial('train').points;
    const n = truth.length;
    // What the guest knows of the host's range (HostPartialScores): h_min and L_H.
    const hMin = run.guest.hostPointRange.min;
    const lh = run.guest.hostPointRange.max - hMin + 1;
    const BITS = 48;

    const attack = async (guestRange: number) => {
      const host = await freshHost();
      const spacing = guestRange + lh - 1;
      const perBlock = Math.floor(bfv.degree / spacing);
      const blocks = Math.ceil(n / perBlock);
      const windows = Math.floor((guestRange - 1) / lh) + 1;
      const targets = Math.min(n, windows * BITS);
      const keys = bfvKeys(bfv);
      const coef = new Float64Array(bfv.degree);
      const bytes: Uint8Array[] = [];
      for (let c = 0; c < blocks; c++) {
        coef.fill(0);
        for (let r = 0; r < perBlock; r++) {
          const i = c * perBlock + r;
          if (i >= targets) break;
          coef[r * spacing + Math.floor(i / BITS) * lh] = 2 ** (i % BITS);
        }
        const pt = plainPolynomial(bfv, coef);
        const ser = keys.encryptor.encryptSymmetricSerializable(pt);
        pt.delete();
        bytes.push(ser.saveArray(bfv.seal.ComprModeType.none));
        ser.delete();
      }
      // The real host's receive, every defence on (pad, re-randomisation, flood).
      const [reply] = host.receive(envelope(JOB, 'HistogramBlocks', 'guest', 'host', { publicKey: keys.publicKey, guestRange, blocks: bytes })) as Envelope[];
      const ct = loadBfv(bfv, (reply!.body as { histogram: Uint8Array }).histogram, 'histogram');
      const pt = keys.decryptor.decrypt(ct)!;
      const got = readPolynomial(bfv, pt, spacing);
      ct.delete();
      pt.delete();
      keys.encryptor.delete();
      keys.decryptor.delete();
      let exact = 0;
      for (let i = 0; i < targets; i++) {
        const j = Math.floor(i / BITS);
        const bit = 2n ** BigInt(i % BITS);
        const hits: number[] = [];
        for (let s = 0; s < lh; s++) if ((BigInt(got[j * lh + s]!) & bit) !== 0n) hits.push(s);
        if (hits.length === 1 && hMin + hits[0]! === truth[i]) exact++;
      }
      return { targets, exact, blocks, windows };
    };

    // Honest-sized: the guestRange an honest guest would declare (its realised points width).
    const own = run.guest.ownScores('train').points;
    const honestRange = Math.max(...own) - Math.min(...own) + 1;
    const honest = await attack(honestRange);
    // Oversized: L = N, one row a block.
    const wide = await attack(bfv.degree - lh + 1);
    console.log(
      `malicious guest, ${n} training rows, host points range ${lh}: honest-sized guestRange ${honestRange} (${honest.blocks} blocks, ${honest.windows} windows) ` +
        `read ${honest.exact}/${honest.targets} targeted rows' exact host points; guestRange ${bfv.degree - lh + 1} (${wide.blocks} blocks, ${wide.windows} windows) read ${wide.exact}/${wide.targets}`,
    );
    expect(honest.exact).toBe(honest.targets);
    expect(honest.targets).toBeGreaterThanOrEqual(BITS);
    expect(wide.targets).toBe(Math.min(n, BITS * (Math.floor((bfv.degree - lh) / lh) + 1)));
    expect(wide.exact).toBe(wide.targets);
  }, 600_000);

  it('a malicious host reads the guest per-row feature values through HostCovariance', async () => {
    const ck = await createCkks(lrConfig.params);
    const bfv = await createBfv();
    const keys = run.training.guest.keyOwner!;
    const guest = new TwoPartyScorecardGuest(ck, bfv, run.guest, keys, lrConfig, config, cryptoRng);
    const u = run.host.partial('train').logit;
    const w = fisherWindows(u, fisherConfig(lrConfig));
    const [input] = guest.receive(
      envelope(JOB, 'HostFisherWindows', 'host', 'guest', { centres: w.map((x) => x.centre), halfWidths: w.map((x) => x.halfWidth), degrees: w.map((x) => x.degree) }),
    ) as Envelope[];
    const columns = (input!.body as { columns: Uint8Array[][] }).columns;

    const gk = run.training.host.guestKeys!;
    const ev = importPublicKeys(ck, gk.publicKey, gk.galoisKeys);
    const pg = run.guest.kept.length;
    const ph = run.host.kept.length;
    const n = run.guest.trainLabels.length;
    const gDiv = guestColumnDivisor(n);
    const rootN = Math.sqrt(n);
    const send = (values: number[]) => {
      const ct = encryptVector(ev, Float64Array.from(values), ck.scale);
      rerandomize(ev, ct, 1e-30, cryptoRng);
      const b = serialize(ck, ct);
      ct.delete();
      return b;
    };
    const unit = (a: number, v: number, len: number) => Array.from({ length: len }, (_, i) => (i === a ? v : 0));
    // F over [1, x_G, x_H]: guest block μI, F_0H = 0, F_HH = λI.
    // The guest floods every value it decrypts; the host scales its way past the flood: the secret
    // columns ×2^GAIN (doubling), the guest block ×μ (its flood then perturbs F_GG⁻¹ by 1/μ as
    // much), F_HH = λ above ‖CᵀC‖/μ.
    const GAIN = 6;
    const MU = 100;
    const LAMBDA = 1e6;
    const KAPPA = 64;
    const guestRow = send(unit(0, MU / gDiv, 1 + pg));
    const prods: number[] = [];
    for (let a = 0; a < pg; a++) for (let b = a; b < pg; b++) prods.push(a === b ? MU / gDiv : 0);
    const products = send(prods);
    const hostVals: number[] = new Array(1 + ph).fill(0);
    for (let k = 0; k < ph; k++) for (let l = k; l < ph; l++) hostVals.push(k === l ? LAMBDA / rootN : 0);
    const hostBlock = send(hostVals);
    // Known columns κe_a (a = 1..k), then the guest's own diagonals, rotated so that different
    // rows land in slots 1..p_G.
    const known = Math.min(pg, Math.floor(ph / 2));
    const width = columns.length;
    const cross: Uint8Array[] = [];
    const reads: { l: number; a: number; row: number; col: number }[] = [];
    for (let l = 0; l < ph; l++) {
      if (l < known) {
        cross.push(send(unit(1 + l, KAPPA / gDiv, 1 + pg)));
        continue;
      }
      const m = l - known;
      const diag = m % width;
      const shift = width * Math.floor(m / width);
      const ct = deserialize(ck, columns[diag]![0]!);
      if (shift > 0) ck.evaluator.rotateVector(ct, shift, ev.galoisKeys, ct);
      // ×2^GAIN by doubling (no scale change): the guest's flood then costs 2^GAIN times less.
      for (let g = 0; g < GAIN; g++) ck.evaluator.add(ct, ct, ct);
      rerandomize(ev, ct, 1e-30, cryptoRng);
      cross.push(serialize(ck, ct));
      ct.delete();
      // Slot a of diagonal `diag`, rotated by `shift`: column (a + shift − diag) mod width at row a + shift.
      for (let a = 1; a <= known; a++) reads.push({ l, a, row: a + shift, col: (((a + shift - diag) % width) + width) % width });
    }
    const [cov] = guest.receive(envelope(JOB, 'FisherBlocks', 'host', 'guest', { host: hostBlock, guest: guestRow, products, cross })) as Envelope[];
    expect(cov!.type).toBe('HostCovariance');
    const sigma = (cov!.body as { covariance: Float64Array }).covariance;
    const x = [new Float64Array(n).fill(1), ...run.guest.trainColumns()];
    // CᵀC/μ = λI − Σ̃⁻¹.
    const inv = spdInverse(sigma, ph);
    let read = 0;
    let worst = 0;
    let values = 0;
    for (const r of reads) {
      const truth = r.col < x.length ? x[r.col]![r.row]! : 0;
      const got = (-inv[(r.a - 1) * ph + r.l]! * MU) / KAPPA / 2 ** GAIN;
      if (r.col >= 1 && r.col < x.length) {
        values++;
        const err = Math.abs(got - truth);
        worst = Math.max(worst, err);
        if (err < 1e-3) read++;
      }
    }
    console.log(`malicious host, p_G ${pg}, p_H ${ph}: HostCovariance gave ${read}/${values} of the guest's per-row feature values to 1e-3 (worst error ${worst.toExponential(1)}) in one reply`);
    expect(values).toBeGreaterThan(0);
    expect(read).toBe(values);
  }, 600_000);
});
