/**
 * Missing values for the logistic-regression pipeline, applied by each party to its own columns
 * before z-scoring (engine/standardize.ts). The rule, exactly (README "Missing values"):
 *
 * 1. For each feature, the training mean is the mean of its OBSERVED (non-missing) values over the
 *    training rows. A missing value (NaN, an empty CSV cell) in any row, training or scored, is
 *    replaced by that mean.
 * 2. For each feature with at least one missing value among the training rows, a column
 *    `<feature>_missing` is appended after all features, in feature order: 1 where the value was
 *    missing, 0 where it was observed. Features with no missing training value get no indicator,
 *    even if values are missing at scoring time.
 * 3. Every column, indicators included, is then z-scored with the training rows' mean and standard
 *    deviation (sample, n − 1 in the denominator; engine/table.ts columnStats) as
 *    engine/standardize.ts does.
 *
 * A feature with no observed training value would be constant after step 1: it is refused by the
 * training checks (models/refusals.ts, VFL_CONSTANT_FEATURE). The scorecard does not use this: it
 * bins raw values and keeps missing as its own bin (models/binning.ts).
 */
import { applyStandardizer, fitStandardizer, type Standardizer } from './standardize.ts';

export interface Imputer {
  /** Observed-value mean of each feature over the training rows (NaN when none was observed). */
  readonly mean: Float64Array;
  /** Indices of the features that get a `<feature>_missing` column, in order. */
  readonly indicators: readonly number[];
}

export function fitImputer(cols: readonly Float64Array[]): Imputer {
  const mean = new Float64Array(cols.length);
  const indicators: number[] = [];
  cols.forEach((c, j) => {
    let s = 0;
    let k = 0;
    for (let i = 0; i < c.length; i++) {
      const v = c[i]!;
      if (Number.isNaN(v)) continue;
      s += v;
      k++;
    }
    mean[j] = k > 0 ? s / k : Number.NaN;
    if (k < c.length) indicators.push(j);
  });
  return { mean, indicators };
}

/** Imputed columns followed by the indicator columns; `names` likewise. */
export function applyImputer(imp: Imputer, cols: readonly Float64Array[], names: readonly string[]): { cols: Float64Array[]; names: string[] } {
  const out = cols.map((c, j) => {
    const m = imp.mean[j]!;
    return Float64Array.from(c, (v) => (Number.isNaN(v) ? m : v));
  });
  const flags = imp.indicators.map((j) => Float64Array.from(cols[j]!, (v) => (Number.isNaN(v) ? 1 : 0)));
  return { cols: [...out, ...flags], names: [...names, ...imp.indicators.map((j) => `${names[j]}_missing`)] };
}

/**
 * The whole per-party preparation of the LR pipeline (the rule above, then z-scores): fitted on
 * the training rows, kept with the model (`toJSON`) and applied unchanged to every later row.
 */
export interface LrPreparation {
  readonly imputer: Imputer;
  readonly standardizer: Standardizer;
  /** The columns the model's weights refer to: the features, then their `<feature>_missing` indicators. */
  readonly names: readonly string[];
}

export function fitLrPreparation(train: readonly Float64Array[], names: readonly string[]): { prep: LrPreparation; train: Float64Array[] } {
  const imputer = fitImputer(train);
  const imputed = applyImputer(imputer, train, names);
  const standardizer = fitStandardizer(imputed.cols);
  return { prep: { imputer, standardizer, names: imputed.names }, train: applyStandardizer(standardizer, imputed.cols) };
}

/** Raw feature columns (in the training order) → the model's columns, with the stored statistics. */
export function applyLrPreparation(prep: LrPreparation, cols: readonly Float64Array[]): Float64Array[] {
  const featureNames = prep.names.slice(0, prep.imputer.mean.length);
  return applyStandardizer(prep.standardizer, applyImputer(prep.imputer, cols, featureNames).cols);
}

/** The stored form (plain JSON arrays): observed means, indicator features, z-score centre and scale, column names. */
export interface LrPreparationJson {
  mean: number[];
  indicators: number[];
  centre: number[];
  scale: number[];
  names: string[];
}

export function lrPreparationJson(prep: LrPreparation): LrPreparationJson {
  return { mean: Array.from(prep.imputer.mean), indicators: [...prep.imputer.indicators], centre: Array.from(prep.standardizer.mean), scale: Array.from(prep.standardizer.std), names: [...prep.names] };
}

export function lrPreparationFromJson(j: LrPreparationJson): LrPreparation {
  return { imputer: { mean: Float64Array.from(j.mean), indicators: j.indicators }, standardizer: { mean: Float64Array.from(j.centre), std: Float64Array.from(j.scale) }, names: j.names };
}
