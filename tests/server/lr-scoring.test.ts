/**
 * Scoring an `lr` model on real nodes (createNode, 127.0.0.1), every path a bank uses, on raw UCI
 * rows (amounts unscaled, PAY_* special codes) with missing values injected on both sides (20% of
 * the platform's LIMIT_BAL, 10% of the bank's BILL_AMT1). A validator holding both raw files and
 * the two stored parts (weights and preparation) computes each enterprise's probability in
 * process; online scoring over HTTP, batch scoring of a book, the bank's exported PMML and SQL fed
 * with the platform's exported part, all give it to 1e-9, also for values missing only at scoring
 * time (the bank's PAY_AMT1 left out, the platform's AGE blanked after training). Bad input is
 * refused with a code that names the field.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvRows, loadCsv } from '../../engine/csv.ts';
import { applyLrPreparation, lrPreparationFromJson } from '../../engine/impute.ts';
import { seededRng } from '../../engine/rng.ts';
import type { PartyTable } from '../../engine/table.ts';
import { HOST_PARTIAL_LOGIT } from '../../models/export/lr.ts';
import { sigmoid } from '../../models/logistic.ts';
import { usccFromNumber } from '../../server/lab/generate.ts';
import type { StoredLr } from '../../server/scoring/lr-part.ts';
import { TOKEN, TestNodes } from '../helpers/nodes.ts';
import { pmmlRegression } from '../helpers/pmml-eval.ts';

const UCI = new URL('../data/uci/UCI_Credit_Card.csv', import.meta.url).pathname;
const BANK = ['PAY_6', 'BILL_AMT1', 'BILL_AMT2', 'BILL_AMT3', 'BILL_AMT4', 'BILL_AMT5', 'BILL_AMT6', 'PAY_AMT1', 'PAY_AMT2', 'PAY_AMT3', 'PAY_AMT4', 'PAY_AMT5', 'PAY_AMT6'];
const PLATFORM = ['LIMIT_BAL', 'SEX', 'EDUCATION', 'MARRIAGE', 'AGE', 'PAY_0', 'PAY_2', 'PAY_3', 'PAY_4', 'PAY_5'];
const ROWS = 3000;
const UNAUTHORISED = 40;
const JOB = 'lr-uci';

interface Raw {
  ids: string[];
  label: number[];
  /** By column name: the raw values, NaN where blank. */
  cols: Map<string, Float64Array>;
}

