/**
 * After PSI: put a party's rows in the intersection's order, then split train/test with a seed both
 * parties share, so that row i means the same enterprise on both sides.
 */
import { IndomainError } from './errors.ts';
import { permutation, seededRng } from './rng.ts';
import { selectRows, type PartyTable } from './table.ts';

/** The table's rows for `ids`, in that order. Every id must be present. */
export function alignTo(t: PartyTable, ids: readonly string[]): PartyTable {
  const at = new Map<string, number>();
  t.ids.forEach((id, i) => at.set(id, i));
  const index = new Uint32Array(ids.length);
  ids.forEach((id, i) => {
    const r = at.get(id);
    // Position only: the id is a data value, and this error may be reported to another party.
    if (r === undefined) throw new IndomainError('VFL_ROW_MISMATCH', `id ${i + 1} of ${ids.length} to align is not in the table`);
    index[i] = r;
  });
  return selectRows(t, index);
}

export interface Split {
  /** Row positions in the aligned order, train rows in seeded random order. */
  train: Uint32Array;
  test: Uint32Array;
}

/** A seeded random split: the same seed and row count give the same split on every party. */
export function seededSplit(rows: number, testFraction: number, seed: string | number): Split {
  if (!(testFraction >= 0 && testFraction < 1)) throw new IndomainError('CLI_BAD_ARGS', `test fraction ${testFraction} not in [0, 1)`);
  const p = permutation(rows, seededRng(`split:${seed}`));
  const nTest = Math.round(rows * testFraction);
  return { test: p.slice(0, nTest), train: p.slice(nTest) };
}
