/**
 * The validation report on disk, with its charts: `NAME.md` (the tables, each figure an image
 * line after the table it draws), `figures/<id>.svg` beside it (ECharts' server-side SVG,
 * models/charts.ts) and `NAME.html` (the same page standalone: every table, the SVGs inline, no
 * script, no external address). Used by the bank node's job artifacts and by `npm run bench -- scorecard`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { figureSvg, reportFigures } from './charts.ts';
import { reportHtml } from './report-html.ts';
import { reportMarkdown, type ScorecardReport } from './report.ts';

export interface ReportFiles {
  readonly markdown: string;
  readonly html: string;
  /** Figure ids, in report order; each is `figures/<id>.svg` under the directory. */
  readonly figures: readonly string[];
}

/** Write the report's Markdown to `markdownPath`, its HTML and figure SVGs beside it. Returns what was written. */
export function writeReportFiles(markdownPath: string, report: ScorecardReport): ReportFiles {
  const dir = dirname(markdownPath);
  const figs = reportFigures(report);
  mkdirSync(join(dir, 'figures'), { recursive: true });
  const svgs = new Map<string, string>();
  const titles = new Map<string, string>();
  for (const f of figs) {
    const src = `figures/${f.id}.svg`;
    const svg = figureSvg(f);
    writeFileSync(join(dir, src), svg);
    svgs.set(src, svg);
    titles.set(f.id, f.title.en);
  }
  const markdown = reportMarkdown(report, (id) => `![${titles.get(id) ?? id}](figures/${id}.svg)`);
  const html = reportHtml(markdown, svgs);
  writeFileSync(markdownPath, markdown);
  writeFileSync(/\.md$/i.test(markdownPath) ? markdownPath.replace(/\.md$/i, '.html') : `${markdownPath}.html`, html);
  return { markdown, html, figures: figs.map((f) => f.id) };
}
