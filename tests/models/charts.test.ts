/**
 * The validation report's figures (models/charts.ts) on a real report: the federated scorecard on
 * FATE's default_credit pair (tests/helpers/fate-report.ts). The options are plain JSON; the
 * plotted ROC and KS curves are the report's; every text has its Chinese; the server-side SVGs
 * are well-formed XML that draw each series.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { seededRng } from '../../engine/rng.ts';
import { auc, ks, rocCounts } from '../../models/metrics.ts';
import { decileRocPoints, figureSvg, localiseOption, reportFigures, testKsGap, testRocPoints, ZH, type Figure } from '../../models/charts.ts';
import { COLOR, SEP } from '../../models/chart-kit.ts';
import type { ScorecardReport } from '../../models/report.ts';
import { reportMarkdown } from '../../models/report.ts';
import { writeReportFiles } from '../../models/report-files.ts';
import { reportHtml } from '../../models/report-html.ts';
import { fateScorecard } from '../helpers/fate-report.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Trapezoid area under a polyline of [x, y] points. */
function trapezoid(pts: readonly (readonly [number, number])[]): number {
  let a = 0;
  for (let k = 1; k < pts.length; k++) a += ((pts[k]![0] - pts[k - 1]![0]) * (pts[k]![1] + pts[k - 1]![1])) / 2;
  return a;
}

/** Where a value is not plain JSON (a function, undefined, a non-finite number, a class instance), by path. */
function notJson(v: unknown, path: string, out: string[] = []): string[] {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return out;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) out.push(path);
  } else if (Array.isArray(v)) v.forEach((x, i) => notJson(x, `${path}[${i}]`, out));
  else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) notJson(x, `${path}.${k}`, out);
  else out.push(`${path} (${typeof v})`);
  return out;
}

type Series = { name: string; type: string; data: unknown[]; markLine?: { data: { xAxis?: number }[]; label: { formatter: string } } };
const series = (f: Figure) => f.option.series as Series[];
const byId = (figs: Figure[], id: string) => figs.find((f) => f.id === id)!;

describe('ROC corners (models/metrics.ts rocCounts)', () => {
  it('trapezoid area equals the AUC with ties and the largest gap equals the KS, on random samples with ties', () => {
    const rng = seededRng('roc-corners');
    for (let t = 0; t < 40; t++) {
      const n = 5 + Math.floor(rng.next() * 400);
      const levels = 2 + Math.floor(rng.next() * (t % 2 ? 8 : 1000));
      const scores = Float64Array.from({ length: n }, () => Math.floor(rng.next() * levels));
      const labels = Uint8Array.from(scores, (s) => (rng.next() < 0.15 + (0.6 * s) / levels ? 1 : 0));
      labels[0] = 1;
      labels[1] = 0;
      const c = rocCounts(scores, labels);
      const p = c.events.at(-1)!;
      const q = c.nonEvents.at(-1)!;
      expect(p + q).toBe(n);
      const pts = c.events.map((e, k): [number, number] => [c.nonEvents[k]! / q, e / p]);
      expect(Math.abs(trapezoid(pts) - auc(scores, labels))).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(Math.max(...pts.map(([x, y]) => Math.abs(y - x))) - ks(scores, labels))).toBeLessThanOrEqual(1e-12);
      // Corners only: no three consecutive points on one vertical or horizontal line.
      for (let k = 2; k < pts.length; k++) {
        expect(pts[k]![0] === pts[k - 1]![0] && pts[k - 1]![0] === pts[k - 2]![0]).toBe(false);
        expect(pts[k]![1] === pts[k - 1]![1] && pts[k - 1]![1] === pts[k - 2]![1]).toBe(false);
      }
    }
  });
});

describe('report HTML (models/report-html.ts)', () => {
  it('escapes cell text, keeps code spans and escaped pipes, and refuses an image it was not given the SVG of', () => {
    const md = ['# T', '', 'Policy `full` & more.', '', '| band | x |', '| --- | --- |', '| < 440 | a \\| b |', '', '![R](figures/r.svg)', ''].join('\n');
    const html = reportHtml(md, new Map([['figures/r.svg', '<svg xmlns="http://www.w3.org/2000/svg"><clipPath id="zr0-c0"/></svg>']]));
    expect(html).toContain('<p>Policy <code>full</code> &amp; more.</p>');
    expect(html).toContain('<td>&lt; 440</td><td>a | b</td>');
    expect(html).toContain('<clipPath id="f0-c0"/>');
    expect(() => reportHtml(md, new Map())).toThrow(/figures\/r\.svg was not rendered/);
  });
});

