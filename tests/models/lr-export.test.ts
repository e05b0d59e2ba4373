/**
 * One LR model, every scoring path a bank uses, on the raw UCI file (amounts unscaled, PAY_* with
 * special codes) with missing values injected on both sides: 20% of the platform's LIMIT_BAL and
 * 10% of the bank's BILL_AMT1 in every row, and at scoring time also AGE and PAY_AMT1, which had no
 * missing training value. The in-process model (applyLrPreparation, then the weights), the scoring
 * kernel on one thread and on the worker pool, the exported PMML (checked against the 4.4.1 schema
 * and evaluated by tests/helpers/pmml-eval.ts) and the exported SQL (run in SQLite and DuckDB) give
 * the same probability for every scored row.
 */
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { uciPair } from '../../benchmarks/uci.ts';
import { seededSplit } from '../../engine/align.ts';
import { applyLrPreparation, fitLrPreparation, lrPreparationJson, type LrPreparation } from '../../engine/impute.ts';
import { seededRng } from '../../engine/rng.ts';
import { compileLr, lrPartialLogits, ScoringPool, SharedBatch } from '../../engine/scoring.ts';
import { selectRows, type PartyTable } from '../../engine/table.ts';
import { HOST_PARTIAL_LOGIT, lrInputFields, lrPart, lrPmml, lrSql, type LrPartModel } from '../../models/export/lr.ts';
import { fitLogistic, sigmoid } from '../../models/logistic.ts';
import { auc } from '../../models/metrics.ts';
import { pmmlRegression } from '../helpers/pmml-eval.ts';

const UCI = new URL('../data/uci/UCI_Credit_Card.csv', import.meta.url).pathname;
const XSD = new URL('../data/spec/pmml-4-4-1.xsd', import.meta.url).pathname;

function blank(t: PartyTable, column: string, fraction: number, seed: string): void {
  const col = t.features[t.featureNames.indexOf(column)]!;
  const r = seededRng(seed);
  for (let i = 0; i < col.length; i++) if (r.next() < fraction) col[i] = Number.NaN;
}

/** Reference: the prepared columns (engine/impute.ts) times the weights, summed in column order. */
function reference(prep: LrPreparation, weights: readonly number[], intercept: number, raw: readonly Float64Array[]): Float64Array {
  const x = applyLrPreparation(prep, raw);
  const out = new Float64Array(raw[0]!.length).fill(intercept);
  x.forEach((c, j) => c.forEach((v, i) => (out[i] += weights[j]! * v)));
  return out;
}

function setup() {
  const { guest, host } = uciPair(UCI, { missing: { column: 'LIMIT_BAL', fraction: 0.2 }, seed: 'lr-export' });
  blank(guest, 'BILL_AMT1', 0.1, 'bill');
  const split = seededSplit(guest.ids.length, 0.3, 'lr-export');
  const g = { train: selectRows(guest, split.train), test: selectRows(guest, split.test) };
  const h = { train: selectRows(host, split.train), test: selectRows(host, split.test) };
  // Missing at scoring time only: features with no missing training value.
  blank(h.test, 'AGE', 0.05, 'age');
  blank(g.test, 'PAY_AMT1', 0.05, 'pay');
  const gp = fitLrPreparation(g.train.features, g.train.featureNames);
  const hp = fitLrPreparation(h.train.features, h.train.featureNames);
  const fit = fitLogistic([...gp.train, ...hp.train], g.train.label!, { optimizer: 'newton', lambda: 1e-3 });
  const nG = gp.prep.names.length;
  const w = Array.from(fit.weights);
  const guestPart = lrPart('uci-lr', 'guest', { weights: [fit.intercept, ...w.slice(0, nG)], preparation: lrPreparationJson(gp.prep) });
  const hostPart = lrPart('uci-lr', 'host', { weights: w.slice(nG), preparation: lrPreparationJson(hp.prep) });
  return { g, h, gp, hp, guestPart, hostPart };
}

