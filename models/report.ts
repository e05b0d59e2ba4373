/**
 * The scorecard validation report, as a model-validation unit reads it: discrimination (AUC, KS,
 * Gini), lift and gain by decile and by score band, calibration by band, population stability of
 * the score and characteristic stability per feature, the IV table with every bin, coefficients
 * with standard errors, Wald p-values and VIF, and the selection log. JSON and Markdown. The
 * training sample enters as aggregates only ({@link SampleSummary}, computed where its rows are),
 * the test sample as rows.
 */
import { binaryMetrics, rocCounts, type BinaryMetrics, type RocCounts } from './metrics.ts';
import type { Dropped } from './selection.ts';
import { stabilityTerm } from './stability.ts';
import { safeId } from './chart-kit.ts';
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
  /**
   * The WOE and IV the model used, when they are not the exact ones above: a platform
   * characteristic's come from differentially private event counts (protocols/scorecard/label-privacy.ts).
   */
  readonly model?: { readonly woe: ArrayLike<number>; readonly iv: number; readonly note: string };
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
  /** The training sample as aggregates only, over the bands of {@link bandEdges}. */
  readonly train: SampleSummary;
  /** Band edges from the training points. */
  readonly bandEdges: readonly number[];
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
 * Score band edges: whole multiples of PDO over the training scores' 1st–99th percentiles (wider
 * multiples if that would give more than 12 bands). The bands are open at both ends.
 */
export function bandEdges(points: ArrayLike<number>, pdo: number): number[] {
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
  return edges;
}

/** The bands between increasing edges, open at both ends, riskiest (lowest) first. */
export function bandsFromEdges(edges: readonly number[]): Band[] {
  const bands: Band[] = [{ label: `< ${edges[0]}`, from: -Infinity, to: edges[0]! }];
  for (let k = 0; k + 1 < edges.length; k++) bands.push({ label: `[${edges[k]}, ${edges[k + 1]})`, from: edges[k]!, to: edges[k + 1]! });
  bands.push({ label: `≥ ${edges[edges.length - 1]}`, from: edges[edges.length - 1]!, to: Infinity });
  return bands;
}

/** Score bands of the training points (see {@link bandEdges}). */
export function scoreBands(points: ArrayLike<number>, pdo: number): Band[] {
  return bandsFromEdges(bandEdges(points, pdo));
}

function bandOf(bands: readonly Band[], p: number): number {
  for (let b = 0; b < bands.length; b++) if (p < bands[b]!.to) return b;
  return bands.length - 1;
}

/** What the report needs of one group of rows (a decile or a score band). */
export interface GroupCounts {
  readonly rows: number;
  readonly events: number;
  /** Lowest and highest total points in the group (NaN when empty). */
  readonly minPoints: number;
  readonly maxPoints: number;
  /** Σ predicted probability over the group. */
  readonly predicted: number;
}

/**
 * Everything the report uses of one sample, as aggregates: its discrimination metrics and the
 * counts of its deciles (by predicted probability, riskiest first) and score bands. For the
 * training sample these are computed by the arbiter (protocols/scorecard/arbiter.ts), so that no
 * per-row training value of the platform reaches the bank.
 */
export interface SampleSummary {
  readonly metrics: BinaryMetrics;
  readonly deciles: readonly GroupCounts[];
  readonly bands: readonly GroupCounts[];
}

function groupCounts(s: SampleScores, rows: readonly number[]): GroupCounts {
  let e = 0;
  let p = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of rows) {
    e += s.labels[i]!;
    p += s.prob[i]!;
    lo = Math.min(lo, s.points[i]!);
    hi = Math.max(hi, s.points[i]!);
  }
  return { rows: rows.length, events: e, minPoints: rows.length ? lo : NaN, maxPoints: rows.length ? hi : NaN, predicted: p };
}

/** Deciles by predicted probability, riskiest first (ties broken by row order). */
function decileRows(s: SampleScores): number[][] {
  const n = s.labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s.prob[b]! - s.prob[a]! || a - b);
  return Array.from({ length: 10 }, (_, d) => order.slice(Math.floor((d * n) / 10), Math.floor(((d + 1) * n) / 10)));
}

function bandRows(s: SampleScores, bands: readonly Band[]): number[][] {
  const rows: number[][] = bands.map(() => []);
  for (let i = 0; i < s.labels.length; i++) rows[bandOf(bands, s.points[i]!)]!.push(i);
  return rows;
}

/** The aggregates of one sample over the given score bands. */
export function summariseSample(s: SampleScores, bands: readonly Band[]): SampleSummary {
  return {
    metrics: binaryMetrics(s.prob, s.labels),
    deciles: decileRows(s).map((r) => groupCounts(s, r)),
    bands: bandRows(s, bands).map((r) => groupCounts(s, r)),
  };
}