/** The first ROWS rows of the raw UCI file with USCC ids, and blanks injected (seeded). */
function rawUci(): Raw {
  const [head, ...lines] = readFileSync(UCI, 'utf8').trimEnd().split(/\r?\n/).slice(0, ROWS + 1);
  const names = head!.split(',').map((h) => h.replace(/"/g, ''));
  const rows = lines.map((l) => l.split(',').map(Number));
  const col = (n: string) => Float64Array.from(rows, (r) => r[names.indexOf(n)]!);
  const cols = new Map([...BANK, ...PLATFORM].map((n) => [n, col(n)]));
  const blank = (n: string, fraction: number, seed: string) => {
    const r = seededRng(seed);
    cols.get(n)!.forEach((_, i, c) => void (r.next() < fraction && (c[i] = Number.NaN)));
  };
  blank('LIMIT_BAL', 0.2, 'lr-scoring-limit');
  blank('BILL_AMT1', 0.1, 'lr-scoring-bill');
  return { ids: rows.map((r) => usccFromNumber(r[0]!)), label: rows.map((r) => r[names.indexOf('default.payment.next.month')]!), cols };
}

function writeCsv(path: string, raw: Raw, names: readonly string[], label: boolean, override?: Map<string, Float64Array>): void {
  const cell = (v: number) => (Number.isNaN(v) ? '' : String(v));
  const lines = raw.ids.map((id, i) => [id, ...(label ? [String(raw.label[i])] : []), ...names.map((n) => cell((override?.get(n) ?? raw.cols.get(n)!)[i]!))].join(','));
  writeFileSync(path, [['id', ...(label ? ['y'] : []), ...names].join(','), ...lines].join('\n') + '\n');
}

describe('lr model scoring: in process, online, batch, PMML and SQL agree', () => {
  let t: TestNodes;
  let raw: Raw;
  let parts: { guest: StoredLr; host: StoredLr };
  /** The validator's reference, per row of the raw data: the bank's and the platform's partial logits. */
  let ref: { bank: Float64Array; platform: Float64Array };

  const stored = (node: string, name: string): StoredLr => {
    const db = new Database(join(t.node(node).dir, 'node.db'), { readonly: true });
    try {
      return JSON.parse((db.prepare('SELECT model FROM models WHERE job = ? AND name = ?').get(JOB, name) as { model: string }).model) as StoredLr;
    } finally {
      db.close();
    }
  };
  /** Partial logits in process: engine/impute.ts applyLrPreparation, then the weights in column order. */
  const partial = (p: StoredLr, intercept: number, weights: readonly number[], cols: Float64Array[]) => {
    const x = applyLrPreparation(lrPreparationFromJson(p.preparation), cols);
    const out = new Float64Array(cols[0]!.length).fill(intercept);
    x.forEach((c, j) => c.forEach((v, i) => (out[i] += weights[j]! * v)));
    return out;
  };
  const bankRef = (cols: Map<string, Float64Array>) => partial(parts.guest, parts.guest.weights[0]!, parts.guest.weights.slice(1), BANK.map((n) => cols.get(n)!));
  const platformRef = (cols: Map<string, Float64Array>) => partial(parts.host, 0, parts.host.weights, PLATFORM.map((n) => cols.get(n)!));
  const features = (i: number) => Object.fromEntries(BANK.map((n) => [n, Number.isNaN(raw.cols.get(n)![i]!) ? null : raw.cols.get(n)![i]!]));
  const score = (id: string, f: Record<string, unknown>) =>
    t.admin<{ probability: number; logit: number; partial: { bank: number; platform: number } }>('bank-a', 'POST', '/v1/score', { model: JOB, id, features: f }).then(
      (s) => ({ ok: true as const, s }),
      (e: { body: { code: string; message: string } }) => ({ ok: false as const, ...e.body }),
    );

  beforeAll(async () => {
    t = await TestNodes.start();
    raw = rawUci();
    writeCsv(join(t.dataRoot, 'uci-bank.csv'), raw, BANK, true);
    writeCsv(join(t.dataRoot, 'uci-platform.csv'), raw, PLATFORM, false);
    const auth = raw.ids.flatMap((id, i) => [`${id},bank-a,modelling,2024-01-01,2030-12-31,,M-${i}`, ...(i < ROWS - UNAUTHORISED ? [`${id},bank-a,pre-loan,2024-01-01,2030-12-31,,P-${i}`] : [])]);
    writeFileSync(join(t.dataRoot, 'auth.csv'), ['uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref', ...auth].join('\n') + '\n');
    await t.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'uci-loans', path: 'uci-bank.csv', idColumn: 'id', labelColumn: 'y', uscc: true });
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'uci-credit', path: 'uci-platform.csv', idColumn: 'id', uscc: true });
    await t.admin('platform', 'POST', '/v1/admin/authorisations/import', { path: 'auth.csv' });
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', { id: JOB, pipeline: 'lr', coordinator: 'coordinator', guest: { node: 'bank-a', dataset: 'uci-loans' }, host: { node: 'platform', dataset: 'uci-credit' }, seed: '7', testFraction: 0.25, training: { lambda: 0.05 } });
    const j = await t.settle(JOB, 900_000);
    expect(j.status, JSON.stringify(j.error)).toBe('completed');
    parts = { guest: stored('bank-a', 'guest'), host: stored('platform', 'host') };
    ref = { bank: bankRef(raw.cols), platform: platformRef(raw.cols) };
  }, 1_000_000);
  afterAll(async () => t?.close());

  it('the stored parts: indicators where training values were missing, each party its own', () => {
    expect(parts.host.preparation.names).toContain('LIMIT_BAL_missing');
    expect(parts.guest.preparation.names).toContain('BILL_AMT1_missing');
    expect(parts.host.preparation.names).not.toContain('AGE_missing');
    expect(parts.guest.preparation.names).not.toContain('PAY_AMT1_missing');
    console.log(`lr-uci: test AUC ${parts.guest.testAuc}; bank columns ${parts.guest.preparation.names.length}, platform ${parts.host.preparation.names.length}`);
    expect(parts.guest.testAuc).toBeGreaterThan(0.65);
  });

  it('online: the in-process probability for each enterprise, raw features with nulls for missing values', async () => {
    let worst = 0;
    let missing = 0;
    for (let i = 0; i < ROWS - UNAUTHORISED; i += 37) {
      const r = await score(raw.ids[i]!, features(i));
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      const want = sigmoid(ref.bank[i]! + ref.platform[i]!);
      worst = Math.max(worst, Math.abs(r.s.probability - want), Math.abs(r.s.partial.bank - ref.bank[i]!), Math.abs(r.s.partial.platform - ref.platform[i]!));
      if (Number.isNaN(raw.cols.get('LIMIT_BAL')![i]!) || Number.isNaN(raw.cols.get('BILL_AMT1')![i]!)) missing++;
    }
    console.log(`online: largest difference from in process ${worst.toExponential(2)}; ${missing} of the enterprises scored had a missing value`);
    expect(missing).toBeGreaterThan(5);
    expect(worst).toBeLessThanOrEqual(1e-9);
  });

  it('online: a bank feature missing only at scoring time (left out, or null) takes its training mean, no indicator', async () => {
    const i = 11;
    const f = features(i);
    delete f.PAY_AMT1;
    const cols = new Map(raw.cols);
    cols.set('PAY_AMT1', Float64Array.from(raw.cols.get('PAY_AMT1')!, (v, k) => (k === i ? Number.NaN : v)));
    const want = sigmoid(bankRef(cols)[i]! + ref.platform[i]!);
    const left = await score(raw.ids[i]!, f);
    const nulled = await score(raw.ids[i]!, { ...f, PAY_AMT1: null });
    expect(left.ok && nulled.ok).toBe(true);
    if (!left.ok || !nulled.ok) return;
    expect(Math.abs(left.s.probability - want)).toBeLessThanOrEqual(1e-9);
    expect(nulled.s.probability).toBe(left.s.probability);
    // Not the observed value's score: the mean stands in for it.
    expect(Math.abs(left.s.partial.bank - ref.bank[i]!)).toBeGreaterThan(1e-6);
  });

  it('refuses an unknown feature and a non-numeric value, naming the field; an unauthorised enterprise gets its code', async () => {
    const f = features(3);
    const unknown = await score(raw.ids[3]!, { ...f, PAY_AMT7: 10 });
    expect(unknown).toMatchObject({ ok: false, code: 'SC_BAD_FEATURE' });
    expect(unknown.ok ? '' : unknown.message).toContain('features/PAY_AMT7');
    const text = await score(raw.ids[3]!, { ...f, BILL_AMT2: '1200' });
    expect(text).toMatchObject({ ok: false, code: 'SRV_BAD_REQUEST' });
    expect(text.ok ? '' : text.message).toContain('features/BILL_AMT2');
    expect(await score(raw.ids[ROWS - 1]!, f)).toMatchObject({ ok: false, code: 'AUTH_NOT_AUTHORISED' });
  });

  it("batch: a book CSV in, the in-process probability of every authorised row out, a coded outcome for the others", async () => {
    // The book: the bank's rows, no label, PAY_AMT1 blank in 5% (never missing in training).
    const r = seededRng('book');
    const pay = Float64Array.from(raw.cols.get('PAY_AMT1')!, (v) => (r.next() < 0.05 ? Number.NaN : v));
    writeCsv(join(t.dataRoot, 'uci-book.csv'), raw, BANK, false, new Map([['PAY_AMT1', pay]]));
    await t.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'uci-book', path: 'uci-book.csv', idColumn: 'id', uscc: true });
    const out = await t.admin<{ rows: number; scored: number; outcomes: Record<string, number>; file: string }>('bank-a', 'POST', '/v1/admin/score-batch', { model: JOB, dataset: 'uci-book', purpose: 'pre-loan' });
    expect(out).toMatchObject({ rows: ROWS, scored: ROWS - UNAUTHORISED, outcomes: { AUTH_NOT_AUTHORISED: UNAUTHORISED } });
    const bank = bankRef(new Map([...raw.cols, ['PAY_AMT1', pay]]));
    const rows = csvRows(readFileSync(out.file, 'utf8'));
    expect(rows[0]).toEqual(['id', 'outcome', 'probability', 'logit', 'bank', 'platform']);
    const at = new Map(raw.ids.map((id, i) => [id, i]));
    let worst = 0;
    for (const x of rows.slice(1)) {
      const i = at.get(x[0]!)!;
      if (x[1] !== 'OK') {
        expect([x[1], i >= ROWS - UNAUTHORISED]).toEqual(['AUTH_NOT_AUTHORISED', true]);
        continue;
      }
      worst = Math.max(worst, Math.abs(Number(x[2]) - sigmoid(bank[i]! + ref.platform[i]!)), Math.abs(Number(x[5]) - ref.platform[i]!));
    }
    console.log(`batch: ${out.scored} rows scored, largest difference from in process ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-9);
  });

  it('batch: a book without one of the model features is refused, naming it', async () => {
    writeCsv(join(t.dataRoot, 'uci-book-short.csv'), raw, BANK.filter((n) => n !== 'BILL_AMT3'), false);
    await t.admin('bank-a', 'POST', '/v1/admin/datasets', { name: 'uci-book-short', path: 'uci-book-short.csv', idColumn: 'id', uscc: true });
    const e = await t.admin('bank-a', 'POST', '/v1/admin/score-batch', { model: JOB, dataset: 'uci-book-short' }).catch((x: { body: { code: string; message: string } }) => x.body);
    expect(e).toMatchObject({ code: 'SC_UNKNOWN_FEATURE', message: expect.stringContaining('BILL_AMT3') });
  });

  it("exports: the bank's PMML and SQL (downloaded) fed with the platform's part (its own files) give the in-process probabilities", async () => {
    const file = async (name: string) => {
      const r = await fetch(`${t.node('bank-a').url}/v1/admin/jobs/${JOB}/files/${name}`, { headers: { 'x-admin-token': TOKEN } });
      expect(r.status).toBe(200);
      return r.text();
    };
    const bankPmml = pmmlRegression(await file('lr.pmml'));
    const bankSql = await file('lr.sql');
    const platformDir = join(t.node('platform').dir, 'jobs', JOB);
    const platformPmml = pmmlRegression(readFileSync(join(platformDir, 'lr.pmml'), 'utf8'));
    const platformSql = readFileSync(join(platformDir, 'lr.sql'), 'utf8');
    expect(bankSql).not.toMatch(/LIMIT_BAL|PAY_0/);
    const row = (names: readonly string[], prefix: string, i: number) => Object.fromEntries(names.map((n) => [`${prefix}_${n}`, raw.cols.get(n)![i]!]));
    const db = new Database(':memory:');
    const table = (names: string[], rows: (string | number | null)[][]) => {
      db.exec(`DROP TABLE IF EXISTS scoring_input; CREATE TABLE scoring_input (id TEXT PRIMARY KEY, ${names.map((c) => `"${c}" REAL`).join(', ')})`);
      const ins = db.prepare(`INSERT INTO scoring_input VALUES (${['?', ...names.map(() => '?')].join(', ')})`);
      db.transaction(() => rows.forEach((r) => ins.run(...r)))();
    };
    const v = (x: number) => (Number.isNaN(x) ? null : x);
    table(PLATFORM.map((n) => `host_${n}`), raw.ids.map((id, i) => [id, ...PLATFORM.map((n) => v(raw.cols.get(n)![i]!))]));
    const hostSql = new Map((db.prepare(platformSql).all() as { id: string; partial_logit: number }[]).map((r) => [r.id, r.partial_logit]));
    table([...BANK.map((n) => `guest_${n}`), HOST_PARTIAL_LOGIT], raw.ids.map((id, i) => [id, ...BANK.map((n) => v(raw.cols.get(n)![i]!)), hostSql.get(id)!]));
    const sql = new Map((db.prepare(bankSql).all() as { id: string; probability: number }[]).map((r) => [r.id, r.probability]));
    db.close();
    let worst = { pmml: 0, sql: 0 };
    raw.ids.forEach((id, i) => {
      const want = sigmoid(ref.bank[i]! + ref.platform[i]!);
      const hostPart = platformPmml.evaluate(row(PLATFORM, 'host', i))!;
      const p = bankPmml.evaluate({ ...row(BANK, 'guest', i), [HOST_PARTIAL_LOGIT]: hostPart })!;
      worst = { pmml: Math.max(worst.pmml, Math.abs(p - want), Math.abs(hostPart - ref.platform[i]!)), sql: Math.max(worst.sql, Math.abs(sql.get(id)! - want), Math.abs(hostSql.get(id)! - ref.platform[i]!)) };
    });
    console.log(`exports over ${ROWS} rows: largest difference from in process PMML ${worst.pmml.toExponential(2)}, SQL ${worst.sql.toExponential(2)}`);
    expect(worst.pmml).toBeLessThanOrEqual(1e-9);
    expect(worst.sql).toBeLessThanOrEqual(1e-9);
  });

  it("online: a platform value missing only at scoring time (its data refreshed with AGE blank) takes the platform's training mean", async () => {
    const r = seededRng('age');
    const age = Float64Array.from(raw.cols.get('AGE')!, (x) => (r.next() < 0.1 ? Number.NaN : x));
    writeCsv(join(t.dataRoot, 'uci-platform-2.csv'), raw, PLATFORM, false, new Map([['AGE', age]]));
    await t.admin('platform', 'POST', '/v1/admin/datasets', { name: 'uci-credit', path: 'uci-platform-2.csv', idColumn: 'id', uscc: true });
    const platform = platformRef(new Map([...raw.cols, ['AGE', age]]));
    let checked = 0;
    for (let i = 0; i < ROWS - UNAUTHORISED && checked < 15; i++) {
      if (!Number.isNaN(age[i]!)) continue;
      const s = await score(raw.ids[i]!, features(i));
      expect(s.ok).toBe(true);
      if (!s.ok) continue;
      expect(Math.abs(s.s.partial.platform - platform[i]!)).toBeLessThanOrEqual(1e-9);
      expect(Math.abs(s.s.probability - sigmoid(ref.bank[i]! + platform[i]!))).toBeLessThanOrEqual(1e-9);
      checked++;
    }
    expect(checked).toBe(15);
  });
});
