/**
 * The scorecard validation report, as a model-validation unit reads it: discrimination (AUC, KS,
 * Gini), lift and gain by decile and by score band, calibration by band, population stability of
 * the score and characteristic stability per feature, the IV table with every bin, coefficients
 * with standard errors, Wald p-values and VIF, and the selection log. JSON and Markdown.
 */
import { binaryMetrics, type BinaryMetrics } from './metrics.ts';
import type { Dropped } from './selection.ts';
import { stabilityTerm } from './stability.ts';
import { waldPValue, type Scaling } from './scorecard.ts';

export interface SampleScores {
  readonly prob: ArrayLike<number>;
  /** Integer total points (higher is safer). */
  readonly points: ArrayLike<number>;
  readonly labels: ArrayLike<number>;
}

export interface CharacteristicRow {
  readonly name: string;
  readonly party: 'guest' | 'host';
  readonly binLabels: readonly string[];
  readonly rows: ArrayLike<number>;
  readonly events: ArrayLike<number>;
  readonly woe: ArrayLike<number>;
  readonly ivBins: ArrayLike<number>;
  readonly iv: number;
  /** Null when the platform's policy keeps its points from the bank. */
  readonly points: readonly number[] | null;
  readonly kept: boolean;
}

export interface CoefficientRow {
  readonly name: string;
  readonly party: 'guest' | 'host' | 'intercept';
  readonly estimate: number;
  readonly standardError: number;
  /** VIF among the owner's kept features; null for the intercept. */
  readonly vif: number | null;
}

export interface StabilityRow {
  readonly feature: string;
  readonly party: 'guest' | 'host';
  /** Population stability index of the feature's bins, train → test. */
  readonly stability: number;
  readonly csi: number;
}

export interface ReportInput {
  readonly scaling: Scaling;
  readonly policy: 'full' | 'partial';
  readonly train: SampleScores;
  readonly test: SampleScores;
  readonly characteristics: readonly CharacteristicRow[];
  readonly coefficients: readonly CoefficientRow[];
  readonly stability: readonly StabilityRow[];
  readonly dropped: readonly (Dropped & { party: 'guest' | 'host' })[];
  readonly disclosures: readonly { readonly to: string; readonly type: string; readonly privacy: string; readonly count: number; readonly discloses: string }[];
}

export interface GainRow {
  readonly group: string;
  readonly rows: number;
  readonly events: number;
  readonly eventRate: number;
  readonly minPoints: number;
  readonly maxPoints: number;
  readonly lift: number;
  readonly cumulativeLift: number;
  /** Share of all events captured up to this group (the gain). */
  readonly cumulativeEventShare: number;
  readonly cumulativeNonEventShare: number;
  readonly ks: number;
}

export interface CalibrationRow {
  readonly band: string;
  readonly rows: number;
  readonly predictedRate: number;
  readonly observedRate: number;
}

export interface Band {
  readonly label: string;
  /** Lower edge (inclusive); −Infinity for the first band. */
  readonly from: number;
  /** Upper edge (exclusive); Infinity for the last band. */
  readonly to: number;
}

/**
 * Score bands of whole multiples of PDO over the training scores' 1st–99th percentiles (wider
 * multiples if that would give more than 12), open at both ends. Riskiest (lowest) first.
 */
export function scoreBands(points: ArrayLike<number>, pdo: number): Band[] {
  const sorted = Float64Array.from(points).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  let width = pdo;
  let lo = 0;
  let hi = 0;
  for (;;) {
    lo = Math.ceil(q(0.01) / width) * width;
    hi = Math.floor(q(0.99) / width) * width;
    if ((hi - lo) / width <= 10) break;
    width *= 2;
  }
  const edges: number[] = [];
  for (let e = lo; e <= hi; e += width) edges.push(e);
  if (edges.length === 0) edges.push(Math.round(q(0.5)));
  const bands: Band[] = [{ label: `< ${edges[0]}`, from: -Infinity, to: edges[0]! }];
  for (let k = 0; k + 1 < edges.length; k++) bands.push({ label: `[${edges[k]}, ${edges[k + 1]})`, from: edges[k]!, to: edges[k + 1]! });
  bands.push({ label: `≥ ${edges[edges.length - 1]}`, from: edges[edges.length - 1]!, to: Infinity });
  return bands;
}