/** Gain table over groups given in risk order (riskiest first). */
function gainTable(groups: readonly GroupCounts[], labels: readonly string[]): GainRow[] {
  let n = 0;
  let totalEvents = 0;
  for (const g of groups) {
    n += g.rows;
    totalEvents += g.events;
  }
  const totalNon = n - totalEvents;
  const rate = totalEvents / Math.max(1, n);
  let cumE = 0;
  let cumN = 0;
  let cumRows = 0;
  return groups.map((g, k) => {
    const e = g.events;
    cumE += e;
    cumN += g.rows - e;
    cumRows += g.rows;
    const er = g.rows > 0 ? e / g.rows : 0;
    return {
      group: labels[k]!,
      rows: g.rows,
      events: e,
      eventRate: er,
      minPoints: g.minPoints,
      maxPoints: g.maxPoints,
      lift: rate > 0 ? er / rate : 0,
      cumulativeLift: rate > 0 && cumRows > 0 ? cumE / cumRows / rate : 0,
      cumulativeEventShare: totalEvents > 0 ? cumE / totalEvents : 0,
      cumulativeNonEventShare: totalNon > 0 ? cumN / totalNon : 0,
      ks: Math.abs((totalEvents > 0 ? cumE / totalEvents : 0) - (totalNon > 0 ? cumN / totalNon : 0)),
    };
  });
}

const DECILES = Array.from({ length: 10 }, (_, d) => String(d + 1));

export function liftByDecile(s: SampleSummary): GainRow[] {
  return gainTable(s.deciles, DECILES);
}

export function liftByBand(s: SampleSummary, bands: readonly Band[]): GainRow[] {
  return gainTable(s.bands, bands.map((b) => b.label));
}

export function calibrationByBand(s: SampleSummary, bands: readonly Band[]): CalibrationRow[] {
  return s.bands.map((g, k) => ({
    band: bands[k]!.label,
    rows: g.rows,
    predictedRate: g.rows ? g.predicted / g.rows : 0,
    observedRate: g.rows ? g.events / g.rows : 0,
  }));
}

/** Population stability index of the score between train (expected) and test (actual) over the bands. */
export function scoreStability(train: SampleSummary, test: SampleSummary, bands: readonly Band[]) {
  const share = (s: SampleSummary) => s.bands.map((g) => g.rows / Math.max(1, s.metrics.n));
  const a = share(train);
  const b = share(test);
  const rows = bands.map((band, k) => ({ band: band.label, trainShare: a[k]!, testShare: b[k]!, contribution: stabilityTerm(a[k]!, b[k]!) }));
  return { stability: rows.reduce((s, r) => s + r.contribution, 0), bands: rows };
}

