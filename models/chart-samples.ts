/**
 * The report's figures of the score on the two samples: ROC, KS curve, score distributions of
 * goods and bads, cumulative lift and gain, calibration and population stability. The test
 * sample's ROC and KS curves are exact (every corner of its ROC, `report.curves.test`); the
 * training sample's are drawn through its deciles, the only aggregates of it the bank receives
 * from the arbiter (protocols/scorecard/arbiter.ts), and so lie on or below its exact curves.
 */
import type { GainRow, ScorecardReport } from './report.ts';
import { categoryAxis, COLOR, diagonal, f4, frame, num, pct, SEP, valueAxis, type Figure } from './chart-kit.ts';

/** Points of the test sample's ROC: [false positive rate, true positive rate], from (0, 0) to (1, 1); none if a class is absent. */
export function testRocPoints(r: ScorecardReport): [number, number][] {
  const { events, nonEvents } = r.curves.test;
  const p = events[events.length - 1]!;
  const n = nonEvents[nonEvents.length - 1]!;
  if (!(p > 0 && n > 0)) return [];
  return events.map((e, k) => [nonEvents[k]! / n, e / p]);
}

/** The training sample's ROC through its deciles: (0, 0), then the cumulative shares after each decile. */
export function decileRocPoints(rows: readonly GainRow[]): [number, number][] {
  return [[0, 0], ...rows.map((g): [number, number] => [g.cumulativeNonEventShare, g.cumulativeEventShare])];
}

/** Cumulative population share after each decile (or band) of a gain table. */
function cumulativeShares(rows: readonly GainRow[]): number[] {
  const n = rows.reduce((s, g) => s + g.rows, 0);
  let c = 0;
  return rows.map((g) => (c += g.rows) / Math.max(1, n));
}

function roc(r: ScorecardReport): Figure {
  const d = r.discrimination;
  return {
    id: 'roc',
    title: { en: 'ROC curve', zh: 'ROC 曲线' },
    option: frame({
      xAxis: valueAxis('False positive rate (share of non-events)', { min: 0, max: 1 }),
      yAxis: valueAxis('True positive rate (share of events)', { min: 0, max: 1 }),
      series: [
        { name: `test${SEP}AUC ${f4(d.test.auc)}`, type: 'line', data: testRocPoints(r), showSymbol: false, lineStyle: { width: 2, color: COLOR.test }, itemStyle: { color: COLOR.test } },
        { name: `train${SEP}AUC ${f4(d.train.auc)}`, type: 'line', data: decileRocPoints(r.liftByDecile.train), symbolSize: 5, lineStyle: { width: 2, color: COLOR.train }, itemStyle: { color: COLOR.train } },
        diagonal(),
      ],
    }),
  };
}

/** The test sample's KS curve: [population share, |TPR − FPR|] at every corner of its ROC; none if a class is absent. */
export function testKsGap(r: ScorecardReport): [number, number][] {
  const { events, nonEvents } = r.curves.test;
  const p = events[events.length - 1]!;
  const n = nonEvents[nonEvents.length - 1]!;
  if (!(p > 0 && n > 0)) return [];
  return events.map((e, k) => [(e + nonEvents[k]!) / (p + n), Math.abs(e / p - nonEvents[k]! / n)]);
}

function ks(r: ScorecardReport): Figure {
  const { events, nonEvents } = r.curves.test;
  const p = events[events.length - 1]!;
  const n = nonEvents[nonEvents.length - 1]!;
  const gap = testKsGap(r);
  const x = gap.map((g) => g[0]);
  let best = 0;
  for (let k = 1; k < gap.length; k++) if (gap[k]![1] > gap[best]![1]) best = k;
  const trainX = [0, ...cumulativeShares(r.liftByDecile.train)];
  const line = (color: string, width = 2) => ({ showSymbol: false, lineStyle: { width, color }, itemStyle: { color } });
  return {
    id: 'ks',
    title: { en: 'KS curve', zh: 'KS 曲线' },
    option: frame({
      xAxis: valueAxis('Population share, riskiest first', { min: 0, max: 1 }),
      yAxis: valueAxis('Cumulative share', { min: 0, max: 1 }),
      series: [
        { name: `test${SEP}cum. events`, type: 'line', data: x.map((v, k) => [v, events[k]! / p]), ...line(COLOR.bad) },
        { name: `test${SEP}cum. non-events`, type: 'line', data: x.map((v, k) => [v, nonEvents[k]! / n]), ...line(COLOR.good) },
        {
          name: `test${SEP}KS gap`,
          type: 'line',
          data: gap,
          ...line(COLOR.test),
          markLine: { symbol: 'none', silent: true, data: gap.length ? [{ xAxis: gap[best]![0] }] : [], label: { formatter: `KS ${f4(r.discrimination.test.ks)}` }, lineStyle: { type: 'dotted', color: COLOR.test } },
        },
        { name: `train${SEP}KS gap`, type: 'line', data: [[0, 0], ...r.liftByDecile.train.map((g, k): [number, number] => [trainX[k + 1]!, g.ks])], symbolSize: 5, lineStyle: { width: 2, type: 'dashed', color: COLOR.train }, itemStyle: { color: COLOR.train } },
      ],
    }),
  };
}

