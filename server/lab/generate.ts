/**
 * The lab's data: a platform with N enterprises (valid USCC ids, the platform features the
 * product brief lists, realistic missing values) and B banks, each with a loan sample overlapping
 * the platform's enterprises by about 90%, its own features, and a 12-month default label.
 *
 * Seeded and reproducible. One latent risk z per enterprise drives both sides: platform records
 * (social insurance arrears, lawsuits, tax grade, utilities arrears…) reveal part of it, the bank's
 * own data (internal rating, turnover, overdue history) another part, so a joint model clearly
 * beats the bank's own.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gaussian, permutation, seededRng, type Rng } from '../../engine/rng.ts';
import { USCC_ALPHABET, withUsccCheck } from '../../engine/uscc.ts';
import { csvRows } from '../../engine/csv.ts';

export interface LabOptions {
  readonly enterprises: number;
  readonly banks: number;
  readonly loans: number;
  /** Share of each bank's loans whose enterprise is on the platform. */
  readonly overlap: number;
  readonly seed: string;
}

export const DEFAULT_LAB: LabOptions = { enterprises: 50_000, banks: 2, loans: 10_000, overlap: 0.9, seed: '42' };

/** Qingdao's district and county-level-city codes (GB/T 2260). */
const DISTRICTS = ['370202', '370203', '370211', '370212', '370213', '370214', '370215', '370281', '370283', '370285'];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

/** A USCC from an 8-character organisation-code body: GB 11714 check digit, then GB 32100's. */
function usccOf(type: string, district: string, body: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const c = body[i]!;
    sum += (c >= '0' && c <= '9' ? Number(c) : c.charCodeAt(0) - 55) * ORG_WEIGHTS[i]!;
  }
  const check = 11 - (sum % 11);
  const cc = check === 10 ? 'X' : check === 11 ? '0' : String(check);
  return withUsccCheck(`9${type}${district}${body}${cc}`);
}

/** A random USCC: registration authority 9 (market regulation), entity type, district, organisation code. */
function uscc(rng: Rng, type: '1' | '2' | '3', district: string): string {
  let body = '';
  // Organisation codes use digits and letters; keep to letters the USCC alphabet has.
  for (let i = 0; i < 8; i++) body += USCC_ALPHABET[Math.floor(rng.next() * (i === 0 ? 10 : USCC_ALPHABET.length))]!;
  return usccOf(type, district, body);
}

/** A valid USCC standing for a numeric id (test data keyed by numbers, e.g. FATE's). */
export function usccFromNumber(n: number): string {
  return usccOf('1', '370202', String(n).padStart(8, '0'));
}

const poisson = (rng: Rng, lambda: number): number => {
  const l = Math.exp(-Math.min(lambda, 50));
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rng.next();
  } while (p > l);
  return k - 1;
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export const PLATFORM_FEATURES = [
  'reg_age_years',
  'reg_capital_10k',
  'industry',
  'district',
  'entity_type',
  'si_headcount',
  'si_headcount_change_q',
  'si_arrears_months',
  'hpf_monthly_contribution',
  'tax_grade',
  'tax_paid_12m_10k',
  'tax_arrears_10k',
  'elec_account_age_months',
  'elec_capacity_kva',
  'elec_arrears_months',
  'utility_violations_2y',
  'lawsuits_defendant_2y',
  'enforcement_cases',
  'dishonest_debtor',
  'admin_penalties_2y',
  'abnormal_operation',
  'procurement_wins_2y',
  'public_credit_grade',
] as const;

/** Platform features that are categories (codes), for binning. */
export const PLATFORM_CATEGORICAL = ['industry', 'district', 'entity_type', 'tax_grade', 'public_credit_grade'];

export const BANK_FEATURES = ['loan_amount_10k', 'term_months', 'internal_rating', 'turnover_12m_10k', 'existing_debt_10k', 'overdue_count_24m'] as const;
export const BANK_CATEGORICAL = ['term_months'];
export const LABEL = 'default_12m';

interface Enterprise {
  id: string;
  z: number;
  size: number;
}

export interface LabData {
  readonly dir: string;
  readonly platform: string;
  readonly banks: readonly string[];
  readonly authorisations: string;
}

function readIds(file: string): string[] {
  return csvRowsOf(file).slice(1).map((r) => r[0]!);
}

