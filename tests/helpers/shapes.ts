/** Generated vertical pairs (benchmarks/shapes.ts), split and z-scored as the pipeline does, for tests. */
import { seededSplit } from '../../engine/align.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';
import { generatePair, type SHAPES } from '../../benchmarks/shapes.ts';

const pick = (cols: readonly Float64Array[], idx: ArrayLike<number>) => cols.map((c) => Float64Array.from(idx, (i) => c[i]!));

/** A generated pair, split and z-scored with training statistics, both parties' columns joined. */
export function shapeData(shape: (typeof SHAPES)[number], rows = 12000, seed: string | number = 1) {
  const p = generatePair({ shape, rows, guestFeatures: 5, hostFeatures: 5, seed });
  const s = seededSplit(rows, 0.25, `split-${seed}`);
  const side = (cols: Float64Array[]) => {
    const tr = pick(cols, s.train);
    const st = fitStandardizer(tr);
    return { train: applyStandardizer(st, tr), test: applyStandardizer(st, pick(cols, s.test)) };
  };
  return { g: side(p.guest), h: side(p.host), yTrain: Uint8Array.from(s.train, (i) => p.labels[i]!), yTest: Uint8Array.from(s.test, (i) => p.labels[i]!), names: [...p.guestNames, ...p.hostNames] };
}

/** ‖a − b‖₂ / ‖b‖₂. */
export const relativeError = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let num = 0;
  let den = 0;
  for (let j = 0; j < b.length; j++) {
    num += (a[j]! - b[j]!) ** 2;
    den += b[j]! ** 2;
  }
  return Math.sqrt(num / den);
};