export interface ScorecardReport {
  readonly generated: string;
  readonly policy: 'full' | 'partial';
  readonly scaling: Scaling;
  readonly sample: { trainRows: number; testRows: number; trainEventRate: number; testEventRate: number };
  readonly discrimination: { train: BinaryMetrics; test: BinaryMetrics; testPointsAuc: number };
  /**
   * The test sample's ROC curve by predicted probability (its corners, as cumulative counts): the
   * bank holds the test rows. The training sample's curve is drawn from its deciles only, the
   * aggregates the arbiter returns (models/charts.ts).
   */
  readonly curves: { test: RocCounts };
  readonly liftByDecile: { train: GainRow[]; test: GainRow[] };
  readonly liftByBand: { train: GainRow[]; test: GainRow[] };
  readonly calibration: { train: CalibrationRow[]; test: CalibrationRow[] };
  readonly stability: { score: ReturnType<typeof scoreStability>; characteristics: readonly StabilityRow[] };
  readonly ivTable: readonly {
    name: string;
    party: string;
    iv: number;
    /** The IV the model's selection used (differs from `iv` for platform characteristics). */
    modelIv: number;
    /** Which WOE the model used. */
    woeUsed: string;
    kept: boolean;
    bins: { bin: string; rows: number; events: number; eventRate: number; woe: number; modelWoe: number; iv: number; points: number | null }[];
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
  const bands = bandsFromEdges(r.bandEdges);
  const test = summariseSample(r.test, bands);
  const negPoints = Float64Array.from(r.test.points, (p) => -p);
  return {
    generated: new Date().toISOString(),
    policy: r.policy,
    scaling: r.scaling,
    sample: {
      trainRows: r.train.metrics.n,
      testRows: r.test.labels.length,
      trainEventRate: r.train.metrics.n ? r.train.metrics.events / r.train.metrics.n : 0,
      testEventRate: mean(r.test.labels),
    },
    discrimination: {
      train: r.train.metrics,
      test: test.metrics,
      testPointsAuc: binaryMetrics(negPoints, r.test.labels).auc,
    },
    curves: { test: rocCounts(r.test.prob, r.test.labels) },
    liftByDecile: { train: liftByDecile(r.train), test: liftByDecile(test) },
    liftByBand: { train: liftByBand(r.train, bands), test: liftByBand(test, bands) },
    calibration: { train: calibrationByBand(r.train, bands), test: calibrationByBand(test, bands) },
    stability: { score: scoreStability(r.train, test, bands), characteristics: r.stability },
    ivTable: r.characteristics.map((c) => ({
      name: c.name,
      party: c.party,
      iv: c.iv,
      modelIv: c.model ? c.model.iv : c.iv,
      woeUsed: c.model ? c.model.note : 'the exact WOE',
      kept: c.kept,
      bins: c.binLabels.map((label, b) => ({
        bin: label,
        rows: c.rows[b]!,
        events: c.events[b]!,
        eventRate: c.rows[b]! > 0 ? c.events[b]! / c.rows[b]! : 0,
        woe: c.woe[b]!,
        modelWoe: c.model ? c.model.woe[b]! : c.woe[b]!,
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

/**
 * The id of characteristic k's WOE figure (models/chart-model.ts): `woe-<name>` (names carry their
 * party, `guest_x1`), file-safe, with k added when the name had to be changed to be.
 */
export function woeFigureId(c: { readonly name: string }, k: number): string {
  const safe = safeId(c.name);
  return safe === c.name ? `woe-${safe}` : `woe-${safe}-${k}`;
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

/**
 * The report in Markdown. `figure`, when given, returns the Markdown of the figure with that id
 * (models/charts.ts: an image line, see models/report-files.ts), placed after the table it draws.
 */
export function reportMarkdown(r: ScorecardReport, figure?: (id: string) => string): string {
  const d = r.discrimination;
  const out: string[] = [];
  const fig = (...ids: string[]) => {
    if (figure) for (const id of ids) out.push(figure(id), '');
  };
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
  fig('roc', 'ks');
  out.push('## Lift and gain by decile (test, riskiest first)', '', gainMarkdown(r.liftByDecile.test, 'decile'), '');
  fig('lift', 'gain');
  out.push('## Lift and gain by score band (test, riskiest first)', '', gainMarkdown(r.liftByBand.test, 'band'), '');
  fig('score-distribution');
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
  fig('calibration');
  out.push(`## Stability`, '', `Score population stability index, PSI (stability), train → test: ${f4(r.stability.score.stability)}.`, '');
  out.push(table(['band', 'train share', 'test share', 'PSI (stability) term'], r.stability.score.bands.map((b) => [b.band, pct(b.trainShare), pct(b.testShare), f4(b.contribution)])), '');
  fig('score-stability');
  out.push(table(['feature', 'party', 'PSI (stability)', 'CSI (points)'], r.stability.characteristics.map((c) => [c.feature, c.party, f4(c.stability), c.csi.toFixed(2)])), '');
  fig('characteristic-stability');
  out.push('## Coefficients', '');
  out.push(
    table(
      ['term', 'party', 'estimate', 'std. error', 'z', 'p-value', 'VIF', 'sign'],
      r.coefficients.map((c) => [c.name, c.party, f4(c.estimate), f4(c.standardError), Number.isFinite(c.z) ? c.z.toFixed(2) : '—', Number.isFinite(c.pValue) ? c.pValue.toExponential(2) : '—', c.vif === null ? '—' : c.vif.toFixed(2), c.signFlag ? 'INVERTS WOE' : 'ok']),
    ),
    '',
  );
  fig('coefficients');
  out.push('## Information value', '');
  for (const [k, c] of r.ivTable.entries()) {
    out.push(`### ${c.name} (${c.party}, IV ${f4(c.iv)}${c.modelIv !== c.iv ? `, model IV ${f4(c.modelIv)}` : ''}${c.kept ? '' : ', dropped'})`, '');
    out.push(`Model WOE: ${c.woeUsed}.`, '');
    out.push(
      table(
        ['bin', 'rows', 'events', 'event rate', 'WOE', 'model WOE', 'IV', 'points'],
        c.bins.map((b) => [b.bin, b.rows, b.events, pct(b.eventRate), f4(b.woe), f4(b.modelWoe), f4(b.iv), b.points === null ? 'withheld' : b.points]),
      ),
      '',
    );
    fig(woeFigureId(c, k));
  }
  out.push('## Feature selection', '');
  out.push(r.selection.length ? table(['feature', 'party', 'step', 'reason'], r.selection.map((s) => [s.feature, s.party, s.step, s.reason])) : 'No feature was dropped.', '');
  out.push('## Disclosures', '', 'What each party received during the job, from the declared message types:', '');
  out.push(table(['receiver', 'message', 'class', 'count', 'what it discloses'], r.disclosures.map((x) => [x.to, x.type, x.privacy, x.count, x.discloses])), '');
  return out.join('\n');
}
