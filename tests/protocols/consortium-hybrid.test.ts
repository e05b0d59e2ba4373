import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { bankStatistics, HybridBank, HybridCoordinator, hybridLrInMemory, HybridPlatform, pooledFrom } from '../../protocols/consortium/hybrid.ts';
import { createCkks } from '../../protocols/he/ckks.ts';
import { vflConfig } from '../../protocols/vfl-lr/config.ts';
import { hybridSplit } from '../helpers/consortium-data.ts';

describe('hybrid consortium logistic regression (banks × platform)', () => {
  it('three banks each joined with the platform (default_credit) train the pooled centralised model: test AUC within 0.002, weights close; only the sums leave the banks', async () => {
    const { pairs, test, pooledTrain, pooledTest } = hybridSplit();
    const reference = fitLogistic(pooledTrain.cols, pooledTrain.y, { optimizer: 'newton', tolerance: 1e-8, lambda: 1e-4 });
    const refAuc = auc(predictLogistic(reference, pooledTest.cols), pooledTest.y);

    const fed = await hybridLrInMemory({ job: 'hybrid-dc', pairs, rng: seededRng('hybrid-flood') });
    expect(fed.converged).toBe(true);
    expect(fed.rows).toBe(24000);
    const fedAuc = auc(predictLogistic(fed, pooledTest.cols), pooledTest.y);
    const maxDiff = Math.max(Math.abs(fed.intercept - reference.intercept), ...fed.weights.map((w, j) => Math.abs(w - reference.weights[j]!)));
    const perBank = [...test].map(([b, t]) => `${b} ${auc(predictLogistic(fed, t.cols), t.y).toFixed(4)}`);
    console.log(
      `consortium-hybrid default_credit, 3 banks × platform: pooled AUC ${refAuc.toFixed(4)}, consortium ${fedAuc.toFixed(4)} (${fed.iterations} BFGS rounds, ${fed.seconds.toFixed(1)} s), largest weight difference ${maxDiff.toFixed(4)}; each bank's own test AUC: ${perBank.join(', ')}`,
    );
    expect(Math.abs(fedAuc - refAuc)).toBeLessThan(0.002);
    // The sigmoid is expanded to 1e-2 per sample and training stops at ‖∇‖∞ ≤ 1e-4 (vfl-lr's defaults).
    expect(maxDiff).toBeLessThan(0.03);
    // Every bank ends with the same bank block; the coordinator's copy is the model.
    for (const b of fed.banks) expect([...b.weights]).toEqual([...fed.banks[0]!.weights]);
    // Each round's gradient covered every bank, and the coordinator received only the platform's sums.
    for (const banks of fed.coordinator.roundBanks) expect(banks).toEqual(['bank-1', 'bank-2', 'bank-3']);
    const toCoordinator = new Set(fed.transport.log.filter((r) => r.to === 'coordinator').map((r) => `${r.from}:${r.type}`));
    expect(toCoordinator).toEqual(new Set(['platform:PlatformGram', 'platform:GradientSum']));
    // Banks send only ciphertexts, and only to the platform.
    for (const r of fed.transport.log.filter((r) => r.from.startsWith('bank-'))) {
      expect(r.to).toBe('platform');
      expect(r.privacy).toBe('ciphertext');
    }
  }, 240_000);

  it('a bank killed in round 3: the round closes without it, and training ends at the pooled model of the two that remain (test AUC within 0.002)', async () => {
    const { pairs, test } = hybridSplit();
    const remaining = ['bank-1', 'bank-3'];
    const pool = (parts: { cols: readonly Float64Array[]; y: Uint8Array }[]) => ({
      cols: parts[0]!.cols.map((_, j) => Float64Array.from(parts.flatMap((p) => [...p.cols[j]!]))),
      y: Uint8Array.from(parts.flatMap((p) => [...p.y])),
    });
    const train = pool(remaining.map((b) => ({ cols: [...pairs.get(b)!.bank, ...pairs.get(b)!.platform], y: pairs.get(b)!.y })));
    const testAll = pool([...test.values()]);
    const reference = fitLogistic(train.cols, train.y, { optimizer: 'newton', tolerance: 1e-8, lambda: 1e-4 });
    const refAuc = auc(predictLogistic(reference, testAll.cols), testAll.y);

    const fed = await hybridLrInMemory({ job: 'hybrid-dc-drop', pairs, drops: [{ bank: 'bank-2', round: 3 }], rng: seededRng('hybrid-flood-drop') });
    expect(fed.converged).toBe(true);
    expect(fed.rows).toBe(16000);
    expect(fed.coordinator.roundBanks.slice(0, 3)).toEqual([['bank-1', 'bank-2', 'bank-3'], ['bank-1', 'bank-2', 'bank-3'], ['bank-1', 'bank-2', 'bank-3']]);
    for (const banks of fed.coordinator.roundBanks.slice(3)) expect(banks).toEqual(remaining);
    const fedAuc = auc(predictLogistic(fed, testAll.cols), testAll.y);
    const maxDiff = Math.max(Math.abs(fed.intercept - reference.intercept), ...fed.weights.map((w, j) => Math.abs(w - reference.weights[j]!)));
    console.log(`consortium-hybrid with bank-2 killed in round 3: pooled (bank-1, bank-3) AUC ${refAuc.toFixed(4)}, consortium ${fedAuc.toFixed(4)} (${fed.iterations} rounds), largest weight difference ${maxDiff.toFixed(4)}`);
    expect(Math.abs(fedAuc - refAuc)).toBeLessThan(0.002);
    expect(maxDiff).toBeLessThan(0.03);
  }, 240_000);

  it('refuses a message in the wrong stage, from the wrong party, for another job or round, with coded errors', async () => {
    const { pairs } = hybridSplit(3, 600);
    const [cb, cb2, cp, cc] = await Promise.all([createCkks('ckks-n8192-l1'), createCkks('ckks-n8192-l1'), createCkks('ckks-n8192-l1'), createCkks('ckks-n8192-l1')]);
    const config = vflConfig('hybrid-refuse');
    // Two banks: every sum the coordinator decrypts must cover at least two (tests/attacks/hybrid-lone-bank.test.ts).
    const p1 = pairs.get('bank-1')!;
    const p2 = pairs.get('bank-2')!;
    const stats = bankStatistics(p1.bank, p1.y).map((v, i) => v + bankStatistics(p2.bank, p2.y)[i]!);
    const pooled = pooledFrom(stats, p1.bank.length);
    const bank = new HybridBank('bank-1', cb, p1.bank, p1.y, pooled, config);
    const bank2 = new HybridBank('bank-2', cb2, p2.bank, p2.y, pooled, config);
    const platform = new HybridPlatform(cp, new Map([['bank-1', p1.platform], ['bank-2', p2.platform]]), p1.bank.length, config);
    const coordinator = new HybridCoordinator(cc, ['bank-1', 'bank-2'], pooled, config, seededRng('refuse'));
    const env = (type: string, from: string, to: string, body: Record<string, unknown>, round = 0, job = 'hybrid-refuse') => ({ job, protocol: 'consortium-hybrid', type, round, from, to, body });
    // Before the keys: no basis, no gradient, no round.
    expect(() => bank.receive(env('PairBasis', 'platform', 'bank-1', { centre: 0, halfWidth: 1, basis: [] }))).toThrow(expect.objectContaining({ code: 'VFL_WRONG_STAGE' }));
    expect(() => platform.receive(env('HybridRoundStart', 'coordinator', 'platform', {}))).toThrow(expect.objectContaining({ code: 'VFL_WRONG_STAGE' }));
    const setup = coordinator.start();
    expect(setup.map((e) => e.to)).toEqual(['bank-1', 'bank-2', 'platform']);
    // Keys from a party other than the coordinator, or for another job.
    expect(() => bank.receive({ ...setup[0]!, from: 'platform' })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => bank.receive({ ...setup[0]!, job: 'other' })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_JOB' }));
    bank.receive(setup[0]!);
    bank2.receive(setup[1]!);
    const gram = platform.receive(setup[2]!);
    // The coordinator takes the Gram only from the platform; the row counts must agree with the secure sum.
    expect(() => coordinator.receive({ ...gram[0]!, from: 'bank-1' })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    expect(() => coordinator.receive({ ...gram[0]!, body: { ...gram[0]!.body, rows: 1 } })).toThrow(expect.objectContaining({ code: 'VFL_ROW_MISMATCH' }));
    const start = coordinator.receive(gram[0]!);
    expect(() => platform.receive({ ...start[0]!, from: 'bank-1' })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    const bases = platform.receive(start[0]!);
    // A basis for a later round, a basis of the wrong shape; then the round as it should go.
    expect(() => bank.receive({ ...bases[0]!, round: 1 })).toThrow(expect.objectContaining({ code: 'VFL_WRONG_ROUND' }));
    expect(() => bank.receive({ ...bases[0]!, body: { ...bases[0]!.body, basis: [] } })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'basis' } }));
    const parts = bank.receive(bases[0]!);
    expect(parts.map((e) => e.type)).toEqual(['PairResidual', 'BankGradient']);
    // A part from a bank that is not in the job, and a second residual.
    expect(() => platform.receive({ ...parts[0]!, from: 'bank-9' })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE' }));
    platform.receive(parts[0]!);
    expect(() => platform.receive(parts[0]!)).toThrow(expect.objectContaining({ code: 'VFL_WRONG_STAGE' }));
    expect(platform.receive(parts[1]!)).toEqual([]);
    const sum = bank2.receive(bases[1]!).flatMap((e) => platform.receive(e));
    expect(sum.map((e) => e.type)).toEqual(['GradientSum']);
    // The coordinator refuses a sum naming a bank outside the job.
    expect(() => coordinator.receive({ ...sum[0]!, body: { ...sum[0]!.body, banks: ['bank-9'] } })).toThrow(expect.objectContaining({ code: 'VFL_BAD_MESSAGE', location: { field: 'banks' } }));
    const next = coordinator.receive(sum[0]!);
    expect(next.map((e) => `${e.type}>${e.to}`)).toEqual(['HybridUpdate>bank-1', 'HybridUpdate>bank-2', 'HybridUpdate>platform', 'HybridRoundStart>platform']);
  }, 120_000);
});
