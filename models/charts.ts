/**
 * The validation report's charts, as Apache ECharts options: drawn by the console in the browser
 * and, through ECharts' server-side SVG renderer (no canvas, no native module), into the report
 * files. Every figure comes from the report alone, so it shows exactly what the bank may see:
 * the test sample as rows, the training sample as the arbiter's aggregates (its deciles and score
 * bands), never a per-row value of the platform (models/report.ts).
 *
 * Figures, in report order: `roc`, `ks`, `score-distribution`, `lift`, `gain`, `calibration`,
 * `score-stability`, `characteristic-stability`, `woe-<name>` (one per characteristic),
 * `coefficients`. Their texts are English; {@link localiseOption} gives them in Chinese.
 */
import { createRequire } from 'node:module';
import type { ScorecardReport } from './report.ts';
import { localiseOption, type Figure, type Lang } from './chart-kit.ts';
import { sampleFigures } from './chart-samples.ts';
import { modelFigures } from './chart-model.ts';

export type { Figure, Lang } from './chart-kit.ts';
export { localiseOption, ZH } from './chart-kit.ts';
export { decileRocPoints, testKsGap, testRocPoints } from './chart-samples.ts';

/** Every figure of a scorecard validation report (see the list above). */
export function reportFigures(report: ScorecardReport): Figure[] {
  return [...sampleFigures(report), ...modelFigures(report)];
}

/** The option as drawn: texts in `lang`, the title on top, no animation (a still image). */
export function drawnOption(fig: Figure, lang: Lang = 'en'): Record<string, unknown> {
  const o = localiseOption(fig.option, lang);
  const title = (o.title ?? {}) as Record<string, unknown>;
  return { ...o, animation: false, title: { left: 'center', top: 4, ...title, text: fig.title[lang] } };
}

type ECharts = typeof import('echarts');
let echarts: ECharts | undefined;
/** ECharts, loaded on the first figure drawn: a node that never draws one starts without it (about 0.3–2 s here). */
function loadECharts(): ECharts {
  return (echarts ??= createRequire(import.meta.url)('echarts') as ECharts);
}

/** The height that gives every category of a vertical category axis (the coefficients' terms) room: at least 480. */
export function figureHeight(fig: Figure): number {
  const y = fig.option.yAxis as { type?: string; data?: unknown[] } | undefined;
  return y && !Array.isArray(y) && y.type === 'category' && y.data ? Math.max(480, 150 + 24 * y.data.length) : 480;
}

/**
 * One figure as a standalone SVG document, by ECharts' server-side SVG renderer. Default 800 wide,
 * {@link figureHeight} high, English.
 */
export function figureSvg(fig: Figure, opts: { width?: number; height?: number; lang?: Lang } = {}): string {
  const chart = loadECharts().init(null, null, { renderer: 'svg', ssr: true, width: opts.width ?? 800, height: opts.height ?? figureHeight(fig) });
  try {
    chart.setOption(drawnOption(fig, opts.lang ?? 'en'));
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}
