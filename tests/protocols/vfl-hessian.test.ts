/**
 * The federated weighted Hessian of vfl-lr (protocols/vfl-lr/hessian.ts): the guest's and the
 * host's sides and the arbiter's assembly, on real seeds and pads, against XᵀWX/m computed in
 * plaintext with the exact σ′ of the joint logit.
 */
import { describe, expect, it } from 'vitest';
import { crossGram, linearPredictor, ones } from '../../engine/columns.ts';
import { cryptoRng, gaussians, seededRng } from '../../engine/rng.ts';
import { sigmoid } from '../../models/logistic.ts';
import { CrossGramDealer } from '../../protocols/mpc/cross-gram.ts';
import { DEFAULT_VFL } from '../../protocols/vfl-lr/config.ts';
import { assembleHessian, hessianBasis, hessianCoefficients, HessianLeft, HessianRight } from '../../protocols/vfl-lr/hessian.ts';
import { assignWindows, chooseWindows } from '../../protocols/vfl-lr/windows.ts';

function pair(rows: number, heavy: boolean) {
  const r = seededRng(`hessian-${heavy}`);
  const col = (s: number) => Float64Array.from(gaussians(r, rows), (v) => v * s);
  const guest = [ones(rows), col(1), col(1), col(1)];
  const host = [col(1), col(1), col(1)];
  // A heavy tail on the host: a few rows at 150σ (the shape that needed per-column scaling).
  if (heavy) for (let i = 0; i < rows; i += 997) host[2]![i] = 150;
  const wg = Float64Array.of(-1.2, 0.8, -0.5, 0.3);
  const wh = Float64Array.of(0.6, -0.9, heavy ? 0.05 : 0.4);
  return { guest, host, a: linearPredictor(guest, wg, rows), u: linearPredictor(host, wh, rows) };
}

/** XᵀWX/m with W = σ′(a + u), guest columns first. */
function plainHessian(guest: Float64Array[], host: Float64Array[], a: Float64Array, u: Float64Array, m: number): Float64Array {
  const x = [...guest, ...host].map((c) => c.subarray(0, m));
  const w = Float64Array.from({ length: m }, (_, i) => {
    const p = sigmoid(a[i]! + u[i]!);
    return p * (1 - p);
  });
  const h = crossGram(x, x, w);
  for (let k = 0; k < h.length; k++) h[k] = h[k]! / m;
  return h;
}

function federated(d: ReturnType<typeof pair>, m: number, budget: number) {
  const config = { ...DEFAULT_VFL, job: 'h' };
  const windows = chooseWindows(d.u, config);
  const which = assignWindows(d.u, windows);
  const dealer = new CrossGramDealer(cryptoRng.bytes(32));
  const round = 3;
  const left = new HessianLeft(d.guest, hessianCoefficients(d.a, windows, m, config), m, dealer.leftSeed, round, budget, cryptoRng.bytes(32));
  const right = new HessianRight(d.host, hessianBasis(d.u, which, windows, m, config), m, dealer.rightSeed, round, budget);
  const gs = { rows: left.rows, ...left.shares(right.padded()) };
  const hs = { rows: right.rows, ...right.shares(left.padded()) };
  const x = [...d.guest, ...d.host].map((c) => c.subarray(0, m));
  const gram = crossGram(x, x);
  return { h: assembleHessian(dealer.leftSeed, dealer.rightSeed, round, gs, hs, d.guest.length, d.host.length, m, gram), gram, windows, gs, hs };
}

const maxRel = (a: Float64Array, b: Float64Array) => {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let e = 0;
  for (let k = 0; k < a.length; k++) e = Math.max(e, Math.abs(a[k]! - b[k]!));
  return e / scale;
};

describe('vfl-lr weighted Hessian', () => {
  it('matches XᵀWX/m of the exact σ′ within 1e-3 of its largest entry', () => {
    const d = pair(6000, false);
    const m = 4096;
    const f = federated(d, m, DEFAULT_VFL.hessianBudgetWords);
    const err = maxRel(f.h, plainHessian(d.guest, d.host, d.a, d.u, m));
    console.log(`Hessian: ${f.windows.length} windows, ${f.gs.rows} stacked rows, max error ${err.toExponential(2)} of the largest entry`);
    expect(err).toBeLessThan(1e-3);
  });

  it('a column at 150σ on a few rows: every entry within 1e-3 but its own square, that one within 25%', () => {
    // The exchange's fixed point holds 30 bits for a product of two columns (cross-gram.ts); the
    // host's column x²·b_v spans 1 to 22,500 (its rows at 150σ), so its ordinary rows keep few
    // bits and that one entry, Σσ′x², is off by up to a fifth (measured 18%). The Hessian only
    // steers BFGS, whose secant updates correct it; the gradient stays exact to the flood.
    const d = pair(6000, true);
    const m = 4096;
    const f = federated(d, m, DEFAULT_VFL.hessianBudgetWords);
    const exact = plainHessian(d.guest, d.host, d.a, d.u, m);
    const dim = d.guest.length + d.host.length;
    const heavy = dim * dim - 1;
    const rest = (h: Float64Array) => h.filter((_, k) => k !== heavy);
    const err = maxRel(rest(f.h), rest(exact));
    const own = Math.abs(f.h[heavy]! / exact[heavy]! - 1);
    console.log(`Hessian (heavy tail): ${f.windows.length} windows, max error ${err.toExponential(2)} of the largest entry; the heavy column's own entry off by ${(100 * own).toFixed(1)}%`);
    expect(err).toBeLessThan(1e-3);
    expect(own).toBeLessThan(0.25);
  });

  it('over the budget: only Σσ′ is exchanged and the blocks are the constant-weight approximation', () => {
    const d = pair(3000, false);
    const m = 2048;
    const f = federated(d, m, 1);
    const exact = plainHessian(d.guest, d.host, d.a, d.u, m);
    // Σσ′/m is exact (the guest's intercept entry); every other entry is (Σσ′/m)·(XᵀX)/m.
    expect(Math.abs(f.h[0]! - exact[0]!)).toBeLessThan(1e-4);
    const mean = f.h[0]!;
    for (let k = 0; k < f.h.length; k++) expect(Math.abs(f.h[k]! - (mean * f.gram[k]!) / m)).toBeLessThan(1e-9 + 1e-9 * Math.abs(f.h[k]!));
    // Nothing but the Σσ′ column went either way.
    expect(f.gs.columns).toEqual([0, 0, 1]);
    expect(f.hs.columns).toEqual([0, 0, 1]);
  });
});
