import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../engine/csv.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { consortiumLrInMemory, type BankRows } from '../../protocols/consortium/horizontal.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

/** FATE's horizontal default_credit split: three banks with the same 23 features, and a test file. */
function homo() {
  const load = (f: string) => loadCsv(data(f), { idColumn: 'id', labelColumn: 'y' });
  const banks = new Map<string, BankRows>(
    [
      ['bank-1', 'default_credit_homo_guest.csv'],
      ['bank-2', 'default_credit_homo_host_1.csv'],
      ['bank-3', 'default_credit_homo_host_2.csv'],
    ].map(([name, file]) => {
      const t = load(file!);
      return [name!, { x: t.features, y: t.label! }];
    }),
  );
  const test = load('default_credit_homo_test.csv');
  const pooled = (names: readonly string[]) => {
    const parts = names.map((n) => banks.get(n)!);
    const x = parts[0]!.x.map((_, j) => Float64Array.from(parts.flatMap((p) => [...p.x[j]!])));
    const y = Uint8Array.from(parts.flatMap((p) => [...p.y]));
    return fitLogistic(x, y, { optimizer: 'newton', tolerance: 1e-8, lambda: 1e-4 });
  };
  return { banks, test, pooled };
}

describe('horizontal consortium logistic regression over secure sums', () => {
  it('three banks (FATE homo default_credit) train the pooled centralised model: same weights, test AUC within 0.002; one bank killed mid-training (2 of 3) still within 0.002', async () => {
    const { banks, test, pooled } = homo();
    const reference = pooled(['bank-1', 'bank-2', 'bank-3']);
    const refAuc = auc(predictLogistic(reference, test.features), test.label!);

    const fed = await consortiumLrInMemory({ config: { job: 'consortium-homo' }, banks });
    expect(fed.converged).toBe(true);
    expect(fed.rows).toBe(24000);
    expect(fed.iterations).toBe(reference.iterations);
    const scale = Math.max(...reference.weights.map(Math.abs));
    fed.weights.forEach((w, j) => expect(Math.abs(w - reference.weights[j]!)).toBeLessThan(1e-6 * scale));
    expect(Math.abs(fed.intercept - reference.intercept)).toBeLessThan(1e-6);
    const fedAuc = auc(predictLogistic(fed, test.features), test.label!);
    expect(Math.abs(fedAuc - refAuc)).toBeLessThan(0.002);
    for (const r of fed.rounds) expect(r.banks).toEqual(['bank-1', 'bank-2', 'bank-3']);

    // bank-2 is killed in round 3 before it sends its masked input; threshold 2 of 3.
    const dropped = await consortiumLrInMemory({ config: { job: 'consortium-homo-drop', threshold: 2 }, banks, drops: [{ bank: 'bank-2', round: 3, at: 'mask' }] });
    expect(dropped.converged).toBe(true);
    expect(dropped.rounds.find((r) => r.round === 2)!.banks).toEqual(['bank-1', 'bank-2', 'bank-3']);
    for (const r of dropped.rounds.filter((r) => r.round >= 3)) expect(r.banks).toEqual(['bank-1', 'bank-3']);
    // From round 3 on it is the pooled model of the two banks that remained.
    const remaining = pooled(['bank-1', 'bank-3']);
    const scale2 = Math.max(...remaining.weights.map(Math.abs));
    dropped.weights.forEach((w, j) => expect(Math.abs(w - remaining.weights[j]!)).toBeLessThan(1e-5 * scale2));
    const dropAuc = auc(predictLogistic(dropped, test.features), test.label!);
    console.log(`consortium-lr homo default_credit: pooled AUC ${refAuc.toFixed(4)}, consortium ${fedAuc.toFixed(4)} (${fed.iterations} Newton steps), with bank-2 killed in round 3: ${dropAuc.toFixed(4)}`);
    expect(Math.abs(dropAuc - refAuc)).toBeLessThan(0.002);
  }, 120_000);
});
