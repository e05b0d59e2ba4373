/**
 * Hot-path kernels over columnar features (one Float64Array per column, n rows each).
 * Plain typed-array loops, unrolled by column so the inner loop is a contiguous stream.
 */

/** out[i] = Σ_j w[j] · cols[j][i] (+ bias). */
export function linearPredictor(cols: readonly Float64Array[], w: ArrayLike<number>, n: number, bias = 0): Float64Array {
  const out = new Float64Array(n).fill(bias);
  for (let j = 0; j < cols.length; j++) {
    const c = cols[j]!;
    const wj = w[j]!;
    if (wj === 0) continue;
    for (let i = 0; i < n; i++) out[i] += wj * c[i]!;
  }
  return out;
}

/** g[j] = Σ_i cols[j][i] · d[i]. */
export function transposeTimes(cols: readonly Float64Array[], d: Float64Array): Float64Array {
  const g = new Float64Array(cols.length);
  for (let j = 0; j < cols.length; j++) {
    const c = cols[j]!;
    let s = 0;
    for (let i = 0; i < d.length; i++) s += c[i]! * d[i]!;
    g[j] = s;
  }
  return g;
}

/** Row-major Gram matrix G[j][k] = Σ_i weight[i] · a[j][i] · b[k][i] (weight optional). */
export function crossGram(a: readonly Float64Array[], b: readonly Float64Array[], weight?: Float64Array): Float64Array {
  const p = a.length;
  const q = b.length;
  const out = new Float64Array(p * q);
  const n = a[0]?.length ?? b[0]?.length ?? 0;
  const tmp = new Float64Array(n);
  for (let j = 0; j < p; j++) {
    const aj = a[j]!;
    if (weight) for (let i = 0; i < n; i++) tmp[i] = aj[i]! * weight[i]!;
    else tmp.set(aj);
    for (let k = 0; k < q; k++) {
      const bk = b[k]!;
      let s = 0;
      for (let i = 0; i < n; i++) s += tmp[i]! * bk[i]!;
      out[j * q + k] = s;
    }
  }
  return out;
}

/** A column of ones, for the intercept. */
export function ones(n: number): Float64Array {
  return new Float64Array(n).fill(1);
}
