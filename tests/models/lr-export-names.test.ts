/**
 * The exported `lr` part (models/export/lr.ts) with the column names a party's CSV may hold: quotes,
 * a statement separator, comment markers, markup, and a column that already carries a feature's
 * missing flag (`a_missing` beside an `a` that had missing training values, as data providers
 * often ship). The SQL runs in SQLite on a table with those very columns and gives the kernel's
 * partial logits, with nothing else executed; the PMML parses, names those very fields, and its
 * evaluation gives the kernel's partial logits too. Before the indicator's derived field was named
 * apart, `zscore(guest_a_missing)` was defined twice and both predictors read one of them.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fitLrPreparation, lrPreparationJson } from '../../engine/impute.ts';
import { compileLr, lrPartialLogits } from '../../engine/scoring.ts';
import { lrInputFields, lrPart, lrPmml, lrSql } from '../../models/export/lr.ts';
import { parseXml, pmmlRegression } from '../helpers/pmml-eval.ts';

const NAMES = ['a', 'a_missing', `q"uote`, `x"); DROP TABLE victim; --`, `semi;colon`, `<tag attr="v">&amp;`, `it's`, '/* c */'];

function part() {
  const n = 12;
  const cols = NAMES.map((_, j) => Float64Array.from({ length: n }, (_, i) => ((i * (j + 3)) % 7) - 2 + j / 10));
  cols[0]![2] = Number.NaN;
  cols[0]![5] = Number.NaN;
  const { prep } = fitLrPreparation(cols, NAMES);
  const weights = prep.names.map((_, j) => 0.1 * (j + 1) * (j % 2 ? -1 : 1));
  const m = lrPart('names', 'host', { weights, preparation: lrPreparationJson(prep) });
  // Scored rows: some values missing, on both sides of each mean.
  const scored = cols.map((c, j) => Float64Array.from(c, (v, i) => (i % 4 === j % 4 ? Number.NaN : v + (i % 3) - 1)));
  const want = lrPartialLogits(compileLr(prep, weights, 0), scored);
  return { m, scored, want };
}

describe('lr export: column names a CSV may hold', () => {
  it('the indicator of `a` and a column named `a_missing` are two columns of the part', () => {
    const { m } = part();
    expect(m.preparation.names.filter((x) => x === 'a_missing').length).toBe(2);
  });

  it('SQL: runs on a table with those very columns, gives the kernel partial logits, executes nothing else', () => {
    const { m, scored, want } = part();
    const db = new Database(':memory:');
    const cols = lrInputFields(m);
    db.exec(`CREATE TABLE victim (x INTEGER); CREATE TABLE scoring_input (id TEXT PRIMARY KEY, ${cols.map((c) => `"${c.replace(/"/g, '""')}" REAL`).join(', ')})`);
    const insert = db.prepare(`INSERT INTO scoring_input VALUES (${['?', ...cols.map(() => '?')].join(', ')})`);
    want.forEach((_, i) => insert.run(`r${i}`, ...scored.map((c) => (Number.isNaN(c[i]!) ? null : c[i]!))));
    const sql = lrSql(m);
    // One statement: better-sqlite3 refuses to prepare more than one.
    const got = new Map((db.prepare(sql).all() as { id: string; partial_logit: number }[]).map((r) => [r.id, r.partial_logit]));
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'victim'").get()).toEqual({ name: 'victim' });
    db.close();
    const worst = Math.max(...Array.from(want, (w, i) => Math.abs(got.get(`r${i}`)! - w)));
    expect(worst).toBeLessThanOrEqual(1e-12);
  });

  it('PMML: parses, names those very fields, and evaluates to the kernel partial logits', () => {
    const { m, scored, want } = part();
    const xml = lrPmml(m, '2026-01-01T00:00:00Z');
    const doc = parseXml(xml);
    expect(doc.name).toBe('PMML');
    const derived = doc.children.find((c) => c.name === 'TransformationDictionary')!.children.map((d) => d.attrs.name!);
    expect(new Set(derived).size).toBe(derived.length);
    const e = pmmlRegression(xml);
    expect(e.inputs).toEqual(lrInputFields(m));
    const worst = Math.max(...Array.from(want, (w, i) => Math.abs((e.evaluate(Object.fromEntries(e.inputs.map((f, j) => [f, Number.isNaN(scored[j]![i]!) ? null : scored[j]![i]!]))) as number) - w)));
    expect(worst).toBeLessThanOrEqual(1e-12);
  });
});
