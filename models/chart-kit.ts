/**
 * What every figure of the validation report shares: the {@link Figure} type, the English →
 * Chinese table of every text the options use, the option's localisation, and small option
 * builders. An option is plain JSON (no function, no class instance, no NaN): the same object is
 * drawn by ECharts in the console and by its server-side SVG renderer for the report files.
 *
 * Texts in an option are English; {@link localiseOption} translates every string that is in
 * {@link ZH}, and each part of a string joined by {@link SEP} (so `train · AUC 0.7712` becomes
 * `训练样本 · AUC 0.7712`). Numbers are written language-neutrally (`AUC 0.7712`, `p 1.2e-5`).
 */

export type Lang = 'en' | 'zh';

/** One chart of the report: a JSON-serialisable ECharts option and its title in both languages. */
export interface Figure {
  /** File-safe and unique within a report (`roc`, `woe-x3`): the report files are `figures/<id>.svg`. */
  id: string;
  title: { en: string; zh: string };
  option: Record<string, unknown>;
}

/** Joins the parts of a composite text; each part is translated on its own. */
export const SEP = ' · ';

/** Every English text the options use, in Chinese. */
export const ZH: Readonly<Record<string, string>> = {
  train: '训练样本',
  test: '测试样本',
  random: '随机',
  'False positive rate (share of non-events)': '假正率（非违约占比）',
  'True positive rate (share of events)': '真正率（违约占比）',
  'Population share, riskiest first': '人群占比（风险从高到低）',
  'Cumulative share': '累计占比',
  'cum. events': '累计违约',
  'cum. non-events': '累计非违约',
  'KS gap': 'KS 差值',
  'Score band (points), riskiest first': '分数段（分），风险从高到低',
  'Share of the class (%)': '类内占比（%）',
  goods: '好客户',
  bads: '坏客户',
  'Decile, riskiest first': '十分位（风险从高到低）',
  Lift: '提升度',
  lift: '提升度',
  'cum. lift': '累计提升度',
  'Cumulative gain (share of events)': '累计捕获率（违约占比）',
  'Event rate (%)': '违约率（%）',
  predicted: '预测',
  observed: '实际',
  'Share of the sample (%)': '样本占比（%）',
  'PSI term': 'PSI 分项',
  Characteristic: '特征',
  'PSI (stability)': 'PSI（稳定性）',
  'CSI (points)': 'CSI（分值）',
  Bin: '分箱',
  WOE: 'WOE',
  'model WOE': '模型 WOE',
  'event rate': '违约率',
  Coefficient: '系数',
  Term: '变量',
  estimate: '估计值',
  '±1 SE (box), 95% CI (whiskers)': '±1 标准误（箱体），95% 置信区间（须线）',
  intercept: '截距',
  '(intercept)': '（截距）',
  dropped: '已剔除',
  kept: '入模',
  guest: '银行',
  host: '平台',
  missing: '缺失',
};

/** The option with its texts in `lang` (a deep copy; English returns the same texts). */
export function localiseOption(option: Record<string, unknown>, lang: Lang): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return lang === 'zh' ? v.split(SEP).map((p) => ZH[p] ?? p).join(SEP) : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(option) as Record<string, unknown>;
}

/** A finite number, or ECharts' missing-value mark (NaN and ±∞ are not JSON). */
export function num(x: number | null | undefined): number | '-' {
  return typeof x === 'number' && Number.isFinite(x) ? x : '-';
}

/** A percentage to two decimals, for axes in %. */
export function pct(x: number): number | '-' {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 100 : '-';
}

export const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '—');

/** Colours: the two samples and the two classes, the same in every figure. */
export const COLOR = { test: '#2f6fb3', train: '#e0822d', good: '#3a9b5c', bad: '#c8423b', neutral: '#8a8f98' } as const;

/** The frame every figure shares: legend at the bottom, room for the title above. */
export function frame(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    backgroundColor: '#ffffff',
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0, type: 'plain', itemGap: 20 },
    grid: { left: 64, right: 64, top: 72, bottom: 84, containLabel: true },
    ...extra,
  };
}

export function valueAxis(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'value', name, nameLocation: 'middle', nameGap: 52, ...extra };
}

export function categoryAxis(name: string, data: readonly string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'category', name, nameLocation: 'middle', nameGap: 56, data: [...data], axisLabel: { interval: 0, rotate: data.join('').length > 48 ? 30 : 0 }, ...extra };
}

/** The diagonal of a unit square, dashed: the random model of ROC and gain. */
export function diagonal(): Record<string, unknown> {
  return { name: 'random', type: 'line', data: [[0, 0], [1, 1]], showSymbol: false, lineStyle: { type: 'dashed', color: COLOR.neutral, width: 1 }, itemStyle: { color: COLOR.neutral } };
}

/** A figure id from free text (a feature name): file-safe, never empty. */
export function safeId(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return t.length ? t.slice(0, 80) : 'x';
}
