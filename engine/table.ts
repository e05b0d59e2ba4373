/**
 * A party's data set in columnar form: one id per row, an optional 0/1 label, and one
 * Float64Array per numeric feature (NaN marks a missing value).
 *
 * Columnar typed arrays are the engine's only row representation: no per-row objects exist in
 * training or scoring loops.
 */

export interface PartyTable {
  /** Where the rows came from (a file path or a caller-given name), for error messages and audit. */
  readonly source: string;
  readonly idColumn: string;
  readonly ids: readonly string[];
  readonly labelColumn?: string;
  /** 0/1 per row, present only for the label holder. */
  readonly label?: Uint8Array;
  readonly featureNames: readonly string[];
  /** features[j][i] is feature j of row i; NaN is missing. */
  readonly features: readonly Float64Array[];
}

export function rowCount(t: PartyTable): number {
  return t.ids.length;
}

/** The rows at `index` (in that order), as a new table. */
export function selectRows(t: PartyTable, index: ArrayLike<number>): PartyTable {
  const n = index.length;
  const ids = new Array<string>(n);
  for (let i = 0; i < n; i++) ids[i] = t.ids[index[i]!]!;
  const features = t.features.map((col) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = col[index[i]!]!;
    return out;
  });
  let label: Uint8Array | undefined;
  if (t.label) {
    const src = t.label;
    label = new Uint8Array(n);
    for (let i = 0; i < n; i++) label[i] = src[index[i]!]!;
  }
  return { ...t, ids, features, ...(label ? { label } : {}) };
}

/** Per-feature mean and standard deviation over non-missing values. */
export function columnStats(col: Float64Array): { mean: number; std: number; missing: number } {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < col.length; i++) {
    const v = col[i]!;
    if (Number.isNaN(v)) continue;
    n++;
    sum += v;
    sq += v * v;
  }
  const mean = n > 0 ? sum / n : 0;
  const variance = n > 1 ? Math.max(0, (sq - n * mean * mean) / (n - 1)) : 0;
  return { mean, std: Math.sqrt(variance), missing: col.length - n };
}