export function generateLab(dir: string, o: LabOptions = DEFAULT_LAB): LabData {
  mkdirSync(dir, { recursive: true });
  const rng = seededRng(`lab:${o.seed}`);
  const seen = new Set<string>();
  const makeEnterprise = (): Enterprise => {
    const r = rng.next();
    const type = r < 0.8 ? '1' : r < 0.95 ? '2' : '3';
    let id: string;
    do id = uscc(rng, type, DISTRICTS[Math.floor(rng.next() * DISTRICTS.length)]!);
    while (seen.has(id));
    seen.add(id);
    return { id, z: gaussian(rng), size: gaussian(rng) };
  };
  const ents = Array.from({ length: o.enterprises }, makeEnterprise);

  // Platform: one row per enterprise.
  const rows: string[] = [['id', ...PLATFORM_FEATURES].join(',')];
  const na = (p: number, v: number | string) => (rng.next() < p ? '' : String(v));
  for (const e of ents) {
    const z = e.z;
    const s = e.size;
    const e1 = () => gaussian(rng);
    const age = Math.exp(1.7 - 0.25 * z + 0.2 * s + 0.6 * e1());
    const head = Math.max(0, Math.round(Math.exp(2.2 + 0.9 * s - 0.25 * z + 0.5 * e1())));
    const taxGrade = Math.min(5, Math.max(1, Math.round(2.4 + 0.9 * z + 0.8 * e1()))); // 1 = A … 5 = D
    const row = [
      e.id,
      round(age, 1),
      round(Math.exp(4.5 + 0.8 * s + 0.7 * e1()), 1),
      1 + Math.floor(rng.next() * 8),
      1 + DISTRICTS.indexOf(e.id.slice(2, 8)),
      Number(e.id[1]),
      head,
      na(0.04, round(-0.04 * z + 0.08 * e1(), 3)),
      na(0.02, poisson(rng, Math.exp(-1.6 + 0.9 * z))),
      na(0.3, round(head * Math.exp(-0.6 + 0.2 * s - 0.15 * z + 0.3 * e1()), 1)),
      na(0.05, taxGrade),
      na(0.03, round(Math.exp(2 + 0.9 * s - 0.3 * z + 0.8 * e1()), 1)),
      na(0.03, rng.next() < sigmoid(-2.5 + 1.2 * z) ? round(Math.exp(1 + 0.8 * e1()), 1) : 0),
      na(0.08, Math.round(12 * age * (0.5 + 0.5 * rng.next()))),
      na(0.08, Math.round(Math.exp(3.5 + 0.8 * s + 0.5 * e1()))),
      na(0.08, poisson(rng, Math.exp(-2 + 0.8 * z))),
      na(0.08, poisson(rng, Math.exp(-2.5 + 0.6 * z))),
      poisson(rng, Math.exp(-1.8 + 0.9 * z + 0.2 * s)),
      poisson(rng, Math.exp(-3 + 1.1 * z)),
      rng.next() < sigmoid(-4.6 + 1.5 * z) ? 1 : 0,
      poisson(rng, Math.exp(-2.8 + 0.6 * z)),
      rng.next() < sigmoid(-3.8 + 1.0 * z) ? 1 : 0,
      poisson(rng, Math.exp(-1.5 + 0.5 * s - 0.3 * z)),
      na(0.1, Math.min(4, Math.max(1, Math.round(2 + 0.7 * z + 0.7 * e1())))),
    ];
    rows.push(row.join(','));
  }
  const platform = join(dir, 'platform.csv');
  writeFileSync(platform, rows.join('\n') + '\n');

  // Banks: loans to platform enterprises (overlap) and to enterprises the platform does not have.
  const banks: string[] = [];
  for (let b = 1; b <= o.banks; b++) {
    const br = seededRng(`lab:${o.seed}:bank-${b}`);
    const onPlatform = Math.round(o.loans * o.overlap);
    const picks = Array.from(permutation(ents.length, br).subarray(0, onPlatform), (i) => ents[i]!);
    const outside = Array.from({ length: o.loans - onPlatform }, makeEnterprise);
    const sample = [...picks, ...outside];
    const order = permutation(sample.length, br);
    const lines: string[] = [['id', LABEL, ...BANK_FEATURES].join(',')];
    for (const k of order) {
      const e = sample[k]!;
      const z = e.z;
      const g = () => gaussian(br);
      const turnover = Math.exp(5 + 0.9 * e.size - 0.2 * z + 0.6 * g());
      const amount = Math.exp(4 + 0.6 * e.size + 0.5 * g());
      const debt = amount * Math.exp(-0.5 + 0.4 * z + 0.6 * g());
      const rating = Math.min(8, Math.max(1, Math.round(4.5 + 1.0 * (0.45 * z + 0.9 * g()))));
      const overdue = poisson(br, Math.exp(-1.2 + 0.5 * z));
      const term = [6, 12, 12, 24, 36][Math.floor(br.next() * 5)]!;
      // The 12-month default: the latent risk, leverage and a bank-specific shock.
      const p = sigmoid(-2.6 + 1.25 * z + 0.25 * Math.log(debt / turnover + 0.1) + 0.2 * g());
      const y = br.next() < p ? 1 : 0;
      lines.push([e.id, y, round(amount, 1), term, rating, round(turnover, 1), round(debt, 1), overdue].join(','));
    }
    const file = join(dir, `bank-${b}.csv`);
    writeFileSync(file, lines.join('\n') + '\n');
    banks.push(file);
  }
  // Authorisations: for each bank, its platform enterprises; some missing, expired, revoked, not yet valid.
  const ar = seededRng(`lab:${o.seed}:authz`);
  const day = 86_400_000;
  const today = Date.UTC(2026, 10, 1);
  const iso = (t: number) => new Date(t).toISOString().slice(0, 10);
  const auth: string[] = ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref'];
  const onPlatform = new Set(ents.map((e) => e.id));
  banks.forEach((file, b) => {
    const bank = `bank-${b + 1}`;
    const ids = readIds(file).filter((id) => onPlatform.has(id));
    ids.forEach((id, k) => {
      const r = ar.next();
      if (r < 0.03) return; // no authorisation on file
      const from = today - Math.floor(ar.next() * 700) * day;
      let to = today + (180 + Math.floor(ar.next() * 500)) * day;
      let revoked = '';
      let validFrom = from;
      if (r < 0.05) to = today - (1 + Math.floor(ar.next() * 200)) * day; // expired
      else if (r < 0.07) revoked = iso(today - (1 + Math.floor(ar.next() * 60)) * day); // revoked
      else if (r < 0.08) validFrom = today + 400 * day; // not yet valid
      const ref = `AUTH-${bank.toUpperCase()}-${String(k + 1).padStart(6, '0')}`;
      for (const purpose of ['modelling', 'pre-loan', 'post-loan']) auth.push([id, bank, purpose, iso(validFrom), iso(Math.max(to, validFrom)), revoked, ref].join(','));
    });
  });
  writeFileSync(join(dir, 'authorisations.csv'), auth.join('\n') + '\n');

  writeFileSync(
    join(dir, 'README.md'),
    `# Lab data (generated)\n\nSeed \`${o.seed}\`: ${o.enterprises} platform enterprises, ${o.banks} banks × ${o.loans} loans, ` +
      `${Math.round(o.overlap * 100)}% of each bank's loans to platform enterprises. Synthetic: generated by server/lab/generate.ts; ` +
      `ids are valid Unified Social Credit Codes of no real enterprise.\n`,
  );
  return { dir, platform, banks, authorisations: join(dir, 'authorisations.csv') };
}

