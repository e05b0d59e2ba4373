// The scoring kernels, in plain JavaScript so that the main thread and the worker threads run the
// very same code (engine/scoring.ts re-exports them with types; engine/scoring-worker.mjs runs them).
//
// Scorecard: every feature has up to 8 ascending cut points, padded with +Infinity, and 10 points
// slots: value bins 0..8 (bin = number of cuts ≤ x) and slot 9 for a missing value (NaN).
// LR: one party's raw columns through its stored preparation (impute, indicators, z-scores) into
// its partial logit.

export const MAX_CUTS = 8;
export const SLOTS = MAX_CUTS + 2;

/**
 * Integer points of rows [start, end): out[i] = base + Σ_j points[j·10 + bin_j(x_j[i])].
 * cols: one Float64Array per feature; cuts: Float64Array(features·8); points: Int32Array(features·10).
 */
export function scorecardPoints(cols, cuts, points, base, out, start, end) {
  for (let i = start; i < end; i++) out[i] = base;
  const f = cols.length;
  for (let j = 0; j < f; j++) {
    const x = cols[j];
    const o = j * MAX_CUTS;
    const c0 = cuts[o], c1 = cuts[o + 1], c2 = cuts[o + 2], c3 = cuts[o + 3];
    const c4 = cuts[o + 4], c5 = cuts[o + 5], c6 = cuts[o + 6], c7 = cuts[o + 7];
    const p = j * SLOTS;
    const missing = points[p + SLOTS - 1];
    for (let i = start; i < end; i++) {
      const v = x[i];
      if (v !== v) {
        out[i] += missing;
        continue;
      }
      // Branch-free: comparisons are unpredictable, additions are not.
      const b = (v >= c0 ? 1 : 0) + (v >= c1 ? 1 : 0) + (v >= c2 ? 1 : 0) + (v >= c3 ? 1 : 0) + (v >= c4 ? 1 : 0) + (v >= c5 ? 1 : 0) + (v >= c6 ? 1 : 0) + (v >= c7 ? 1 : 0);
      out[i] += points[p + b];
    }
  }
}

/**
 * Partial logits of rows [start, end) under one party's LR preparation (engine/impute.ts, README
 * "Missing values"): for feature j, v = x_j if observed, else the training mean m_j, and its term is
 * w_j·((v − c_j)/s_j); for the k-th indicator (of feature f_k) the term is
 * w_{F+k}·((1[x_{f_k} missing] − c_{F+k})/s_{F+k}). out[i] = intercept + the terms, in column order,
 * which is the order of applyLrPreparation's columns.
 * k: { mean, centre, scale, weights: Float64Array; indicators: Int32Array; intercept: number }.
 */
export function lrLogits(cols, k, out, start, end) {
  const { mean, centre, scale, weights, indicators } = k;
  for (let i = start; i < end; i++) out[i] = k.intercept;
  const f = cols.length;
  for (let j = 0; j < f; j++) {
    const x = cols[j];
    const m = mean[j], c = centre[j], s = scale[j], w = weights[j];
    for (let i = start; i < end; i++) {
      const v = x[i];
      out[i] += w * (((v === v ? v : m) - c) / s);
    }
  }
  for (let q = 0; q < indicators.length; q++) {
    const x = cols[indicators[q]];
    const c = centre[f + q], s = scale[f + q], w = weights[f + q];
    const seen = w * ((0 - c) / s);
    const missing = w * ((1 - c) / s);
    for (let i = start; i < end; i++) {
      const v = x[i];
      out[i] += v === v ? seen : missing;
    }
  }
}

