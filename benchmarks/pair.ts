/**
 * What the vfl and scorecard benchmarks share: load a vertical pair, run PSI, align both tables to
 * the intersection and split it into train and test by the seed (both parties can compute the same
 * split from the sorted intersection and the job's seed).
 */
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { alignTo, seededSplit } from '../engine/align.ts';
import { loadCsv } from '../engine/csv.ts';
import { cryptoRng } from '../engine/rng.ts';
import { applyStandardizer, fitStandardizer } from '../engine/standardize.ts';
import { applyLrPreparation, fitLrPreparation } from '../engine/impute.ts';
import { selectRows, type PartyTable } from '../engine/table.ts';
import { BlindingPool } from '../protocols/psi/pool.ts';
import { psiInMemory } from '../protocols/psi/run.ts';

export interface PairOptions {
  guest: string;
  host: string;
  id: string;
  label: string;
  seed: string;
  testFraction: number;
  log?: (line: string) => void;
}

export interface SplitPair {
  rows: { guest: number; host: number };
  intersection: number;
  psi: { seconds: number; bytesSent: number };
  guest: { train: PartyTable; test: PartyTable };
  host: { train: PartyTable; test: PartyTable };
}

export async function loadSplitPair(o: PairOptions): Promise<SplitPair> {
  const log = o.log ?? (() => {});
  const guest = loadCsv(o.guest, { idColumn: o.id, labelColumn: o.label });
  const host = loadCsv(o.host, { idColumn: o.id, exclude: [o.label] });
  log(`loaded guest ${guest.ids.length}×${guest.features.length}, host ${host.ids.length}×${host.features.length}`);
  return splitPair(guest, host, o.seed, o.testFraction, log);
}

/** PSI between two loaded tables, then the seeded split of the intersection. */
export async function splitPair(guest: PartyTable, host: PartyTable, seed: string, testFraction: number, log: (line: string) => void = () => {}): Promise<SplitPair> {
  const pool = new BlindingPool();
  const t0 = performance.now();
  const psi = await psiInMemory(`bench-${seed}`, guest.ids, host.ids, pool, { guest: cryptoRng, host: cryptoRng });
  await pool.close();
  const seconds = (performance.now() - t0) / 1000;
  const ids = psi.guest.intersection!;
  log(`PSI: ${ids.length} common ids in ${seconds.toFixed(2)} s`);
  const g = alignTo(guest, ids);
  const h = alignTo(host, ids);
  const split = seededSplit(ids.length, testFraction, seed);
  return {
    rows: { guest: guest.ids.length, host: host.ids.length },
    intersection: ids.length,
    psi: { seconds, bytesSent: psi.transport.totalBytes() },
    guest: { train: selectRows(g, split.train), test: selectRows(g, split.test) },
    host: { train: selectRows(h, split.train), test: selectRows(h, split.test) },
  };
}

export function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface ScoreColumns {
  ids: readonly string[];
  cols: readonly ArrayLike<number | string>[];
}

/** Write `id,set,<columns…>` rows for the train then test rows. */
export function writeScores(path: string, header: readonly string[], train: ScoreColumns, test: ScoreColumns): void {
  const lines = [['id', 'set', ...header].join(',')];
  for (const [set, part] of [['train', train], ['test', test]] as const) {
    part.ids.forEach((id, i) => lines.push([csvField(id), set, ...part.cols.map((c) => csvField(String(c[i])))].join(',')));
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

/** z-scored feature columns, the scaler fitted on the training rows (the raw-feature LR's input). */
export function standardizedSide(t: { train: PartyTable; test: PartyTable }) {
  const s = fitStandardizer(t.train.features);
  return { train: applyStandardizer(s, t.train.features), test: applyStandardizer(s, t.test.features), trainTable: t.train, testTable: t.test };
}

/**
 * The LR pipeline's local preprocessing of one party's columns (README "Missing values"): impute
 * with the training rows' observed means, append a `<feature>_missing` indicator for each feature
 * with a missing training value, then z-score everything with training statistics.
 */
export function preparedSide(t: { train: PartyTable; test: PartyTable }) {
  const { prep, train } = fitLrPreparation(t.train.features, t.train.featureNames);
  return { train, test: applyLrPreparation(prep, t.test.features), names: [...prep.names], trainTable: t.train, testTable: t.test };
}
