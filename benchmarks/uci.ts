/**
 * The raw UCI "default of credit card clients" file (tests/data/uci/UCI_Credit_Card.csv, amounts
 * unscaled, PAY_* with their special codes −2 and −1) split vertically as FATE splits its
 * standardised copy: the bank (guest) holds PAY_6, BILL_AMT1–6, PAY_AMT1–6 and the label; the
 * platform (host) holds LIMIT_BAL, SEX, EDUCATION, MARRIAGE, AGE, PAY_0, PAY_2–PAY_5. Optionally a
 * seeded share of one platform column is blanked (missing), to exercise the imputation rule.
 */
import { loadCsv } from '../engine/csv.ts';
import { IndomainError } from '../engine/errors.ts';
import { seededRng } from '../engine/rng.ts';
import type { PartyTable } from '../engine/table.ts';

export const UCI_GUEST = ['PAY_6', 'BILL_AMT1', 'BILL_AMT2', 'BILL_AMT3', 'BILL_AMT4', 'BILL_AMT5', 'BILL_AMT6', 'PAY_AMT1', 'PAY_AMT2', 'PAY_AMT3', 'PAY_AMT4', 'PAY_AMT5', 'PAY_AMT6'];
export const UCI_HOST = ['LIMIT_BAL', 'SEX', 'EDUCATION', 'MARRIAGE', 'AGE', 'PAY_0', 'PAY_2', 'PAY_3', 'PAY_4', 'PAY_5'];

export interface UciOptions {
  /** A host column and the share of its rows to blank, e.g. { column: 'LIMIT_BAL', fraction: 0.2 }. */
  missing?: { column: string; fraction: number };
  seed?: string;
}

export function uciPair(path: string, o: UciOptions = {}): { guest: PartyTable; host: PartyTable } {
  const all = loadCsv(path, { idColumn: 'ID', labelColumn: 'default.payment.next.month' });
  const pick = (names: readonly string[], withLabel: boolean): PartyTable => {
    const features = names.map((n) => {
      const j = all.featureNames.indexOf(n);
      if (j < 0) throw new IndomainError('CLI_BAD_ARGS', `column "${n}" is not in the file: not the UCI file`, { file: path, field: n });
      return Float64Array.from(all.features[j]!);
    });
    return { source: path, idColumn: all.idColumn, ids: all.ids, featureNames: [...names], features, ...(withLabel ? { labelColumn: all.labelColumn!, label: all.label! } : {}) };
  };
  const guest = pick(UCI_GUEST, true);
  const host = pick(UCI_HOST, false);
  if (o.missing) {
    const j = UCI_HOST.indexOf(o.missing.column);
    if (j < 0) throw new IndomainError('CLI_BAD_ARGS', `--missing: "${o.missing.column}" is not a platform column (${UCI_HOST.join(', ')})`);
    const r = seededRng(`uci-missing:${o.seed ?? '42'}`);
    const col = host.features[j]!;
    for (let i = 0; i < col.length; i++) if (r.next() < o.missing.fraction) col[i] = Number.NaN;
  }
  return { guest, host };
}