describe('report figures on default_credit (real federated scorecard)', { timeout: 600_000 }, () => {
  let report: ScorecardReport;
  let figs: Figure[];
  it('builds every figure the issue names, one WOE figure per characteristic, as plain JSON that round-trips', async () => {
    const run = await fateScorecard();
    report = JSON.parse(JSON.stringify(run.report)) as ScorecardReport;
    figs = reportFigures(report);
    const ids = figs.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    for (const id of ['roc', 'ks', 'score-distribution', 'lift', 'gain', 'calibration', 'score-stability', 'characteristic-stability', 'coefficients']) expect(ids).toContain(id);
    expect(ids.filter((i) => i.startsWith('woe-')).length).toBe(report.ivTable.length);
    expect(report.ivTable.length).toBeGreaterThanOrEqual(20);
    for (const f of figs) {
      expect(notJson(f, f.id)).toEqual([]);
      expect(JSON.parse(JSON.stringify(f))).toEqual(f);
      expect(f.title.en.length).toBeGreaterThan(0);
      expect(f.title.zh).not.toBe(f.title.en);
      for (const s of series(f)) expect(s.data.length).toBeGreaterThan(0);
    }
    // The report came from the FATE run: the test curve was computed over its 1,800 test rows.
    expect(report.sample.testRows).toBe(1800);
    expect(report.curves.test.events.at(-1)! + report.curves.test.nonEvents.at(-1)!).toBe(1800);
  });

  it('ROC: the test curve is the report’s (trapezoid area = its AUC within 1e-9); the train curve through the deciles bounds its AUC', () => {
    const roc = series(byId(figs, 'roc'));
    const test = roc[0]!.data as [number, number][];
    expect(test).toEqual(testRocPoints(report));
    expect(test[0]).toEqual([0, 0]);
    expect(test.at(-1)).toEqual([1, 1]);
    expect(Math.abs(trapezoid(test) - report.discrimination.test.auc)).toBeLessThanOrEqual(1e-9);
    expect(roc[0]!.name).toBe(`test${SEP}AUC ${report.discrimination.test.auc.toFixed(4)}`);
    // Deciles merge rows: the exact AUC lies between the chords' area and it plus each decile's
    // triangle (Δx·Δy/2), the most that joining a decile's rows can hide.
    const train = roc[1]!.data as [number, number][];
    expect(train).toEqual(decileRocPoints(report.liftByDecile.train));
    expect(train.length).toBe(11);
    const chords = trapezoid(train);
    let slack = 0;
    for (let k = 1; k < train.length; k++) slack += ((train[k]![0] - train[k - 1]![0]) * (train[k]![1] - train[k - 1]![1])) / 2;
    expect(chords).toBeLessThanOrEqual(report.discrimination.train.auc + 1e-12);
    expect(report.discrimination.train.auc).toBeLessThanOrEqual(chords + slack + 1e-12);
  });

  it('KS: the plotted gap peaks at the report’s KS, marked there; the train gap through the deciles stays at or under the train KS', () => {
    const s = series(byId(figs, 'ks'));
    const gap = s.find((x) => x.name === `test${SEP}KS gap`)!;
    const ys = (gap.data as [number, number][]).map((p) => p[1]);
    const best = ys.indexOf(Math.max(...ys));
    expect(Math.abs(ys[best]! - report.discrimination.test.ks)).toBeLessThanOrEqual(1e-12);
    expect(gap.data).toEqual(testKsGap(report));
    expect(gap.markLine!.data[0]!.xAxis).toBe((gap.data[best] as [number, number])[0]);
    expect(gap.markLine!.label.formatter).toBe(`KS ${report.discrimination.test.ks.toFixed(4)}`);
    // The two cumulative curves differ by the gap at every point.
    const ev = s.find((x) => x.name === `test${SEP}cum. events`)!.data as [number, number][];
    const ne = s.find((x) => x.name === `test${SEP}cum. non-events`)!.data as [number, number][];
    ev.forEach((p, k) => expect(Math.abs(Math.abs(p[1] - ne[k]![1]) - ys[k]!)).toBeLessThanOrEqual(1e-12));
    const trainGap = (s.find((x) => x.name === `train${SEP}KS gap`)!.data as [number, number][]).map((p) => p[1]);
    expect(Math.max(...trainGap)).toBeLessThanOrEqual(report.discrimination.train.ks + 1e-12);
    expect(Math.max(...trainGap)).toBeGreaterThan(report.discrimination.train.ks - 0.1);
  });

  it('the other figures plot the report’s own numbers', () => {
    const cal = series(byId(figs, 'calibration'));
    expect(cal[0]!.data).toEqual(report.calibration.test.map((c) => Math.round(c.observedRate * 1e4) / 100));
    const dist = series(byId(figs, 'score-distribution'));
    const goods = dist[0]!.data as number[];
    const bads = dist[1]!.data as number[];
    expect(Math.abs(goods.reduce((a, b) => a + b, 0) - 100)).toBeLessThan(0.05);
    expect(Math.abs(bads.reduce((a, b) => a + b, 0) - 100)).toBeLessThan(0.05);
    const coef = byId(figs, 'coefficients');
    const box = series(coef)[0]!.data as number[][];
    report.coefficients.forEach((c, k) => {
      expect(box[k]![2]).toBe(c.estimate);
      expect(box[k]![3]! - box[k]![2]!).toBeCloseTo(c.standardError, 12);
    });
    const terms = (coef.option.yAxis as { data: string[] }).data;
    expect(terms.every((t, k) => t.startsWith(report.coefficients[k]!.name + SEP + 'p '))).toBe(true);
    report.ivTable.forEach((c, k) => {
      const f = figs.filter((x) => x.id.startsWith('woe-'))[k]!;
      expect(f.title.en).toContain(c.name);
      expect(series(f)[0]!.data).toEqual(c.bins.map((b) => b.woe));
    });
    const psi = series(byId(figs, 'score-stability'));
    expect(psi[2]!.data).toEqual(report.stability.score.bands.map((b) => b.contribution));
  });

  it('every axis and series name has its Chinese; the Chinese option translates them all', () => {
    const neutral = /^(AUC|KS|IV|PSI|p) /;
    for (const f of figs) {
      const o = f.option as { xAxis: unknown; yAxis: unknown };
      const axes = [o.xAxis, o.yAxis].flat() as { name: string }[];
      const names = [...axes.map((a) => a.name), ...series(f).map((s) => s.name)];
      for (const name of names) for (const part of name.split(SEP)) expect(ZH[part] !== undefined || neutral.test(part), `${f.id}: "${part}"`).toBe(true);
      const zh = localiseOption(f.option, 'zh') as { xAxis: unknown; yAxis: unknown; series: Series[] };
      const zhNames = [...([zh.xAxis, zh.yAxis].flat() as { name: string }[]).map((a) => a.name), ...zh.series.map((s) => s.name)];
      zhNames.forEach((n, k) => expect(n).toBe(names[k]!.split(SEP).map((p) => ZH[p] ?? p).join(SEP)));
      expect(localiseOption(f.option, 'en')).toEqual(f.option);
    }
    expect(series(byId(figs, 'roc')).map((s) => s.name.split(SEP)[0])).toEqual(['test', 'train', 'random']);
  });

  it('server-side SVG: well-formed XML (xmllint), every series drawn, the ROC path is the report’s curve', async () => {
    const svgs = figs.map((f) => ({ fileName: `${f.id}.svg`, contents: figureSvg(f) }));
    const zh = figureSvg(byId(figs, 'roc'), { lang: 'zh', width: 640, height: 400 });
    svgs.push({ fileName: 'roc.zh.svg', contents: zh });
    const check = await validateXML({ xml: svgs, normalization: 'format' });
    expect(check.errors).toEqual([]);
    expect(check.valid).toBe(true);
    expect(zh).toContain('ROC 曲线');
    expect(zh).toContain('假正率');
    expect(zh).toMatch(/^<svg width="640" height="400"/);
    for (const [k, f] of figs.entries()) {
      const svg = svgs[k]!.contents;
      expect(svg).toContain(`>${f.title.en.replace(/&/g, '&amp;').replace(/</g, '&lt;')}<`);
      // Each series has its legend entry, and bars, boxes and symbols their data elements.
      series(f).forEach((s, i) => {
        expect(svg).toMatch(new RegExp(`ecmeta_series_index="${i}" ecmeta_data_index="\\d+" ecmeta_ssr_type="legend"`));
        if (s.type !== 'line') expect(svg).toMatch(new RegExp(`ecmeta_series_index="${i}" ecmeta_data_index="\\d+" ecmeta_ssr_type="chart"`));
      });
    }
    // The test ROC is drawn through its corners (zrender drops a vertex closer than a pixel to the
    // last), and the area under the drawn path (pixels, scaled to the unit square) is the AUC up to
    // the rounding.
    const rocSvg = svgs[figs.findIndex((f) => f.id === 'roc')]!.contents;
    const path = [...rocSvg.matchAll(/<path d="(M[^"]+)"[^>]*stroke="([^"]+)"/g)].filter((m) => m[2] === COLOR.test && m[1]!.split('L').length > 20);
    expect(path.length).toBe(1);
    const px = path[0]![1]!.slice(1).split('L').map((p) => p.split(' ').map(Number) as [number, number]);
    expect(px.length).toBeLessThanOrEqual(testRocPoints(report).length);
    expect(px.length).toBeGreaterThanOrEqual(0.9 * testRocPoints(report).length);
    const [x0, x1] = [Math.min(...px.map((p) => p[0])), Math.max(...px.map((p) => p[0]))];
    const [y0, y1] = [Math.max(...px.map((p) => p[1])), Math.min(...px.map((p) => p[1]))];
    const unit = px.map(([x, y]): [number, number] => [(x - x0) / (x1 - x0), (y0 - y) / (y0 - y1)]);
    expect(Math.abs(trapezoid(unit) - report.discrimination.test.auc)).toBeLessThan(2e-3);
  });

  it('report files: Markdown with an image line per figure, figures/<id>.svg, and a standalone HTML page with every table and figure, no script, no web address', async () => {
    const dir = tempDir('indomain-charts-');
    const files = writeReportFiles(join(dir, 'report.md'), report);
    expect(files.figures).toEqual(figs.map((f) => f.id));
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toBe(files.markdown);
    // The tables are the plain report's; the figures come on lines of their own.
    expect(md.split('\n').filter((l) => !l.startsWith('![')).join('\n').replace(/\n{3,}/g, '\n\n')).toBe(reportMarkdown(report).replace(/\n{3,}/g, '\n\n'));
    for (const f of figs) {
      expect(md).toContain(`![${f.title.en}](figures/${f.id}.svg)`);
      expect(existsSync(join(dir, 'figures', `${f.id}.svg`))).toBe(true);
    }
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toBe(files.html);
    const tables = md.split('\n').filter((l) => /^\| ---( \| ---)* \|$/.test(l)).length;
    expect(tables).toBeGreaterThan(report.ivTable.length + 6);
    expect(html.match(/<table>/g)!.length).toBe(tables);
    expect(html.match(/<figure /g)!.length).toBe(figs.length);
    expect(html.match(/<svg /g)!.length).toBe(figs.length);
    // Every table row made it: the same number of rows as the Markdown's table lines.
    expect(html.match(/<tr>/g)!.length).toBe(md.split('\n').filter((l) => l.startsWith('|') && !/^\| ---/.test(l)).length);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?(https?:)?\/\//i);
    expect(html).not.toContain('figures/');
    // Inline SVGs share one document: every id in it is unique (ECharts numbers them alike in each SVG).
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids).toContain(m[1]);
    // A row of the IV table and the coefficients' first term, escaped as HTML.
    expect(html).toContain(`<td>${report.coefficients[0]!.name.replace(/</g, '&lt;')}</td>`);
  });
});