function distribution(r: ScorecardReport): Figure {
  const share = (rows: readonly GainRow[], good: boolean) => {
    const total = rows.reduce((s, g) => s + (good ? g.rows - g.events : g.events), 0);
    return rows.map((g) => pct((good ? g.rows - g.events : g.events) / Math.max(1, total)));
  };
  const t = r.liftByBand.test;
  const tr = r.liftByBand.train;
  return {
    id: 'score-distribution',
    title: { en: 'Score distribution of goods and bads', zh: '好坏客户的分数分布' },
    option: frame({
      xAxis: categoryAxis('Score band (points), riskiest first', t.map((g) => g.group)),
      yAxis: valueAxis('Share of the class (%)'),
      series: [
        { name: `test${SEP}goods`, type: 'bar', data: share(t, true), itemStyle: { color: COLOR.good } },
        { name: `test${SEP}bads`, type: 'bar', data: share(t, false), itemStyle: { color: COLOR.bad } },
        { name: `train${SEP}goods`, type: 'line', data: share(tr, true), lineStyle: { type: 'dashed', color: COLOR.good }, itemStyle: { color: COLOR.good } },
        { name: `train${SEP}bads`, type: 'line', data: share(tr, false), lineStyle: { type: 'dashed', color: COLOR.bad }, itemStyle: { color: COLOR.bad } },
      ],
    }),
  };
}

function lift(r: ScorecardReport): Figure {
  const { train, test } = r.liftByDecile;
  return {
    id: 'lift',
    title: { en: 'Lift by decile', zh: '各十分位提升度' },
    option: frame({
      xAxis: categoryAxis('Decile, riskiest first', test.map((g) => g.group)),
      yAxis: valueAxis('Lift'),
      series: [
        { name: `test${SEP}lift`, type: 'bar', data: test.map((g) => num(g.lift)), itemStyle: { color: COLOR.test, opacity: 0.35 } },
        { name: `test${SEP}cum. lift`, type: 'line', data: test.map((g) => num(g.cumulativeLift)), lineStyle: { width: 2, color: COLOR.test }, itemStyle: { color: COLOR.test } },
        { name: `train${SEP}cum. lift`, type: 'line', data: train.map((g) => num(g.cumulativeLift)), lineStyle: { width: 2, type: 'dashed', color: COLOR.train }, itemStyle: { color: COLOR.train } },
      ],
    }),
  };
}

function gain(r: ScorecardReport): Figure {
  const curve = (rows: readonly GainRow[]) => {
    const x = cumulativeShares(rows);
    return [[0, 0], ...rows.map((g, k) => [x[k]!, num(g.cumulativeEventShare)])];
  };
  return {
    id: 'gain',
    title: { en: 'Cumulative gain', zh: '累计捕获率' },
    option: frame({
      xAxis: valueAxis('Population share, riskiest first', { min: 0, max: 1 }),
      yAxis: valueAxis('Cumulative gain (share of events)', { min: 0, max: 1 }),
      series: [
        { name: 'test', type: 'line', data: curve(r.liftByDecile.test), lineStyle: { width: 2, color: COLOR.test }, itemStyle: { color: COLOR.test } },
        { name: 'train', type: 'line', data: curve(r.liftByDecile.train), lineStyle: { width: 2, type: 'dashed', color: COLOR.train }, itemStyle: { color: COLOR.train } },
        diagonal(),
      ],
    }),
  };
}

function calibration(r: ScorecardReport): Figure {
  const { train, test } = r.calibration;
  return {
    id: 'calibration',
    title: { en: 'Calibration by score band', zh: '分数段校准' },
    option: frame({
      xAxis: categoryAxis('Score band (points), riskiest first', test.map((c) => c.band)),
      yAxis: valueAxis('Event rate (%)'),
      series: [
        { name: `test${SEP}observed`, type: 'bar', data: test.map((c) => pct(c.observedRate)), itemStyle: { color: COLOR.test } },
        { name: `train${SEP}observed`, type: 'bar', data: train.map((c) => pct(c.observedRate)), itemStyle: { color: COLOR.train } },
        { name: `test${SEP}predicted`, type: 'line', data: test.map((c) => pct(c.predictedRate)), lineStyle: { width: 2, color: COLOR.test }, itemStyle: { color: COLOR.test } },
        { name: `train${SEP}predicted`, type: 'line', data: train.map((c) => pct(c.predictedRate)), lineStyle: { width: 2, type: 'dashed', color: COLOR.train }, itemStyle: { color: COLOR.train } },
      ],
    }),
  };
}

function scoreStability(r: ScorecardReport): Figure {
  const s = r.stability.score;
  return {
    id: 'score-stability',
    title: { en: 'Population stability of the score', zh: '分数的群体稳定性' },
    option: frame({
      title: { subtext: `PSI ${f4(s.stability)}`, left: 'center', top: 24 },
      xAxis: categoryAxis('Score band (points), riskiest first', s.bands.map((b) => b.band)),
      yAxis: [valueAxis('Share of the sample (%)'), valueAxis('PSI term', { position: 'right', splitLine: { show: false } })],
      series: [
        { name: 'train', type: 'bar', data: s.bands.map((b) => pct(b.trainShare)), itemStyle: { color: COLOR.train } },
        { name: 'test', type: 'bar', data: s.bands.map((b) => pct(b.testShare)), itemStyle: { color: COLOR.test } },
        { name: 'PSI term', type: 'line', yAxisIndex: 1, data: s.bands.map((b) => num(b.contribution)), lineStyle: { color: COLOR.neutral }, itemStyle: { color: COLOR.neutral } },
      ],
    }),
  };
}

/** The figures of the score on the training and test samples. */
export function sampleFigures(r: ScorecardReport): Figure[] {
  return [roc(r), ks(r), distribution(r), lift(r), gain(r), calibration(r), scoreStability(r)];
}
