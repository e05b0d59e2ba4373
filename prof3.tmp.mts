import { shapeData, relativeError } from './tests/helpers/shapes.ts';
import { fitLogisticChecked } from './models/logistic.ts';
import { trainInMemory, vflConfig } from './protocols/vfl-lr/protocol.ts';
import { seededRng } from './engine/rng.ts';
const shape = process.env.SHAPE ?? 'mixed';
const d = shapeData(shape as never);
const optimum = fitLogisticChecked([...d.g.train, ...d.h.train], d.yTrain, d.names);
for (const o of JSON.parse(process.env.CFGS ?? '[{}]')) {
  const fed = await trainInMemory({ guest: d.g.train, labels: d.yTrain, host: d.h.train, config: vflConfig('m', o), rng: seededRng('x') });
  const w = Float64Array.from([...fed.guest.weights.subarray(1), ...fed.host.weights]);
  console.log(JSON.stringify(o), fed.arbiter.iterations, fed.arbiter.converged, relativeError(w, optimum.weights).toExponential(2), fed.seconds.toFixed(1), fed.arbiter.gradientNorms.slice(-3).map(x=>x.toExponential(1)).join(' '));
}
