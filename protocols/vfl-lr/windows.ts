/**
 * The host's sigmoid windows: a few intervals of its partial logit u_H that together hold EVERY
 * row, so that no row is clamped to a window's edge (the one-window expansion evaluated rows
 * outside [c − R, c + R] at the edge: on special codes, where u_H spans [−202, 8.4] with 99.8% of
 * rows in [−25, 6.5], that broke training).
 *
 * Construction. Sort u_H; from the lowest value not yet covered, open a window reaching up to
 * 2·R_max; its edges snap outward to a grid of `grid` logit units (so an edge is never a row's
 * exact value), its degree is the smallest that holds the sigmoid within the tolerance over its
 * half-width (chebyshevDegreeFor). If more than `maxWindows` windows are needed, R_max doubles
 * (higher degrees, up to the cap) until they fit; if even the cap does not fit, the host refuses
 * with VFL_WINDOWS naming the features to cap, bin or drop.
 *
 * Encoding (the guest's evaluation keeps today's multiplicative depth of one). For window j the
 * host sends [[1{i∈W_j}·T_k(τ_{j,i})]], k = 1..K_j, τ_{j,i} = (u_H,i − c_j)/R_j, and for every
 * window but the last [[1{i∈W_j}]]; it knows the indicator in plaintext, so it multiplies before
 * encrypting. The guest computes
 *   Σ_j Σ_k coef_{j,k,i}·[[1_j T_k]] + Σ_{j<J} (coef_{j,0,i} − coef_{J,0,i})·[[1_j]] + coef_{J,0,i} − y_i
 * (the indicators sum to one, so the last window's is implicit). With one window this is exactly
 * the one-window basis. Cost: Σ_j K_j + J − 1 encrypted vectors instead of K.
 *
 * What the guest learns: the windows (at most `maxWindows` intervals on the grid, each holding at
 * least one row), not which row is in which window; every per-row value stays encrypted.
 */
import { IndomainError } from '../../engine/errors.ts';
import { chebyshevDegreeFor, chebyshevPasses } from './chebyshev.ts';

export interface SigmoidWindow {
  readonly centre: number;
  readonly halfWidth: number;
  readonly degree: number;
}

export interface WindowOptions {
  sigmoidTolerance: number;
  chebyshevDegree: number;
  minHalfWidth: number;
  /** Widest half-width tried first; doubled while more than maxWindows are needed. */
  windowHalfWidth: number;
  maxWindows: number;
  /** Edges snap outward to multiples of this (logit units). */
  windowGrid: number;
}

/** Degree of a window, memoised per (half-width, tolerance, cap): both parties call it each round. */
const degreeCache = new Map<string, number>();
export function windowDegree(halfWidth: number, o: Pick<WindowOptions, 'sigmoidTolerance' | 'chebyshevDegree'>): number {
  const key = `${halfWidth}:${o.sigmoidTolerance}:${o.chebyshevDegree}`;
  let d = degreeCache.get(key);
  if (d === undefined) {
    d = chebyshevDegreeFor(halfWidth, o.sigmoidTolerance, o.chebyshevDegree);
    degreeCache.set(key, d);
  }
  return d;
}

/**
 * The largest half-width whose degree stays within the cap (at the tolerance), memoised like
 * windowDegree: uncached it cost the host ~0.1 s a round (several degree searches over wide windows).
 */
const capCache = new Map<string, number>();
function widestAtCap(o: WindowOptions): number {
  const key = `${o.minHalfWidth}:${o.sigmoidTolerance}:${o.chebyshevDegree}`;
  let r = capCache.get(key);
  if (r === undefined) {
    r = o.minHalfWidth;
    while (r < 1024 && chebyshevPasses(2 * r, o.sigmoidTolerance, o.chebyshevDegree)) r *= 2;
    capCache.set(key, r);
  }
  return r;
}

function cover(sorted: Float64Array, rmax: number, o: WindowOptions): SigmoidWindow[] {
  const out: SigmoidWindow[] = [];
  const g = o.windowGrid;
  let i = 0;
  while (i < sorted.length) {
    const lo = Math.floor(sorted[i]! / g) * g;
    let hiValue = sorted[i]!;
    while (i < sorted.length && sorted[i]! <= lo + 2 * rmax) hiValue = sorted[i++]!;
    let hi = Math.ceil(hiValue / g) * g;
    if (hi <= hiValue) hi += g;
    // Narrower than the minimum: widen both ways, edges staying on the grid.
    const pad = Math.max(0, Math.ceil((2 * o.minHalfWidth - (hi - lo)) / (2 * g)) * g);
    const halfWidth = (hi - lo) / 2 + pad;
    const centre = (lo + hi) / 2;
    out.push({ centre, halfWidth, degree: windowDegree(halfWidth, o) });
  }
  return out;
}

/**
 * Windows covering every value of `u`. Throws VFL_WINDOWS (with `features()` naming the culprits)
 * when even the widest half-width at the degree cap needs more than maxWindows.
 */
export function chooseWindows(u: Float64Array, o: WindowOptions, features: () => string = () => 'the widest-ranging features'): SigmoidWindow[] {
  const sorted = Float64Array.from(u).sort();
  const cap = widestAtCap(o);
  for (let r = Math.min(o.windowHalfWidth, cap); ; r = Math.min(2 * r, cap)) {
    const w = cover(sorted, r, o);
    if (w.length <= o.maxWindows) return w;
    if (r >= cap) {
      throw new IndomainError('VFL_WINDOWS', `${w.length} windows needed, at most ${o.maxWindows}: cap, bin or drop ${features()}`);
    }
  }
}

/** Index of the window holding each row (windows are in increasing order and cover every row). */
export function assignWindows(u: Float64Array, windows: readonly SigmoidWindow[]): Uint8Array {
  const out = new Uint8Array(u.length);
  for (let i = 0; i < u.length; i++) {
    let j = 0;
    while (j < windows.length - 1 && u[i]! > windows[j]!.centre + windows[j]!.halfWidth) j++;
    out[i] = j;
  }
  return out;
}

/** Number of encrypted vectors the basis of these windows takes. */
export function basisVectors(windows: readonly SigmoidWindow[]): number {
  return windows.reduce((s, w) => s + w.degree, 0) + windows.length - 1;
}
