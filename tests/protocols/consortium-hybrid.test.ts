import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { hybridLrInMemory } from '../../protocols/consortium/hybrid.ts';
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
});
