import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { fitLrPreparation } from '../../engine/impute.ts';
import { compileLr, compileScorecard, lrPartialLogits, scorecardPoints, ScoringPool, SharedBatch } from '../../engine/scoring.ts';
import { binOf, type ExportCharacteristic } from '../../models/export/model.ts';

/** A scorecard with 1–8 cut points per feature, some with their own missing bin, some not. */
function model(features: number) {
  const rng = seededRng('kernel');
  const characteristics: ExportCharacteristic[] = Array.from({ length: features }, (_, j) => {
    const k = 1 + (j % 8);
    const cuts = Array.from({ length: k }, (_, i) => (i + 1) * 10 + (j % 3));
    const missingOwn = j % 2 === 0;
    const bins = k + 1 + (missingOwn ? 1 : 0);
    return {
      field: `f${j}`,
      party: 'guest',
      spec: { kind: 'numeric', cuts, categories: [], bins, missingOwn, missingBin: missingOwn ? bins - 1 : 0, otherBin: 0 },
      binLabels: [],
      woe: Array.from({ length: bins }, () => 0),
      coefficient: 1,
      points: Array.from({ length: bins }, () => Math.round((rng.next() - 0.5) * 50)),
    };
  });
  return { characteristics, basePoints: 480 };
}

describe('scoring kernels and pool', () => {
  const rows = 20_011;
  const m = model(13);
  const batch = new SharedBatch(13, rows);
  const rng = seededRng('rows');
  // Values on and around the cut points, and missing ones.
  for (const col of batch.cols) for (let i = 0; i < rows; i++) col[i] = rng.next() < 0.05 ? NaN : Math.round(rng.next() * 100) / (rng.next() < 0.5 ? 1 : 1.0001);

  it('score every row as the bin rule of the exported model says', () => {
    const k = compileScorecard(m);
    const out = new Int32Array(rows);
    scorecardPoints(batch.cols, k.cuts, k.points, k.base, out, 0, rows);
    for (let i = 0; i < rows; i++) {
      let expected = m.basePoints;
      m.characteristics.forEach((c, j) => (expected += c.points[binOf(c.spec, batch.cols[j]![i]!)]!));
      if (out[i] !== expected) expect({ i, got: out[i] }).toEqual({ i, got: expected });
    }
  });

  it('pool scores equal single-thread scores exactly, for scorecards and LR parts (raw columns, missing values included)', async () => {
    const k = compileScorecard(m);
    const single = new Int32Array(rows);
    scorecardPoints(batch.cols, k.cuts, k.points, k.base, single, 0, rows);
    const { prep } = fitLrPreparation(batch.cols, batch.cols.map((_, j) => `f${j}`));
    expect(prep.imputer.indicators.length).toBe(13);
    const lr = compileLr(prep, Float64Array.from(prep.names, (_, j) => (j - 6) / 50), -0.3);
    const singleP = lrPartialLogits(lr, batch.cols);
    const pool = new ScoringPool(3);
    try {
      await pool.attach(batch);
      expect(Array.from(await pool.scorecard(await pool.load(k)))).toEqual(Array.from(single));
      const p = await pool.lr(await pool.load(lr));
      expect(p.every((v, i) => Object.is(v, singleP[i]))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('refuses what the kernel cannot score', () => {
    const cat = { ...m.characteristics[0]!, spec: { ...m.characteristics[0]!.spec, kind: 'categorical' as const } };
    expect(() => compileScorecard({ characteristics: [cat], basePoints: 0 })).toThrow(expect.objectContaining({ code: 'SC_BAD_CONFIG' }));
  });
});
