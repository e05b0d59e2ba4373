/**
 * A party's deployed part of an `lr` model, as its node scores with it: the stored weights and
 * preparation (server/jobs/lr-artifacts.ts) compiled for the scoring kernel (engine/scoring.ts),
 * which imputes, adds the `<feature>_missing` indicators and z-scores the party's raw columns with
 * its own training statistics. The bank's part holds the intercept; the platform's gives its
 * partial logit. Each node applies its own preparation to its own columns only.
 */
import { IndomainError } from '../../engine/errors.ts';
import { lrPreparationFromJson, type LrPreparationJson } from '../../engine/impute.ts';
import { compileLr, type CompiledLr } from '../../engine/scoring.ts';
import type { PartyTable } from '../../engine/table.ts';
import { lrPart } from '../../models/export/lr.ts';
import type { NodeStore } from '../store/node-store.ts';

/** What each party of an `lr` job stores as its model (the guest's weights start with the intercept). */
export interface StoredLr {
  readonly weights: number[];
  readonly preparation: LrPreparationJson;
  readonly testAuc?: number;
  readonly testKs?: number;
}

/** The stored part of `role` for `model`, or SC_UNKNOWN_MODEL. */
export function storedLr(store: NodeStore, model: string, role: 'guest' | 'host'): StoredLr {
  const m = store.model(model, role) as Partial<StoredLr> | undefined;
  if (!m?.preparation || !m.weights) throw new IndomainError('SC_UNKNOWN_MODEL', `"${model}"`, { field: 'model' });
  return m as StoredLr;
}

/** The party's part in kernel form. */
export function compiledLr(model: string, role: 'guest' | 'host', stored: StoredLr): CompiledLr {
  const p = lrPart(model, role, stored);
  return compileLr(lrPreparationFromJson(p.preparation), p.weights, p.intercept);
}

/** The table's columns in the part's feature order; a feature the table lacks is SC_UNKNOWN_FEATURE naming it. */
export function partColumns(k: CompiledLr, t: PartyTable): Float64Array[] {
  return k.fields.map((f) => {
    const j = t.featureNames.indexOf(f);
    if (j < 0) throw new IndomainError('SC_UNKNOWN_FEATURE', 'a feature of the model is not a column of the dataset', { field: f });
    return t.features[j]!;
  });
}
