/**
 * The report's figures of the model: characteristic stability, WOE and event rate per bin for every
 * characteristic (one figure each, kept and dropped alike), and the coefficients with their
 * standard errors (box ±1 SE, whiskers the 95% Wald interval) and Wald p-values.
 */
import { woeFigureId, type ScorecardReport } from './report.ts';
import { categoryAxis, COLOR, f4, frame, num, pct, SEP, valueAxis, type Figure } from './chart-kit.ts';

function characteristicStability(r: ScorecardReport): Figure {
  const c = r.stability.characteristics;
  return {
    id: 'characteristic-stability',
    title: { en: 'Characteristic stability', zh: '特征稳定性' },
    option: frame({
      xAxis: categoryAxis('Characteristic', c.map((x) => x.feature)),
      yAxis: [valueAxis('PSI (stability)'), valueAxis('CSI (points)', { position: 'right', splitLine: { show: false } })],
      series: [
        {
          name: 'PSI (stability)',
          type: 'bar',
          data: c.map((x) => num(x.stability)),
          itemStyle: { color: COLOR.test },
          // The usual reading: under 0.1 stable, 0.1–0.25 watch, over 0.25 shifted.
          markLine: { symbol: 'none', silent: true, data: [{ yAxis: 0.1 }, { yAxis: 0.25 }], lineStyle: { type: 'dotted', color: COLOR.bad } },
        },
        { name: 'CSI (points)', type: 'scatter', yAxisIndex: 1, data: c.map((x) => num(x.csi)), symbolSize: 9, itemStyle: { color: COLOR.train } },
      ],
    }),
  };
}

function woe(c: ScorecardReport['ivTable'][number], k: number): Figure {
  const differs = c.bins.some((b) => b.modelWoe !== b.woe);
  const sub = [`IV ${f4(c.iv)}`, ...(c.modelIv !== c.iv ? [`model WOE${SEP}IV ${f4(c.modelIv)}`] : []), c.party, c.kept ? 'kept' : 'dropped'];
  return {
    id: woeFigureId(c, k),
    title: { en: `WOE and event rate: ${c.name}`, zh: `WOE 与违约率：${c.name}` },
    option: frame({
      title: { subtext: sub.join(SEP), left: 'center', top: 24 },
      xAxis: categoryAxis('Bin', c.bins.map((b) => b.bin)),
      yAxis: [valueAxis('WOE'), valueAxis('Event rate (%)', { position: 'right', splitLine: { show: false } })],
      series: [
        { name: 'WOE', type: 'bar', data: c.bins.map((b) => num(b.woe)), itemStyle: { color: COLOR.test } },
        ...(differs ? [{ name: 'model WOE', type: 'bar', data: c.bins.map((b) => num(b.modelWoe)), itemStyle: { color: COLOR.train } }] : []),
        { name: 'event rate', type: 'line', yAxisIndex: 1, data: c.bins.map((b) => pct(b.eventRate)), lineStyle: { width: 2, color: COLOR.bad }, itemStyle: { color: COLOR.bad } },
      ],
    }),
  };
}

/** The p-value as a short language-neutral label. */
function pLabel(p: number): string {
  if (!Number.isFinite(p)) return 'p —';
  if (p < Number.MIN_VALUE) return 'p < 1e-300';
  return `p ${p < 1e-4 ? p.toExponential(1) : p.toFixed(4)}`;
}

function coefficients(r: ScorecardReport): Figure {
  const c = r.coefficients;
  const z95 = 1.959963984540054;
  return {
    id: 'coefficients',
    title: { en: 'Coefficients with standard errors and p-values', zh: '系数、标准误与 p 值' },
    option: frame({
      tooltip: { trigger: 'item' },
      grid: { left: 64, right: 48, top: 72, bottom: 72, containLabel: true },
      // Terms down the side, first at the top: long names stay readable.
      yAxis: { type: 'category', name: 'Term', nameLocation: 'start', inverse: true, data: c.map((x) => `${x.name}${SEP}${pLabel(x.pValue)}`), axisLabel: { interval: 0 }, axisLine: { onZero: false } },
      xAxis: valueAxis('Coefficient', { nameGap: 32 }),
      series: [
        {
          name: '±1 SE (box), 95% CI (whiskers)',
          type: 'boxplot',
          boxWidth: [4, 14],
          data: c.map((x) => {
            const e = x.estimate;
            const s = x.standardError;
            return Number.isFinite(e) && Number.isFinite(s) ? [e - z95 * s, e - s, e, e + s, e + z95 * s] : ['-', '-', '-', '-', '-'];
          }),
          itemStyle: { color: '#ffffff', borderColor: COLOR.test },
        },
        {
          name: 'estimate',
          type: 'scatter',
          data: c.map((x, k) => [num(x.estimate), k]),
          symbolSize: 8,
          itemStyle: { color: COLOR.bad },
          markLine: { symbol: 'none', silent: true, data: [{ xAxis: 0 }], label: { show: false }, lineStyle: { type: 'solid', color: COLOR.neutral } },
        },
      ],
    }),
  };
}

/** Characteristic stability, one WOE figure per characteristic, and the coefficients. */
export function modelFigures(r: ScorecardReport): Figure[] {
  return [characteristicStability(r), ...r.ivTable.map((c, k) => woe(c, k)), coefficients(r)];
}
