/**
 * The malicious host's indicator columns, shared by the two- and three-party attacks
 * (tests/attacks/two-party-indicator-host.test.ts, three-party-indicator-host.test.ts): the host
 * declares "features" x_l = e_{i_l} (1 at target row i_l, 0 elsewhere), so its gradient
 * coordinate l is row i_l's residual, and reads each target's label from the sign of what it
 * gets back for that column.
 */
import { loadCsv } from '../../engine/csv.ts';
import { applyStandardizer, fitStandardizer } from '../../engine/standardize.ts';

/** A FATE example file under tests/data/fate. */
export const fateData = (f: string): string => new URL(`../data/fate/${f}`, import.meta.url).pathname;

/** Columns z-scored on their own rows. */
export const zscore = (cols: readonly Float64Array[]): Float64Array[] => applyStandardizer(fitStandardizer([...cols]), [...cols]);

export interface IndicatorAttack {
  /** The guest's labels (the attack's ground truth; the host never sees them). */
  readonly y: Uint8Array;
  /** Rows the host wants the labels of. */
  readonly targets: readonly number[];
  /** x_l = e_{targets[l]}, one column per target. */
  readonly indicators: Float64Array[];
  /** Targets of the larger class: what guessing one label for all would get right. */
  readonly majority: number;
  /** How many targets' labels `positive(l)` (the host's guess "target l has label 1") gets right. */
  hits(positive: (l: number) => boolean): number;
}

export function indicatorAttack(y: Uint8Array, targets: readonly number[]): IndicatorAttack {
  const indicators = targets.map((i) => {
    const c = new Float64Array(y.length);
    c[i] = 1;
    return c;
  });
  const majority = Math.max(...[0, 1].map((c) => targets.filter((i) => y[i] === c).length));
  return { y, targets, indicators, majority, hits: (positive) => targets.filter((i, l) => positive(l) === (y[i] === 1)).length };
}

/** The breast guest (z-scored features and labels) and `q` indicator targets, every 7th row. */
export function breastIndicatorAttack(q = 40): IndicatorAttack & { guestCols: Float64Array[] } {
  const guestT = loadCsv(fateData('breast_hetero_guest.csv'), { idColumn: 'id', labelColumn: 'y' });
  const attack = indicatorAttack(guestT.label!, Array.from({ length: q }, (_, l) => l * 7));
  return { ...attack, guestCols: zscore(guestT.features) };
}
