/**
 * Seeded vertical pairs in the shapes real credit files take, for the vfl tests and the
 * `vfl-scale` benchmark. Each shape isolates one thing that breaks a naive federated LR:
 *
 * - `special-codes`: delinquency counters (mostly 0, a few 1–6) that carry a special code (96 or
 *   98, "unknown") on the SAME rows in several correlated columns on both parties, as bureau files
 *   do; after z-scoring those rows sit 50–70σ out and the optimum takes large opposing weights.
 * - `heavy-tails`: log-normal amounts whose standardised maxima reach 100–250σ.
 * - `near-constant`: a column that is 0 except on a few rows with an extreme value.
 * - `collinear`: pairs of columns with correlation ≈ 0.99, within and across parties.
 * - `rare-events`: the event rate at 1%.
 * - `plain`: correlated Gaussian features (the easy case, and the scale benchmark's default).
 * - `mixed`: all of the above at once.
 *
 * Labels come from a logistic model in transformed features (the codes carry their own risk, not
 * their numeric value), with the intercept solved for the requested event rate. Raw values are
 * returned: each party z-scores its own columns (engine/standardize.ts) as the pipeline does.
 * Deterministic for a seed (engine/rng.ts seededRng: test data only, never secrets).
 */
import { seededRng, type Rng } from '../engine/rng.ts';
import { sigmoid } from '../models/logistic.ts';

export const SHAPES = ['plain', 'special-codes', 'heavy-tails', 'near-constant', 'collinear', 'rare-events', 'mixed'] as const;
export type Shape = (typeof SHAPES)[number];

export interface ShapeOptions {
  shape: Shape;
  rows: number;
  guestFeatures: number;
  hostFeatures: number;
  /** Target event rate (the realised rate is within sampling error of it). */
  eventRate?: number;
  seed: string | number;
}

export interface GeneratedPair {
  guest: Float64Array[];
  host: Float64Array[];
  guestNames: string[];
  hostNames: string[];
  labels: Uint8Array;
}

function gaussian(rng: Rng): number {
  const u = Math.max(1e-300, rng.next());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Intercept b with mean σ(b + s_i) = rate (bisection; the mean is increasing in b). */
function interceptFor(score: Float64Array, rate: number): number {
  let lo = -40;
  let hi = 40;
  for (let it = 0; it < 80; it++) {
    const mid = (lo + hi) / 2;
    let s = 0;
    for (let i = 0; i < score.length; i++) s += sigmoid(mid + score[i]!);
    if (s / score.length < rate) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export function generatePair(o: ShapeOptions): GeneratedPair {
  const rng = seededRng(`shape:${o.shape}:${o.seed}`);
  const n = o.rows;
  const has = (s: Shape) => o.shape === s || o.shape === 'mixed';
  const rate = o.eventRate ?? (has('rare-events') ? 0.01 : 0.2);
  // Latent risk factors shared by both parties (so their features are correlated), and a row-level
  // "unknown record" flag that puts special codes on the same rows across columns and parties.
  const f1 = new Float64Array(n);
  const f2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    f1[i] = gaussian(rng);
    f2[i] = gaussian(rng);
  }
  const unknown = new Uint8Array(n);
  if (has('special-codes')) for (let i = 0; i < n; i++) unknown[i] = rng.next() < 0.001 ? 1 : 0;
  const score = new Float64Array(n);
  const make = (party: 'g' | 'h', count: number) => {
    const cols: Float64Array[] = [];
    const names: string[] = [];
    const push = (name: string, c: Float64Array, effect: (i: number) => number) => {
      cols.push(c);
      names.push(`${party}_${name}`);
      for (let i = 0; i < n; i++) score[i] += effect(i);
    };
    let k = 0;
    const special: (() => void)[] = [];
    if (has('special-codes')) {
      // Two delinquency counters per party, driven by the same latent factor, coded 96/98 on the
      // unknown rows (both columns, both parties).
      for (let c = 0; c < 2; c++) {
        special.push(() => {
          const col = new Float64Array(n);
          const code = c === 0 ? 96 : 98;
          for (let i = 0; i < n; i++) {
            const lam = Math.exp(-1.6 + 0.9 * f1[i]! + 0.3 * gaussian(rng));
            let count = 0;
            let p = Math.exp(-lam);
            let u = rng.next();
            while (u > p && count < 6) {
              u -= p;
              count++;
              p = (p * lam) / count;
            }
            col[i] = unknown[i] ? code : count;
          }
          // The first counter carries the risk, the second mostly shadows it; the unknown rows' own
          // risk is moderate, far below what their code's numeric value would imply.
          push(`dlq${c}`, col, (i) => (unknown[i] ? 0.25 : (c === 0 ? 0.6 : 0.1) * col[i]!));
        });
      }
    }
    if (has('heavy-tails')) {
      special.push(() => {
        const col = new Float64Array(n);
        // Log-normal with σ = 2.4: standardised maxima of order 100–250σ at 10⁴–10⁵ rows.
        for (let i = 0; i < n; i++) col[i] = Math.round(1000 * Math.exp(2.4 * (0.3 * f2[i]! + 0.95 * gaussian(rng))));
        push('amount', col, (i) => -0.25 * Math.log1p(col[i]! / 1000));
      });
    }
    if (has('near-constant')) {
      special.push(() => {
        const col = new Float64Array(n);
        for (let i = 0; i < n; i++) col[i] = rng.next() < 0.002 ? 500 + 500 * rng.next() : 0;
        push('rare', col, (i) => (col[i]! > 0 ? 0.8 : 0));
      });
    }
    if (has('collinear')) {
      special.push(() => {
        const a = new Float64Array(n);
        const b = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          a[i] = 0.8 * f1[i]! + 0.6 * gaussian(rng);
          b[i] = a[i]! + 0.14 * gaussian(rng);
        }
        push('coll_a', a, (i) => 0.4 * a[i]!);
        push('coll_b', b, () => 0);
      });
    }
    for (const s of special) if (k++ < count) s();
    while (cols.length < count) {
      const j = cols.length;
      const col = new Float64Array(n);
      const wf1 = 0.5 * Math.cos(j + (party === 'g' ? 0 : 1.3));
      const wf2 = 0.5 * Math.sin(j + (party === 'g' ? 0 : 1.3));
      for (let i = 0; i < n; i++) col[i] = wf1 * f1[i]! + wf2 * f2[i]! + gaussian(rng);
      const beta = 0.3 / Math.sqrt(1 + j);
      push(`x${j}`, col, (i) => beta * col[i]! * (j % 2 === 0 ? 1 : -1));
    }
    return { cols: cols.slice(0, count), names: names.slice(0, count) };
  };
  const g = make('g', o.guestFeatures);
  const h = make('h', o.hostFeatures);
  for (let i = 0; i < n; i++) score[i] += 0.5 * f1[i]!;
  const b = interceptFor(score, rate);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.next() < sigmoid(b + score[i]!) ? 1 : 0;
  return { guest: g.cols, host: h.cols, guestNames: g.names, hostNames: h.names, labels };
}