/**
 * Twelve months on: the platform's refreshed data and each bank's book. About 4% of enterprises
 * deteriorate: new dishonest-debtor listings and enforcement cases, social insurance arrears and
 * lawsuits on the platform; worse internal ratings and new overdue records at the banks. The rest
 * is unchanged. Returns the new files.
 */
export function generateFollowUp(data: LabData, seed: string): { platform: string; books: string[]; deteriorated: Set<string> } {
  const rng = seededRng(`lab:${seed}:t1`);
  const rows = csvRowsOf(data.platform);
  const head = rows[0]!;
  const col = (name: string) => head.indexOf(name);
  const deteriorated = new Set<string>();
  const bump = (r: string[], name: string, by: number) => {
    const j = col(name);
    if (j >= 0) r[j] = String((r[j] === '' ? 0 : Number(r[j])) + by);
  };
  for (const r of rows.slice(1)) {
    if (rng.next() >= 0.04) continue;
    deteriorated.add(r[0]!);
    if (r[col('dishonest_debtor')] === '0' && rng.next() < 0.5) r[col('dishonest_debtor')] = '1';
    bump(r, 'enforcement_cases', 1 + Math.floor(rng.next() * 2));
    bump(r, 'si_arrears_months', 2 + Math.floor(rng.next() * 4));
    bump(r, 'lawsuits_defendant_2y', 1);
    if (r[col('tax_grade')] !== '') r[col('tax_grade')] = String(Math.min(5, Number(r[col('tax_grade')]) + 2));
  }
  const platform = join(data.dir, 'platform-t1.csv');
  writeFileSync(platform, rows.map((r) => r.join(',')).join('\n') + '\n');
  const books = data.banks.map((file, b) => {
    const br = seededRng(`lab:${seed}:t1:bank-${b + 1}`);
    const bank = csvRowsOf(file);
    const h = bank[0]!;
    const rating = h.indexOf('internal_rating');
    const overdue = h.indexOf('overdue_count_24m');
    for (const r of bank.slice(1)) {
      if (!deteriorated.has(r[0]!) && br.next() >= 0.01) continue;
      r[rating] = String(Math.min(8, Number(r[rating]) + 2));
      r[overdue] = String(Number(r[overdue]) + 2 + Math.floor(br.next() * 3));
    }
    const out = join(data.dir, `bank-${b + 1}-book-t1.csv`);
    writeFileSync(out, bank.map((r) => r.join(',')).join('\n') + '\n');
    return out;
  });
  return { platform, books, deteriorated };
}

function csvRowsOf(file: string): string[][] {
  return csvRows(readFileSync(file, 'utf8'), file);
}