function bandOf(bands: readonly Band[], p: number): number {
  for (let b = 0; b < bands.length; b++) if (p < bands[b]!.to) return b;
  return bands.length - 1;
}

/** Gain table over groups given in risk order (riskiest first). */
function gainTable(s: SampleScores, groups: readonly { label: string; rows: readonly number[] }[]): GainRow[] {
  let totalEvents = 0;
  const n = s.labels.length;
  for (let i = 0; i < n; i++) totalEvents += s.labels[i]!;
  const totalNon = n - totalEvents;
  const rate = totalEvents / Math.max(1, n);
  let cumE = 0;
  let cumN = 0;
  let cumRows = 0;
  return groups.map((g) => {
    let e = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of g.rows) {
      e += s.labels[i]!;
      lo = Math.min(lo, s.points[i]!);
      hi = Math.max(hi, s.points[i]!);
    }
    cumE += e;
    cumN += g.rows.length - e;
    cumRows += g.rows.length;
    const er = g.rows.length > 0 ? e / g.rows.length : 0;
    return {
      group: g.label,
      rows: g.rows.length,
      events: e,
      eventRate: er,
      minPoints: g.rows.length > 0 ? lo : NaN,
      maxPoints: g.rows.length > 0 ? hi : NaN,
      lift: rate > 0 ? er / rate : 0,
      cumulativeLift: rate > 0 && cumRows > 0 ? cumE / cumRows / rate : 0,
      cumulativeEventShare: totalEvents > 0 ? cumE / totalEvents : 0,
      cumulativeNonEventShare: totalNon > 0 ? cumN / totalNon : 0,
      ks: Math.abs((totalEvents > 0 ? cumE / totalEvents : 0) - (totalNon > 0 ? cumN / totalNon : 0)),
    };
  });
}

/** Deciles by predicted probability, riskiest first (ties broken by row order). */
export function liftByDecile(s: SampleScores): GainRow[] {
  const n = s.labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s.prob[b]! - s.prob[a]! || a - b);
  const groups = Array.from({ length: 10 }, (_, d) => ({
    label: String(d + 1),
    rows: order.slice(Math.floor((d * n) / 10), Math.floor(((d + 1) * n) / 10)),
  }));
  return gainTable(s, groups);
}

function bandRows(s: SampleScores, bands: readonly Band[]): number[][] {
  const rows: number[][] = bands.map(() => []);
  for (let i = 0; i < s.labels.length; i++) rows[bandOf(bands, s.points[i]!)]!.push(i);
  return rows;
}

export function liftByBand(s: SampleScores, bands: readonly Band[]): GainRow[] {
  const rows = bandRows(s, bands);
  return gainTable(s, bands.map((b, k) => ({ label: b.label, rows: rows[k]! })));
}

export function calibrationByBand(s: SampleScores, bands: readonly Band[]): CalibrationRow[] {
  return bandRows(s, bands).map((rows, k) => {
    let p = 0;
    let e = 0;
    for (const i of rows) {
      p += s.prob[i]!;
      e += s.labels[i]!;
    }
    return { band: bands[k]!.label, rows: rows.length, predictedRate: rows.length ? p / rows.length : 0, observedRate: rows.length ? e / rows.length : 0 };
  });
}

/** Population stability index of the score between train (expected) and test (actual) over the bands. */
export function scoreStability(train: SampleScores, test: SampleScores, bands: readonly Band[]) {
  const a = bandRows(train, bands).map((r) => r.length / Math.max(1, train.labels.length));
  const b = bandRows(test, bands).map((r) => r.length / Math.max(1, test.labels.length));
  const rows = bands.map((band, k) => ({ band: band.label, trainShare: a[k]!, testShare: b[k]!, contribution: stabilityTerm(a[k]!, b[k]!) }));
  return { stability: rows.reduce((s, r) => s + r.contribution, 0), bands: rows };
}

