import { describe, expect, it } from 'vitest';
import { auc, gini, ks, logLoss } from '../../models/metrics.ts';
import { seededRng } from '../../engine/rng.ts';

function pairwiseAuc(s: number[], y: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) {
    if (y[i] === 1 && y[j] === 0) {
      den++;
      num += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return num / den;
}

function bruteKs(s: number[], y: number[]): number {
  const pos = y.filter((v) => v === 1).length;
  const neg = y.length - pos;
  let best = 0;
  for (const t of new Set(s)) {
    const fp = s.filter((v, i) => v <= t && y[i] === 1).length / pos;
    const fn = s.filter((v, i) => v <= t && y[i] === 0).length / neg;
    best = Math.max(best, Math.abs(fp - fn));
  }
  return best;
}

describe('metrics', () => {
  it('AUC and KS equal brute force on random data with many ties', () => {
    const r = seededRng(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 20 + Math.floor(r.next() * 80);
      const s = Array.from({ length: n }, () => Math.floor(r.next() * 6));
      const y = Array.from({ length: n }, (_, i) => (r.next() < 0.3 + 0.08 * s[i]! ? 1 : 0));
      if (!y.includes(1) || !y.includes(0)) continue;
      expect(auc(s, y)).toBeCloseTo(pairwiseAuc(s, y), 12);
      expect(ks(s, y)).toBeCloseTo(bruteKs(s, y), 12);
      expect(gini(s, y)).toBeCloseTo(2 * pairwiseAuc(s, y) - 1, 12);
    }
  });
  it('known values', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([1, 1, 1], [0, 1, 0])).toBe(0.5);
    expect(ks([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2), 12);
    expect(Number.isNaN(auc([0.1, 0.2], [1, 1]))).toBe(true);
  });
});
