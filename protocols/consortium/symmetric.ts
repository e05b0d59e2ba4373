/** Symmetric matrices as their upper triangles, for secure sums of Hessians and Gram blocks. */

/** Upper triangle (row-major, diagonal included) of a symmetric d×d matrix, and back. */
export function upper(h: Float64Array, d: number): Float64Array {
  const out = new Float64Array((d * (d + 1)) / 2);
  let k = 0;
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) out[k++] = h[i * d + j]!;
  return out;
}

export function full(u: Float64Array, d: number): Float64Array {
  const h = new Float64Array(d * d);
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      h[i * d + j] = u[k]!;
      h[j * d + i] = u[k]!;
      k++;
    }
  }
  return h;
}
