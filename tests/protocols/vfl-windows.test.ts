import { describe, expect, it } from 'vitest';
import { seededRng } from '../../engine/rng.ts';
import { sigmoid } from '../../models/logistic.ts';
import { chebyshevBasis, perSampleCoefficients } from '../../protocols/vfl-lr/chebyshev.ts';
import { DEFAULT_VFL } from '../../protocols/vfl-lr/config.ts';
import { assignWindows, basisVectors, chooseWindows } from '../../protocols/vfl-lr/windows.ts';

/** Partial logits shaped like the issue's: 99.8% in [−25, 6.5], special-code rows down to −202. */
function specialCodeLogits(n: number): Float64Array {
  const r = seededRng('windows');
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
    u[i] = r.next() < 0.002 ? (r.next() < 0.5 ? -202 + r.next() : -96 + 2 * r.next()) : Math.max(-25, Math.min(6.5, -9 + 5 * g));
  }
  u[0] = 8.4;
  return u;
}

describe('sigmoid windows', () => {
  it('cover every row within a bounded number of windows; each row is expanded within the tolerance, none clamped', () => {
    const u = specialCodeLogits(20000);
    const o = DEFAULT_VFL;
    const windows = chooseWindows(u, o);
    const which = assignWindows(u, windows);
    console.log(`special-code logits: ${windows.length} windows, ${basisVectors(windows)} basis vectors:`, windows.map((w) => `${w.centre}±${w.halfWidth} (K=${w.degree})`).join(', '));
    expect(windows.length).toBeLessThanOrEqual(o.maxWindows);
    expect(windows.length).toBeGreaterThan(1);
    for (const w of windows) {
      expect(Number.isInteger((w.centre - w.halfWidth) / o.windowGrid)).toBe(true);
      expect(w.halfWidth).toBeGreaterThanOrEqual(o.minHalfWidth);
    }
    // The guest's per-sample expansion, evaluated in plaintext, against the exact sigmoid of the
    // joint logit, for guest offsets across [−10, 10]: within the tolerance on every row.
    const a = Float64Array.from(u, (_, i) => -10 + (20 * i) / u.length);
    let worst = 0;
    windows.forEach((w, j) => {
      const rows = [...u.keys()].filter((i) => which[i] === j);
      const tau = Float64Array.from(rows, (i) => (u[i]! - w.centre) / w.halfWidth);
      for (const t of tau) expect(Math.abs(t)).toBeLessThanOrEqual(1);
      const coef = perSampleCoefficients(sigmoid, Float64Array.from(rows, (i) => a[i]! + w.centre), w.halfWidth, w.degree);
      const basis = chebyshevBasis(tau, w.degree);
      rows.forEach((i, r) => {
        let s = coef[0]![r]!;
        for (let k = 1; k <= w.degree; k++) s += coef[k]![r]! * basis[k - 1]![r]!;
        worst = Math.max(worst, Math.abs(s - sigmoid(a[i]! + u[i]!)));
      });
    });
    console.log(`worst per-row sigmoid error ${worst.toExponential(2)} (tolerance ${o.sigmoidTolerance})`);
    expect(worst).toBeLessThanOrEqual(o.sigmoidTolerance);
  });

  it('more windows than allowed: VFL_WINDOWS naming what to cap, bin or drop', () => {
    const u = Float64Array.from({ length: 400 }, (_, i) => i * 40);
    expect(() => chooseWindows(u, { ...DEFAULT_VFL, maxWindows: 4 }, () => 'h_amount')).toThrow(expect.objectContaining({ code: 'VFL_WINDOWS', message: expect.stringContaining('cap, bin or drop h_amount') }));
  });

  it('one window when the logits are narrow (the one-window basis of before)', () => {
    const u = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const w = chooseWindows(u, DEFAULT_VFL);
    expect(w.length).toBe(1);
    expect(basisVectors(w)).toBe(w[0]!.degree);
  });
});
