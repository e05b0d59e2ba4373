import { perSampleCoefficients, tabulatedCoefficients } from './protocols/vfl-lr/chebyshev.ts';
import { sigmoid } from './models/logistic.ts';
const n = 24000;
const base = Float64Array.from({ length: n }, () => (Math.random() - 0.5) * 12 - 1.3);
for (const [scale, deg] of [[1, 7], [4, 19], [6, 32]]) {
  let t0 = performance.now(); const a = perSampleCoefficients(sigmoid, base, scale, deg); const ta = performance.now() - t0;
  t0 = performance.now(); const b = tabulatedCoefficients(base, scale, deg); const tb = performance.now() - t0;
  let err = 0; for (let k = 0; k <= deg; k++) for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(a[k][i] - b[k][i]));
  console.log(scale, deg, 'direct', ta.toFixed(1), 'ms; table', tb.toFixed(1), 'ms; max diff', err.toExponential(2));
}
