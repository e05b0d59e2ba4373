import { describe, expect, it } from 'vitest';
import { fitLogistic, fitLogisticChecked, predictLogistic } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { SHAPES } from '../../benchmarks/shapes.ts';
import { relativeError, shapeData } from '../helpers/shapes.ts';

describe('plaintext reference: Newton with a line search', () => {
  for (const shape of SHAPES) {
    it(`${shape}: converges to a zero gradient; the federated optimiser (Wolfe BFGS) reaches the same weights`, () => {
      const d = shapeData(shape);
      const x = [...d.g.train, ...d.h.train];
      const newton = fitLogisticChecked(x, d.yTrain, d.names);
      expect(newton.converged).toBe(true);
      expect(newton.gradientNorms.at(-1)!).toBeLessThan(1e-8);
      const wolfe = fitLogistic(x, d.yTrain, { optimizer: 'wolfe', tolerance: 1e-7, maxIterations: 200 });
      expect(wolfe.converged).toBe(true);
      const rel = relativeError(wolfe.weights, newton.weights);
      const test = [...d.g.test, ...d.h.test];
      const gap = Math.abs(auc(predictLogistic(wolfe, test), d.yTest) - auc(predictLogistic(newton, test), d.yTest));
      console.log(`${shape}: Newton ${newton.iterations} it, Wolfe BFGS ${wolfe.iterations} it, relative weight error ${rel.toExponential(2)}, AUC gap ${gap.toExponential(1)}`);
      expect(rel).toBeLessThan(1e-3);
      expect(gap).toBeLessThan(0.002);
    });
  }
});

describe('coded refusals', () => {
  const d = shapeData('plain', 4000);
  const x = [...d.g.train, ...d.h.train];
  it('a constant column: VFL_CONSTANT_FEATURE naming it', () => {
    const cols = [...x, new Float64Array(d.yTrain.length).fill(3)];
    expect(() => fitLogisticChecked(cols, d.yTrain, [...d.names, 'flat'])).toThrow(expect.objectContaining({ code: 'VFL_CONSTANT_FEATURE', message: expect.stringContaining('"flat"') }));
  });
  it('no feature columns: VFL_NO_FEATURES', () => {
    expect(() => fitLogisticChecked([], d.yTrain)).toThrow(expect.objectContaining({ code: 'VFL_NO_FEATURES' }));
  });
  it('a missing value: VFL_BAD_DATA naming the feature', () => {
    const bad = Float64Array.from(x[2]!);
    bad[17] = Number.NaN;
    expect(() => fitLogisticChecked([x[0]!, x[1]!, bad], d.yTrain, d.names)).toThrow(expect.objectContaining({ code: 'VFL_BAD_DATA', message: expect.stringContaining(d.names[2]!) }));
  });
  it('perfect separation: VFL_SEPARATION naming the separating feature', () => {
    // A column equal to the label plus small noise separates the rows completely.
    const leak = Float64Array.from(d.yTrain, (v, i) => v + 0.01 * Math.sin(i));
    expect(() => fitLogisticChecked([...x, leak], d.yTrain, [...d.names, 'leak'])).toThrow(expect.objectContaining({ code: 'VFL_SEPARATION', message: expect.stringContaining('leak') }));
  });
  it('non-convergence: VFL_NOT_CONVERGED naming the extreme features and what to do', () => {
    const m = shapeData('mixed');
    const cols = [...m.g.train, ...m.h.train];
    expect(() => fitLogisticChecked(cols, m.yTrain, m.names, { maxIterations: 2 })).toThrow(expect.objectContaining({ code: 'VFL_NOT_CONVERGED', message: expect.stringMatching(/cap, bin or drop.*_/) }));
  });
});