export interface ScorecardReport {
  readonly generated: string;
  readonly policy: 'full' | 'partial';
  readonly scaling: Scaling;
  readonly sample: { trainRows: number; testRows: number; trainEventRate: number; testEventRate: number };
  readonly discrimination: { train: BinaryMetrics; test: BinaryMetrics; testPointsAuc: number };
  readonly liftByDecile: { train: GainRow[]; test: GainRow[] };
  readonly liftByBand: { train: GainRow[]; test: GainRow[] };
  readonly calibration: { train: CalibrationRow[]; test: CalibrationRow[] };
  readonly stability: { score: ReturnType<typeof scoreStability>; characteristics: readonly StabilityRow[] };
  readonly ivTable: readonly {
    name: string;
    party: string;
    iv: number;
    kept: boolean;
    bins: { bin: string; rows: number; events: number; eventRate: number; woe: number; iv: number; points: number | null }[];
  }[];
  readonly coefficients: readonly (CoefficientRow & { z: number; pValue: number; signFlag: boolean })[];
  readonly selection: ReportInput['dropped'];
  readonly disclosures: ReportInput['disclosures'];
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length ? s / a.length : 0;
}

export function buildReport(r: ReportInput): ScorecardReport {
  const bands = scoreBands(r.train.points, r.scaling.pdo);
  const negPoints = Float64Array.from(r.test.points, (p) => -p);
  return {
    generated: new Date().toISOString(),
    policy: r.policy,
    scaling: r.scaling,
    sample: {
      trainRows: r.train.labels.length,
      testRows: r.test.labels.length,
      trainEventRate: mean(r.train.labels),
      testEventRate: mean(r.test.labels),
    },
    discrimination: {
      train: binaryMetrics(r.train.prob, r.train.labels),
      test: binaryMetrics(r.test.prob, r.test.labels),
      testPointsAuc: binaryMetrics(negPoints, r.test.labels).auc,
    },
    liftByDecile: { train: liftByDecile(r.train), test: liftByDecile(r.test) },
    liftByBand: { train: liftByBand(r.train, bands), test: liftByBand(r.test, bands) },
    calibration: { train: calibrationByBand(r.train, bands), test: calibrationByBand(r.test, bands) },
    stability: { score: scoreStability(r.train, r.test, bands), characteristics: r.stability },
    ivTable: r.characteristics.map((c) => ({
      name: c.name,
      party: c.party,
      iv: c.iv,
      kept: c.kept,
      bins: c.binLabels.map((label, b) => ({
        bin: label,
        rows: c.rows[b]!,
        events: c.events[b]!,
        eventRate: c.rows[b]! > 0 ? c.events[b]! / c.rows[b]! : 0,
        woe: c.woe[b]!,
        iv: c.ivBins[b]!,
        points: c.points ? c.points[b]! : null,
      })),
    })),
    coefficients: r.coefficients.map((c) => {
      const z = c.estimate / c.standardError;
      // WOE is ln(%goods / %bads): the coefficient of P(bad) keeps the WOE's direction when negative.
      return { ...c, z, pValue: waldPValue(z), signFlag: c.party !== 'intercept' && c.estimate > 0 };
    }),
    selection: r.dropped,
    disclosures: r.disclosures,
  };
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '—');
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function gainMarkdown(rows: readonly GainRow[], first: string): string {
  return table(
    [first, 'rows', 'events', 'event rate', 'points', 'lift', 'cum. lift', 'gain (cum. events)', 'cum. non-events', 'KS'],
    rows.map((g) => [g.group, g.rows, g.events, pct(g.eventRate), `${g.minPoints}–${g.maxPoints}`, g.lift.toFixed(2), g.cumulativeLift.toFixed(2), pct(g.cumulativeEventShare), pct(g.cumulativeNonEventShare), f4(g.ks)]),
  );
}