/** The SQL input table of a part: id, its raw fields (NULL when missing), and for the bank the platform's partial logits. */
function sqlInput(m: LrPartModel, t: PartyTable, partial?: Float64Array) {
  const cols = [...lrInputFields(m), ...(partial ? [HOST_PARTIAL_LOGIT] : [])];
  const rows = t.ids.map((id, i) => [id, ...t.features.map((c) => (Number.isNaN(c[i]!) ? null : c[i]!)), ...(partial ? [partial[i]!] : [])]);
  return { cols, rows };
}

function sqlite(input: ReturnType<typeof sqlInput>, sql: string, out: string): Float64Array {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE scoring_input (id TEXT PRIMARY KEY, ${input.cols.map((c) => `"${c}" REAL`).join(', ')})`);
  const insert = db.prepare(`INSERT INTO scoring_input VALUES (${['?', ...input.cols.map(() => '?')].join(', ')})`);
  db.transaction(() => input.rows.forEach((r) => insert.run(...r)))();
  const byId = new Map((db.prepare(sql).all() as Record<string, number | string>[]).map((r) => [r.id as string, r[out] as number]));
  db.close();
  return Float64Array.from(input.rows, (r) => byId.get(r[0] as string)!);
}

async function duckdb(input: ReturnType<typeof sqlInput>, sql: string, out: string): Promise<Float64Array> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  await con.run(`CREATE TABLE scoring_input (id VARCHAR PRIMARY KEY, ${input.cols.map((c) => `"${c}" DOUBLE`).join(', ')})`);
  const app = await con.createAppender('scoring_input');
  for (const row of input.rows) {
    app.appendVarchar(row[0] as string);
    for (const x of row.slice(1)) {
      if (x === null) app.appendNull();
      else app.appendDouble(x as number);
    }
    app.endRow();
  }
  app.closeSync();
  const rows = (await con.runAndReadAll(sql)).getRowObjects() as Record<string, unknown>[];
  const byId = new Map(rows.map((r) => [String(r.id), Number(r[out])]));
  con.closeSync();
  return Float64Array.from(input.rows, (r) => byId.get(r[0] as string)!);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('LR scoring with the stored preparation: in process, kernel, pool, PMML and SQL agree', () => {
  const s = setup();
  const { g, h, gp, hp, guestPart, hostPart } = s;
  const refG = reference(gp.prep, guestPart.weights, guestPart.intercept, g.test.features);
  const refH = reference(hp.prep, hostPart.weights, 0, h.test.features);
  const refP = Float64Array.from(refG, (z, i) => sigmoid(z + refH[i]!));

  it('the model is a real one, with indicators where training values were missing and none elsewhere', () => {
    expect(gp.prep.names).toContain('BILL_AMT1_missing');
    expect(hp.prep.names).toContain('LIMIT_BAL_missing');
    expect(gp.prep.names).not.toContain('PAY_AMT1_missing');
    expect(hp.prep.names).not.toContain('AGE_missing');
    expect(h.test.features[h.test.featureNames.indexOf('AGE')]!.some(Number.isNaN)).toBe(true);
    const a = auc(refP, g.test.label!);
    console.log(`UCI raw, missing injected: test AUC ${a.toFixed(4)} over ${refP.length} rows; bank columns ${gp.prep.names.length}, platform ${hp.prep.names.length}`);
    expect(a).toBeGreaterThan(0.7);
  });

  it('kernel on one thread and on the worker pool: the reference logits', async () => {
    const kG = compileLr(gp.prep, guestPart.weights, guestPart.intercept);
    const kH = compileLr(hp.prep, hostPart.weights, 0);
    const single = lrPartialLogits(kG, g.test.features);
    expect(maxDiff(single, refG)).toBeLessThanOrEqual(1e-12);
    expect(maxDiff(lrPartialLogits(kH, h.test.features), refH)).toBeLessThanOrEqual(1e-12);
    const batch = new SharedBatch(g.test.features.length, g.test.ids.length);
    g.test.features.forEach((c, j) => batch.cols[j]!.set(c));
    const pool = new ScoringPool(2);
    try {
      await pool.attach(batch);
      const pooled = await pool.lr(await pool.load(kG));
      // The same kernel code: bit for bit.
      expect(pooled.every((v, i) => Object.is(v, single[i]))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('PMML: valid against the 4.4.1 schema; evaluated, the platform part gives its partial logits and the bank part the probabilities', async () => {
    const docs = { guest: lrPmml(guestPart), host: lrPmml(hostPart) };
    for (const xml of Object.values(docs)) {
      const r = await validateXML({ xml: [{ fileName: 'lr.pmml', contents: xml }], schema: [readFileSync(XSD, 'utf8')] });
      expect(r.errors.map((e) => e.rawMessage)).toEqual([]);
    }
    const host = pmmlRegression(docs.host);
    const guest = pmmlRegression(docs.guest);
    const row = (t: PartyTable, m: LrPartModel, i: number) => Object.fromEntries(lrInputFields(m).map((f, j) => [f, t.features[j]![i]!]));
    const partial = Float64Array.from(h.test.ids, (_, i) => host.evaluate(row(h.test, hostPart, i))!);
    expect(maxDiff(partial, refH)).toBeLessThanOrEqual(1e-9);
    const p = Float64Array.from(g.test.ids, (_, i) => guest.evaluate({ ...row(g.test, guestPart, i), [HOST_PARTIAL_LOGIT]: partial[i]! })!);
    const d = maxDiff(p, refP);
    console.log(`PMML: largest probability difference ${d.toExponential(2)} over ${p.length} rows`);
    expect(d).toBeLessThanOrEqual(1e-9);
  });

  it('SQL in SQLite and DuckDB: the platform query gives its partial logits, the bank query the probabilities', async () => {
    const hostIn = sqlInput(hostPart, h.test);
    const hostSql = lrSql(hostPart);
    const partial = sqlite(hostIn, hostSql, 'partial_logit');
    expect(maxDiff(partial, refH)).toBeLessThanOrEqual(1e-9);
    const guestIn = sqlInput(guestPart, g.test, partial);
    const p = sqlite(guestIn, lrSql(guestPart), 'probability');
    const logit = sqlite(guestIn, lrSql(guestPart), 'logit');
    const d = maxDiff(p, refP);
    expect(d).toBeLessThanOrEqual(1e-9);
    expect(maxDiff(logit, Float64Array.from(refG, (z, i) => z + refH[i]!))).toBeLessThanOrEqual(1e-9);
    const dPartial = await duckdb(hostIn, hostSql, 'partial_logit');
    expect(maxDiff(dPartial, refH)).toBeLessThanOrEqual(1e-9);
    const dd = maxDiff(await duckdb(sqlInput(guestPart, g.test, dPartial), lrSql(guestPart), 'probability'), refP);
    console.log(`SQL: largest probability difference SQLite ${d.toExponential(2)}, DuckDB ${dd.toExponential(2)}`);
    expect(dd).toBeLessThanOrEqual(1e-9);
  });

  it('the README worked example, computed by the code', () => {
    // README "Missing values": a = 10, —, 30, 20 and b = 1, 2, 3, 4 on the training rows.
    const { prep } = fitLrPreparation([Float64Array.of(10, NaN, 30, 20), Float64Array.of(1, 2, 3, 4)], ['a', 'b']);
    expect(prep.names).toEqual(['a', 'b', 'a_missing']);
    expect(Array.from(prep.imputer.mean)).toEqual([20, 2.5]);
    expect(Array.from(prep.standardizer.mean)).toEqual([20, 2.5, 0.25]);
    expect(Array.from(prep.standardizer.std).map((x) => Number(x.toFixed(6)))).toEqual([8.164966, 1.290994, 0.5]);
    const k = compileLr(prep, [0.3, -0.2, 0.8], -1.5);
    // Scored: (a missing, b = 4) and (a = 35, b missing).
    const z = lrPartialLogits(k, [Float64Array.of(NaN, 35), Float64Array.of(4, NaN)]);
    expect(Number(z[0]!.toFixed(6))).toBe(-0.532379);
    expect(Number(z[1]!.toFixed(6))).toBe(-1.348865);
  });
});
