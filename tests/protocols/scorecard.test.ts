import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { loadCsv } from '../../engine/csv.ts';
import { IndomainError } from '../../engine/errors.ts';
import { spdInverse } from '../../engine/linalg.ts';
import { permutation, seededRng } from '../../engine/rng.ts';
import { selectRows } from '../../engine/table.ts';
import { binCounts, mergeCounts, woeIv } from '../../models/binning.ts';
import { sigmoid } from '../../models/logistic.ts';
import { bandEdges, bandsFromEdges, summariseSample, type SampleScores } from '../../models/report.ts';
import { scorecardPmml } from '../../models/export/pmml.ts';
import { scorecardSql } from '../../models/export/sql.ts';
import { HOST_PARTIAL_FIELD } from '../../models/export/model.ts';
import { encodeMessage } from '../../protocols/codec.ts';
import { createCkks, generateKeys } from '../../protocols/he/ckks.ts';
import { ScorecardArbiter, scorecardConfig, ScorecardGuest, ScorecardHost, type ScorecardRun } from '../../protocols/scorecard/protocol.ts';
import { rawFederatedLr, runScorecard } from '../../benchmarks/scorecard.ts';
import { splitPair, type SplitPair } from '../../benchmarks/pair.ts';
import { tempDir } from '../helpers/tmp.ts';

const data = (f: string) => new URL(`../data/fate/${f}`, import.meta.url).pathname;
/** The PMML 4.4.1 schema, copied from ../shared/spec with its provenance (tests/data/README.md). */
const XSD = new URL('../data/spec/pmml-4-4-1.xsd', import.meta.url).pathname;

/** Partial overlap in shuffled orders: the guest keeps `g`, the host `h` of the rows. */
async function overlapPair(name: string, g: number, h: number, seed: string): Promise<SplitPair> {
  const guestAll = loadCsv(data(`${name}_hetero_guest.csv`), { idColumn: 'id', labelColumn: 'y' });
  const hostAll = loadCsv(data(`${name}_hetero_host.csv`), { idColumn: 'id' });
  const n = guestAll.ids.length;
  const r = seededRng(`overlap:${name}`);
  const guest = selectRows(guestAll, permutation(n, r).slice(0, Math.round(g * n)));
  const host = selectRows(hostAll, permutation(n, r).slice(0, Math.round(h * n)));
  return splitPair(guest, host, seed, 0.2);
}

/** The Fisher information XᵀWX at the fitted model, in plaintext over the joined WOE columns. */
function centralStandardErrors(run: ScorecardRun): Float64Array {
  const cols = [...run.guest.kept.map((f) => f.trainWoe), ...run.host.kept.map((f) => f.trainWoe)];
  const beta = [run.guest.intercept, ...run.guest.weights, ...run.host.weights];
  const n = cols[0]!.length;
  const d = cols.length + 1;
  const x = [new Float64Array(n).fill(1), ...cols];
  const f = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    let z = 0;
    for (let j = 0; j < d; j++) z += beta[j]! * x[j]![i]!;
    const p = sigmoid(z);
    const w = p * (1 - p);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) f[a * d + b]! += w * x[a]![i]! * x[b]![i]!;
  }
  const cov = spdInverse(f, d);
  return Float64Array.from({ length: d }, (_, j) => Math.sqrt(cov[j * d + j]!));
}

/** Joint probability, total points and label of every training row, in plaintext from both parties' state. */
function centralTrainSample(run: ScorecardRun, labels: Uint8Array): SampleScores {
  const g = run.guest;
  const h = run.host;
  const n = g.kept[0]!.trainWoe.length;
  const logit = new Float64Array(n).fill(g.intercept);
  const points = new Float64Array(n).fill(g.base);
  g.kept.forEach((f, j) => {
    for (let i = 0; i < n; i++) {
      logit[i]! += g.weights[j]! * f.trainWoe[i]!;
      points[i]! += g.points[j]![f.trainBins[i]!]!;
    }
  });
  h.kept.forEach((f, j) => {
    for (let i = 0; i < n; i++) {
      logit[i]! += h.weights[j]! * f.trainWoe[i]!;
      points[i]! += h.points[j]![f.trainBins[i]!]!;
    }
  });
  return { prob: logit.map(sigmoid), points, labels };
}

