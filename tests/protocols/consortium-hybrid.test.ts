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
});
