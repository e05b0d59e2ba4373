import { describe, expect, it } from 'vitest';
import { applyImputer, fitImputer } from '../../engine/impute.ts';
import { initialBins } from '../../models/binning.ts';
import { uciPair } from '../../benchmarks/uci.ts';

const uci = new URL('../data/uci/UCI_Credit_Card.csv', import.meta.url).pathname;

describe('missing values for LR (README "Missing values")', () => {
  it('imputes the observed training mean and appends <feature>_missing only for features missing in training', () => {
    const train = [Float64Array.of(1, Number.NaN, 3, 5), Float64Array.of(2, 2, 2, 4), Float64Array.of(Number.NaN, 0, 0, 0)];
    const imp = fitImputer(train);
    expect(Array.from(imp.mean)).toEqual([3, 2.5, 0]);
    expect(imp.indicators).toEqual([0, 2]);
    const out = applyImputer(imp, train, ['a', 'b', 'c']);
    expect(out.names).toEqual(['a', 'b', 'c', 'a_missing', 'c_missing']);
    expect(Array.from(out.cols[0]!)).toEqual([1, 3, 3, 5]);
    expect(Array.from(out.cols[2]!)).toEqual([0, 0, 0, 0]);
    expect(Array.from(out.cols[3]!)).toEqual([0, 1, 0, 0]);
    expect(Array.from(out.cols[4]!)).toEqual([1, 0, 0, 0]);
    // Scored rows: the training means, and no indicator for b even though b is missing now.
    const scored = applyImputer(imp, [Float64Array.of(Number.NaN), Float64Array.of(Number.NaN), Float64Array.of(7)], ['a', 'b', 'c']);
    expect(scored.cols.map((c) => c[0])).toEqual([3, 2.5, 7, 1, 0]);
  });

  it('the scorecard keeps missing as its own bin on the raw UCI pair with 20% of LIMIT_BAL blanked', () => {
    const { host } = uciPair(uci, { missing: { column: 'LIMIT_BAL', fraction: 0.2 }, seed: 'bins' });
    const col = host.features[0]!;
    const missing = col.filter(Number.isNaN).length;
    expect(missing / col.length).toBeGreaterThan(0.18);
    const spec = initialBins('LIMIT_BAL', col, 'numeric', { initialBins: 10, minCount: Math.ceil(0.05 * col.length) });
    expect(spec.missingOwn).toBe(true);
    expect(spec.missingBin).toBe(spec.bins - 1);
  });
});