interface ScoringInput {
  cols: string[];
  rows: (string | number | null)[][];
}

/**
 * Every test row as `scoring_input` holds it: id, guest_*, host_* (NULL for missing). The bank
 * holds joint points of test rows only (no platform value of a training row reaches it).
 */
function scoringInput(pair: SplitPair, extra?: { name: string; test: ArrayLike<number> }): ScoringInput {
  const cols = [...pair.guest.train.featureNames.map((f) => `guest_${f}`), ...pair.host.train.featureNames.map((f) => `host_${f}`), ...(extra ? [extra.name] : [])];
  const v = (x: number) => (Number.isNaN(x) ? null : x);
  const rows: (string | number | null)[][] = [];
  for (const set of ['test'] as const) {
    const g = pair.guest[set];
    const h = pair.host[set];
    g.ids.forEach((id, i) => {
      const row: (string | number | null)[] = [id, ...g.features.map((c) => v(c[i]!)), ...h.features.map((c) => v(c[i]!))];
      if (extra) row.push(extra[set][i]!);
      rows.push(row);
    });
  }
  return { cols, rows };
}

/** Run the exported SQL unchanged in SQLite. */
function sqlitePoints(input: ScoringInput, sql: string): Map<string, number> {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE scoring_input (id TEXT PRIMARY KEY, ${input.cols.map((c) => `"${c}" REAL`).join(', ')})`);
  const insert = db.prepare(`INSERT INTO scoring_input VALUES (${['?', ...input.cols.map(() => '?')].join(', ')})`);
  db.transaction(() => {
    for (const row of input.rows) insert.run(...row);
  })();
  const out = new Map<string, number>();
  for (const r of db.prepare(sql).all() as { id: string; points: number }[]) out.set(r.id, r.points);
  db.close();
  return out;
}

/** Run the exported SQL unchanged in DuckDB. */
async function duckdbPoints(input: ScoringInput, sql: string): Promise<Map<string, number>> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  await con.run(`CREATE TABLE scoring_input (id VARCHAR PRIMARY KEY, ${input.cols.map((c) => `"${c}" DOUBLE`).join(', ')})`);
  const app = await con.createAppender('scoring_input');
  for (const row of input.rows) {
    app.appendVarchar(row[0] as string);
    for (let j = 1; j < row.length; j++) {
      const x = row[j];
      if (x === null) app.appendNull();
      else app.appendDouble(x as number);
    }
    app.endRow();
  }
  app.closeSync();
  const reader = await con.runAndReadAll(sql);
  const out = new Map<string, number>();
  for (const r of reader.getRowObjects()) out.set(String(r.id), Number(r.points));
  con.closeSync();
  return out;
}

function expectEnginePoints(run: ScorecardRun, pair: SplitPair, fromSql: Map<string, number>): void {
  let checked = 0;
  for (const set of ['test'] as const) {
    pair.guest[set].ids.forEach((id, i) => {
      const engine = run.guest[set]!.points[i]!;
      expect(Number.isInteger(engine)).toBe(true);
      if (fromSql.get(id) !== engine) expect({ id, sql: fromSql.get(id) }).toEqual({ id, sql: engine });
      checked++;
    });
  }
  expect(checked).toBe(fromSql.size);
}

/** xmllint's verdict on a PMML document against the 4.4.1 schema (libxml2 in WebAssembly: no system package). */
async function validatePmml(pmml: string): Promise<string> {
  const result = await validateXML({ xml: [{ fileName: 'model.pmml', contents: pmml }], schema: [readFileSync(XSD, 'utf8')] });
  if (!result.valid) throw new Error(`PMML not valid: ${result.errors.map((e) => e.rawMessage).join('; ')}`);
  return 'valid';
}

/** Every number in the report is finite, except values the policy withholds (null/NaN listed). */
function nonFinite(x: unknown, path = 'report'): string[] {
  if (typeof x === 'number') return Number.isFinite(x) ? [] : [path];
  if (Array.isArray(x)) return x.flatMap((v, i) => nonFinite(v, `${path}[${i}]`));
  if (x && typeof x === 'object') return Object.entries(x).flatMap(([k, v]) => nonFinite(v, `${path}.${k}`));
  return [];
}

/** True when `needle`'s bytes appear anywhere in `hay`. */
function contains(hay: Uint8Array, needle: ArrayBufferView): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength)) >= 0;
}

describe('federated scorecard', () => {
  it('default_credit, partial overlap: AUC, exact federated counts, standard errors, report, PMML, SQL (SQLite and DuckDB) and privacy', async () => {
    const pair = await overlapPair('default_credit', 0.75, 0.8, 'sc-dc');
    expect(pair.intersection).toBeGreaterThan(15000);
    const run = await runScorecard(pair, { seed: 'sc-dc', hostCategorical: ['x1', 'x2', 'x3'] });
    const lr = await rawFederatedLr(pair, 'sc-dc');
    const r = run.report;
    // Not worse than the raw-feature federated LR by more than 0.005 (WOE bins usually do better).
    expect(r.discrimination.test.auc).toBeGreaterThan(lr.auc - 0.005);
    expect(run.training.arbiter.converged).toBe(true);

    // Per-bin counts, WOE and IV of host features: the bank's exact view equals centralised on the
    // same bins; what the host received was planned from the label-private (noised) counts.
    const yTrain = pair.guest.train.label!;
    expect(run.guest.hostFeatures.length).toBe(10);
    const sigma = run.guest.labelNoiseSigma;
    expect(sigma).toBeCloseTo(Math.sqrt(10) * Math.sqrt(2 * Math.log(1.25 / 1e-6)), 9);
    let moved = 0;
    let fine = 0;
    run.host.features.forEach((f, j) => {
      const view = run.guest.hostFeatures[j]!;
      const central = binCounts(f.fineTrainBins, f.fine.bins, yTrain);
      for (let b = 0; b < f.fine.bins; b++) {
        expect(Math.abs(view.fineEvents[b]! - central.events[b]!)).toBeLessThanOrEqual(1e-9);
        expect(view.fineTotals[b]).toBe(central.totals[b]);
        expect(central.totals[b]).toBeGreaterThanOrEqual(Math.ceil(0.05 * yTrain.length));
        const e = view.noisedEvents[b]!;
        expect(e >= 0 && e <= central.totals[b]!).toBe(true);
        if (e !== central.events[b]) moved++;
        fine++;
      }
      const k = f.spec.bins;
      const w = woeIv(mergeCounts(central.events, view.plan.mapping, k), mergeCounts(central.totals, view.plan.mapping, k));
      for (let b = 0; b < k; b++) expect(Math.abs(view.exact.woe[b]! - w.woe[b]!)).toBeLessThanOrEqual(1e-9);
      expect(Math.abs(view.exact.iv - w.iv)).toBeLessThanOrEqual(1e-9);
      const dp = woeIv(mergeCounts(view.noisedEvents, view.plan.mapping, k), mergeCounts(central.totals, view.plan.mapping, k));
      for (let b = 0; b < k; b++) expect(view.plan.woe[b]).toBe(dp.woe[b]);
      expect(view.plan.iv).toBe(dp.iv);
      // The host applied exactly the (private) WOE the guest computed.
      for (let b = 0; b < k; b++) expect(f.woe[b]).toBe(view.plan.woe[b]);
    });
    // Every fine count was noised.
    expect(moved).toBe(fine);
    console.log(`default_credit with label privacy (ε 1, δ 1e-6, σ ${sigma.toFixed(2)}): test AUC ${r.discrimination.test.auc.toFixed(4)} KS ${r.discrimination.test.ks.toFixed(4)}; raw federated LR AUC ${lr.auc.toFixed(4)}`);
    // Categorical host features were binned as sets of categories.
    const education = run.host.features.find((f) => f.name === 'x2')!;
    expect(education.spec.kind).toBe('categorical');

    // Standard errors from the federated Fisher information match the centralised ones.
    const central = centralStandardErrors(run);
    const fed = run.guest.standardErrors!;
    expect(fed.length).toBe(central.length);
    for (let j = 0; j < central.length; j++) expect(Math.abs(fed[j]! - central[j]!)).toBeLessThanOrEqual(1e-6);
    console.log(`standard errors: largest difference from plaintext ${Math.max(...central.map((c, j) => Math.abs(fed[j]! - c))).toExponential(2)}`);

    // The training side of the report, which the arbiter computed from shares, equals the one
    // computed in plaintext from both parties' rows.
    const plain = centralTrainSample(run, yTrain);
    const bands = bandsFromEdges(bandEdges(plain.points, r.scaling.pdo));
    const centralTrain = summariseSample(plain, bands);
    for (const k of ['auc', 'ks', 'gini', 'logLoss'] as const) expect(Math.abs(r.discrimination.train[k] - centralTrain.metrics[k])).toBeLessThanOrEqual(1e-9);
    expect(r.liftByBand.train.map((g) => [g.group, g.rows, g.events, g.minPoints, g.maxPoints])).toEqual(
      centralTrain.bands.map((g, k) => [bands[k]!.label, g.rows, g.events, g.minPoints, g.maxPoints]),
    );
    r.calibration.train.forEach((c, k) => expect(Math.abs(c.predictedRate - centralTrain.bands[k]!.predicted / Math.max(1, centralTrain.bands[k]!.rows))).toBeLessThanOrEqual(1e-9));
    expect(r.liftByDecile.train.map((g) => g.rows)).toEqual(centralTrain.deciles.map((g) => g.rows));

    // Report: every item present and computed.
    expect(nonFinite(r)).toEqual([]);
    expect(r.liftByDecile.test).toHaveLength(10);
    expect(r.liftByBand.test.length).toBeGreaterThan(3);
    expect(r.calibration.test.reduce((s, c) => s + c.rows, 0)).toBe(pair.guest.test.ids.length);
    expect(r.stability.characteristics.length).toBe(run.model.characteristics.length);
    expect(r.ivTable.length).toBe(pair.guest.train.featureNames.length + pair.host.train.featureNames.length);
    expect(r.coefficients.length).toBe(1 + run.model.characteristics.length);
    expect(r.coefficients.every((c) => c.standardError > 0 && c.pValue >= 0 && c.pValue <= 1)).toBe(true);
    expect(r.selection.length + run.model.characteristics.length).toBe(23);
    expect(run.markdown).toContain('## Calibration by score band');
    // The report says which WOE the model used for each platform characteristic.
    const hostTable = r.ivTable.filter((c) => c.party === 'host');
    expect(hostTable.every((c) => c.woeUsed.includes('differentially private'))).toBe(true);
    expect(run.markdown).toContain('Model WOE: computed from (ε = 1, δ = 0.000001)-differentially private event counts');
    expect(run.markdown).not.toMatch(/undefined|NaN|TODO/);

    // Exports: the PMML validates, the SQL gives the engine's points for every enterprise.
    expect(await validatePmml(scorecardPmml(run.model))).toMatch(/valid/);
    const input = scoringInput(pair);
    const sql = scorecardSql(run.model);
    expectEnginePoints(run, pair, sqlitePoints(input, sql));
    expectEnginePoints(run, pair, await duckdbPoints(input, sql));
    // Reason codes: at most three, each a characteristic that lost points.
    expect(run.reasons.test.every((rs) => rs.length <= 3)).toBe(true);
    expect(run.reasons.test.some((rs) => rs.length === 3)).toBe(true);

    // Privacy: what each party actually received.
    const toHost = run.log.filter((m) => m.to === 'host');
    expect(new Set(toHost.map((m) => m.type))).toEqual(new Set(['LabelSetup', 'BinPlan', 'ShareSeed', 'FisherWeights']));
    const labels = Float64Array.from(yTrain.subarray(0, 32));
    for (const m of toHost) {
      const bytes = encodeMessage(m.received);
      expect(contains(bytes, labels)).toBe(false);
      expect(contains(bytes, new Uint8Array(yTrain.subarray(0, 64)))).toBe(false);
    }
    for (const m of run.log.filter((x) => x.to === 'guest')) {
      const bytes = encodeMessage(m.received);
      for (const col of pair.host.train.features) expect(contains(bytes, col.subarray(100, 108))).toBe(false);
    }
    // No host cut point reaches the guest outside the declared `full`-policy points table.
    for (const m of run.log.filter((x) => x.to === 'guest' && x.type !== 'HostPoints')) {
      const bytes = encodeMessage(m.received);
      for (const f of run.host.kept) for (const c of f.spec.cuts) expect(contains(bytes, Float64Array.of(c))).toBe(false);
    }
  }, 900_000);

  it('breast, partial overlap, `partial` policy: the platform is one input, its points never reach the bank', async () => {
    const pair = await overlapPair('breast', 0.9, 0.85, 'sc-br');
    // Label-privacy noise off (test-only switch): this test checks the standard errors' arithmetic
    // against plaintext to 1e-4 relative. On breast's 364 training rows the noise (ε 1, δ 1e-6, 20 host
    // features: σ ≈ 24 events per fine bin of ≥ 20 rows) makes the host WOE mostly noise, the fit
    // nearly separates and the information matrix too ill-conditioned for that comparison;
    // default_credit above checks everything with the noise on.
    // Breast nearly separates: neither fit converges in 30 rounds (nor in vfl-lr's 60), which is
    // refused (VFL_NOT_CONVERGED) unless kept on purpose; the policy, not the fit, is under test.
    const short = { maxIterations: 30, refuseUnconverged: false };
    const run = await runScorecard(pair, { seed: 'sc-br', policy: 'partial', testOnly: { exactBinPlan: true }, training: short });
    const lr = await rawFederatedLr(pair, 'sc-br', short);
    // 91 test rows: one pair of misordered enterprises moves the AUC by ~5e-4.
    expect(run.report.discrimination.test.auc).toBeGreaterThan(lr.auc - 0.01);
    expect(run.log.some((m) => m.type === 'HostPoints')).toBe(false);
    expect(run.model.characteristics.every((c) => c.party === 'guest')).toBe(true);
    expect(run.model.hostPartial?.field).toBe(HOST_PARTIAL_FIELD);
    expect(run.report.ivTable.filter((c) => c.party === 'host').every((c) => c.bins.every((b) => b.points === null && b.bin.startsWith('platform bin')))).toBe(true);
    const pmml = scorecardPmml(run.model);
    expect(pmml).toContain(`<FieldRef field="${HOST_PARTIAL_FIELD}"/>`);
    expect(await validatePmml(pmml)).toMatch(/valid/);
    // The validator can fail: the same document with an element the schema does not know.
    await expect(validatePmml(pmml.replace('<Characteristics>', '<Characteristics><Bogus/>'))).rejects.toThrow(/not valid/);
    const g = run.guest;
    const input = scoringInput(pair, { name: HOST_PARTIAL_FIELD, test: g.test!.hostPoints });
    expectEnginePoints(run, pair, sqlitePoints(input, scorecardSql(run.model)));
    expectEnginePoints(run, pair, await duckdbPoints(input, scorecardSql(run.model)));
    const central = centralStandardErrors(run);
    // Breast is nearly separable: standard errors reach tens, and the flooded Fisher matrix's noise
    // goes through its inverse. Since training no longer clamps rows to one sigmoid window (issue 14),
    // the model sits at the true, more separated optimum, whose information matrix is worse
    // conditioned: measured 1.5e-4 and 4.2e-4 relative (1e-4 held for the clamped fit); 1e-3 relative.
    for (let j = 0; j < central.length; j++) expect(Math.abs(g.standardErrors![j]! - central[j]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(central[j]!)));
  }, 600_000);

  it('refuses bad configuration, undeclared features and malformed messages with coded errors', async () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof IndomainError ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => scorecardConfig('j', { policy: 'everything' as never }))).toBe('SC_BAD_CONFIG');
    expect(code(() => scorecardConfig('j', { minBinShare: 0.7 }))).toBe('SC_BAD_CONFIG');
    expect(code(() => scorecardConfig('j', { scaling: { baseScore: 600, baseOdds: 50, pdo: 0 } }))).toBe('SC_BAD_CONFIG');
    const ckks = await createCkks('ckks-n8192-d2');
    const side = { names: ['a'], train: [Float64Array.of(1, 2, 3)], test: [Float64Array.of(1)] };
    const config = scorecardConfig('j');
    expect(code(() => new ScorecardHost(ckks, side, { categorical: ['b'] }, config, seededRng('x')))).toBe('SC_UNKNOWN_FEATURE');
    const host = new ScorecardHost(ckks, side, {}, config, seededRng('x'));
    const env = (type: string, body: Record<string, unknown>) => ({ job: 'j', protocol: 'scorecard', type, round: 0, from: 'guest', to: 'host', body });
    expect(code(() => host.receive(env('BinPlan', { mapping: [0], woe: new Float64Array(1), iv: new Float64Array(1) })))).toBe('SC_WRONG_STAGE');
    expect(code(() => host.receive(env('LabelSetup', { params: 'x', publicKey: new Uint8Array(1) })))).toBe('SC_BAD_MESSAGE');
    const guest = new ScorecardGuest(ckks, side, { train: Uint8Array.of(0, 1, 0), test: Uint8Array.of(1) }, {}, config);
    expect(code(() => guest.receive({ ...env('HostBinCounts', {}), from: 'host', to: 'guest' }))).toBe('SC_WRONG_STAGE');
    // The arbiter: only the declared sender, only in its stage, shares of matching lengths.
    const arbiter = new ScorecardArbiter(ckks, generateKeys(ckks), config);
    const shares = (from: string, type: string, body: Record<string, unknown>) => ({ ...env(type, body), from, to: 'arbiter' });
    const two = Float64Array.of(1, 2);
    expect(code(() => arbiter.receive(shares('host', 'GuestTrainShares', { logit: two, points: two, labels: Uint8Array.of(0, 1) })))).toBe('SC_BAD_MESSAGE');
    expect(code(() => arbiter.receive(shares('guest', 'FisherSums', { columns: 1, direct: new Uint8Array(16), cross: [] })))).toBe('SC_WRONG_STAGE');
    expect(arbiter.receive(shares('guest', 'GuestTrainShares', { logit: two, points: two, labels: Uint8Array.of(0, 1) }))).toEqual([]);
    expect(code(() => arbiter.receive(shares('guest', 'GuestTrainShares', { logit: two, points: two, labels: Uint8Array.of(0, 1) })))).toBe('SC_WRONG_STAGE');
    expect(code(() => arbiter.receive(shares('host', 'HostTrainShares', { logit: Float64Array.of(1), points: Float64Array.of(1) })))).toBe('SC_BAD_MESSAGE');
  });
});

