import { chebyshevDegreeFor } from './protocols/vfl-lr/chebyshev.ts';
const t0 = performance.now();
const out: number[] = [];
for (const r of [1, 1.5, 2, 3, 4, 6, 8, 16]) for (const tol of [1e-2, 1e-4, 1e-6]) out.push(chebyshevDegreeFor(r, tol, 32));
console.log(out.join(' '), (performance.now() - t0).toFixed(0), 'ms');
