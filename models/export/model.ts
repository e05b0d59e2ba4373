/**
 * The exported scorecard: what a bank's validation unit and scoring systems receive. Field names
 * are `guest_<csv column>` and `host_<csv column>`; under the platform's `partial` policy the
 * platform's characteristics are replaced by one input field, `host_partial_score`.
 */
import type { BinSpec } from '../binning.ts';
import type { Scaling } from '../scorecard.ts';

export interface ExportCharacteristic {
  /** Input field name, `guest_<column>` or `host_<column>`. */
  readonly field: string;
  readonly party: 'guest' | 'host';
  readonly spec: Omit<BinSpec, 'feature'>;
  readonly binLabels: readonly string[];
  readonly woe: readonly number[];
  readonly coefficient: number;
  readonly points: readonly number[];
}

export interface ScorecardModel {
  readonly name: string;
  readonly scaling: Scaling;
  readonly policy: 'full' | 'partial';
  readonly intercept: number;
  readonly basePoints: number;
  readonly characteristics: readonly ExportCharacteristic[];
  /** Under `partial`: the platform's partial score as one input, with its possible range. */
  readonly hostPartial: { readonly field: string; readonly maxPoints: number; readonly minPoints: number } | null;
  readonly reasonCodes: number;
}

export const HOST_PARTIAL_FIELD = 'host_partial_score';

/** Bin of one value under a spec (NaN is missing): the rule of models/binning.ts. */
export { binOf } from '../binning.ts';
