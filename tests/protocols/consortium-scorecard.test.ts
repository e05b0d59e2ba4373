import { describe, expect, it } from 'vitest';
import { loadCsv } from '../../engine/csv.ts';
import { fitLogistic, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { scorecardPmml } from '../../models/export/pmml.ts';
import type { BankRows } from '../../protocols/consortium/horizontal.ts';
import { bankHistogram, consortiumScorecardInMemory, DEFAULT_CONSORTIUM_SCORECARD, GRID_CUTS, planFromHistogram, scorecardModel, woeColumns } from '../../protocols/consortium/scorecard.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;

function homo() {
  const load = (f: string) => loadCsv(data(f), { idColumn: 'id', labelColumn: 'y' });
  const tables = ['default_credit_homo_guest.csv', 'default_credit_homo_host_1.csv', 'default_credit_homo_host_2.csv'].map(load);
  const banks = new Map<string, BankRows>(tables.map((t, i) => [`bank-${i + 1}`, { x: t.features, y: t.label! }]));
  const pooled = {
    x: tables[0]!.features.map((_, j) => Float64Array.from(tables.flatMap((t) => [...t.features[j]!]))),
    y: Uint8Array.from(tables.flatMap((t) => [...t.label!])),
  };
  return { banks, pooled, features: tables[0]!.featureNames, test: load('default_credit_homo_test.csv') };
}

describe('horizontal consortium scorecard', () => {
  it('FATE homo default_credit, three banks: bins, WOE and IV equal the pooled scorecard on the same fine grid; coefficients and test AUC equal the pooled fit', async () => {
    const { banks, pooled, features, test } = homo();
    const fed = await consortiumScorecardInMemory({ config: { job: 'consortium-scorecard' }, features, banks });

    // The pooled reference: the same grid and rules on every row in one place, LR by Newton.
    const o = DEFAULT_CONSORTIUM_SCORECARD;
    const histogram = bankHistogram(pooled.x, pooled.y);
    expect([...fed.histogram.sum]).toEqual([...histogram]);
    const plan = planFromHistogram(features, histogram, o);
    const kept = plan.filter((f) => f.iv >= o.minIv);
    expect(fed.kept.map((k) => k.feature)).toEqual(kept.map((k) => k.feature));
    fed.features.forEach((f, j) => {
      expect(f.spec).toEqual(plan[j]!.spec);
      expect([...f.woe]).toEqual([...plan[j]!.woe]);
      expect(f.iv).toBe(plan[j]!.iv);
    });
    const reference = fitLogistic(woeColumns(pooled.x, features, kept), pooled.y, { optimizer: 'newton', tolerance: 1e-8, lambda: o.lambda });
    fed.lr.weights.forEach((w, j) => expect(Math.abs(w - reference.weights[j]!)).toBeLessThan(1e-6));
    const refModel = scorecardModel('pooled', kept, reference, o);
    fed.model.characteristics.forEach((c, j) => c.points.forEach((p, b) => expect(Math.abs(p - refModel.characteristics[j]!.points[b]!)).toBeLessThanOrEqual(1)));

    const testWoe = woeColumns(test.features, features, kept);
    const fedAuc = auc(predictLogistic(fed.lr, testWoe), test.label!);
    const refAuc = auc(predictLogistic(reference, testWoe), test.label!);
    console.log(
      `consortium-scorecard homo default_credit: ${kept.length} of ${features.length} features kept (IV ≥ ${o.minIv}), ${fed.kept.map((k) => k.spec.bins).join('/')} bins; test AUC consortium ${fedAuc.toFixed(4)}, pooled ${refAuc.toFixed(4)}; universal grid of ${GRID_CUTS.length + 1} bins per feature`,
    );
    expect(Math.abs(fedAuc - refAuc)).toBeLessThan(0.002);
    expect(fedAuc).toBeGreaterThan(0.7);
    const pmml = scorecardPmml(fed.model, '2026-01-01T00:00:00Z');
    expect(pmml).toContain('<Scorecard');
    for (const k of fed.kept) expect(pmml).toContain(`guest_${k.feature}`);
  }, 120_000);
});