export function reportMarkdown(r: ScorecardReport): string {
  const d = r.discrimination;
  const out: string[] = [];
  out.push('# Scorecard validation report', '');
  out.push(
    `Generated ${r.generated}. Scaling: ${r.scaling.baseScore} points at odds ${r.scaling.baseOdds}:1, PDO ${r.scaling.pdo}. ` +
      `Platform disclosure policy: \`${r.policy}\`. Train ${r.sample.trainRows} rows (event rate ${pct(r.sample.trainEventRate)}), ` +
      `test ${r.sample.testRows} rows (event rate ${pct(r.sample.testEventRate)}).`,
    '',
  );
  out.push('## Discrimination', '');
  out.push(
    table(
      ['sample', 'AUC', 'KS', 'Gini', 'log-loss'],
      [
        ['train', f4(d.train.auc), f4(d.train.ks), f4(d.train.gini), f4(d.train.logLoss)],
        ['test', f4(d.test.auc), f4(d.test.ks), f4(d.test.gini), f4(d.test.logLoss)],
      ],
    ),
    '',
    `Test AUC of the integer points: ${f4(d.testPointsAuc)}.`,
    '',
  );
  out.push('## Lift and gain by decile (test, riskiest first)', '', gainMarkdown(r.liftByDecile.test, 'decile'), '');
  out.push('## Lift and gain by score band (test, riskiest first)', '', gainMarkdown(r.liftByBand.test, 'band'), '');
  out.push('## Calibration by score band', '');
  out.push(
    table(
      ['band', 'train rows', 'train predicted', 'train observed', 'test rows', 'test predicted', 'test observed'],
      r.calibration.test.map((t, k) => {
        const tr = r.calibration.train[k]!;
        return [t.band, tr.rows, pct(tr.predictedRate), pct(tr.observedRate), t.rows, pct(t.predictedRate), pct(t.observedRate)];
      }),
    ),
    '',
  );
  out.push(`## Stability`, '', `Score population stability index, PSI (stability), train → test: ${f4(r.stability.score.stability)}.`, '');
  out.push(table(['band', 'train share', 'test share', 'PSI (stability) term'], r.stability.score.bands.map((b) => [b.band, pct(b.trainShare), pct(b.testShare), f4(b.contribution)])), '');
  out.push(table(['feature', 'party', 'PSI (stability)', 'CSI (points)'], r.stability.characteristics.map((c) => [c.feature, c.party, f4(c.stability), c.csi.toFixed(2)])), '');
  out.push('## Coefficients', '');
  out.push(
    table(
      ['term', 'party', 'estimate', 'std. error', 'z', 'p-value', 'VIF', 'sign'],
      r.coefficients.map((c) => [c.name, c.party, f4(c.estimate), f4(c.standardError), c.z.toFixed(2), c.pValue.toExponential(2), c.vif === null ? '—' : c.vif.toFixed(2), c.signFlag ? 'INVERTS WOE' : 'ok']),
    ),
    '',
  );
  out.push('## Information value', '');
  for (const c of r.ivTable) {
    out.push(`### ${c.name} (${c.party}, IV ${f4(c.iv)}${c.kept ? '' : ', dropped'})`, '');
    out.push(
      table(
        ['bin', 'rows', 'events', 'event rate', 'WOE', 'IV', 'points'],
        c.bins.map((b) => [b.bin, b.rows, b.events, pct(b.eventRate), f4(b.woe), f4(b.iv), b.points === null ? 'withheld' : b.points]),
      ),
      '',
    );
  }
  out.push('## Feature selection', '');
  out.push(r.selection.length ? table(['feature', 'party', 'step', 'reason'], r.selection.map((s) => [s.feature, s.party, s.step, s.reason])) : 'No feature was dropped.', '');
  out.push('## Disclosures', '', 'What each party received during the job, from the declared message types:', '');
  out.push(table(['receiver', 'message', 'class', 'count', 'what it discloses'], r.disclosures.map((x) => [x.to, x.type, x.privacy, x.count, x.discloses])), '');
  return out.join('\n');
}
