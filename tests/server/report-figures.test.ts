/**
 * `GET /v1/admin/jobs/:id/report/figures` on real nodes (coordinator, platform, bank in this
 * process, listening on free ports, signed HTTP between them): a real scorecard job and a real
 * `lr` job on FATE's breast pair. The bank serves the scorecard report's figures and has written
 * them as SVG beside its report, with the standalone HTML; the `lr` job, the platform and an
 * unknown job have no report (coded 404); no token, no figures (401).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { localiseOption, reportFigures, type Figure } from '../../models/charts.ts';
import type { ScorecardReport } from '../../models/report.ts';
import { TestNodes, TOKEN } from '../helpers/nodes.ts';

const spec = (id: string, pipeline: 'lr' | 'scorecard') => ({
  id,
  pipeline,
  coordinator: 'coordinator',
  guest: { node: 'bank-a', dataset: 'loans' },
  host: { node: 'platform', dataset: 'credit' },
  seed: '7',
  testFraction: 0.3,
  training: { maxIterations: 12, refuseUnconverged: false },
});

describe('report figures over HTTP', { timeout: 600_000 }, () => {
  let t: TestNodes;
  beforeAll(async () => {
    t = await TestNodes.start();
    await t.breast();
    // Both jobs at once: the nodes run them side by side.
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', spec('sc-figures', 'scorecard'));
    await t.admin('coordinator', 'POST', '/v1/admin/jobs', { ...spec('lr-figures', 'lr'), training: { maxIterations: 3, refuseUnconverged: false } });
    for (const id of ['sc-figures', 'lr-figures']) {
      const j = await t.settle(id);
      expect(j.status, JSON.stringify(j.error)).toBe('completed');
    }
  }, 600_000);
  afterAll(async () => {
    await t?.close();
  });

  const get = (node: string, path: string, token: string | null = TOKEN) =>
    fetch(t.node(node).url + path, { headers: token === null ? {} : { 'x-admin-token': token } });

  it("the bank serves the scorecard report's figures: the ones models/charts.ts draws from the report it wrote", async () => {
    const r = await get('bank-a', '/v1/admin/jobs/sc-figures/report/figures');
    expect(r.status).toBe(200);
    const figs = (await r.json()) as Figure[];
    const dir = join(t.node('bank-a').dir, 'jobs', 'sc-figures');
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ScorecardReport;
    expect(figs).toEqual(reportFigures(report));
    expect(figs.map((f) => f.id).slice(0, 3)).toEqual(['roc', 'ks', 'score-distribution']);
    expect(figs.filter((f) => f.id.startsWith('woe-')).length).toBe(report.ivTable.length);
    // The ROC the console will draw is the test sample's: its area is the job's test AUC.
    const roc = (figs[0]!.option.series as { data: [number, number][] }[])[0]!.data;
    let area = 0;
    for (let k = 1; k < roc.length; k++) area += ((roc[k]![0] - roc[k - 1]![0]) * (roc[k]![1] + roc[k - 1]![1])) / 2;
    const job = (await (await get('bank-a', '/v1/admin/jobs/sc-figures')).json()) as { progress: { evaluation: { testAuc: number } } };
    expect(Math.abs(area - job.progress.evaluation.testAuc)).toBeLessThanOrEqual(1e-9);

    // The report files: figures/<id>.svg (well-formed), report.md pointing at them, report.html standalone.
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    const svgs = figs.map((f) => ({ fileName: `${f.id}.svg`, contents: readFileSync(join(dir, 'figures', `${f.id}.svg`), 'utf8') }));
    expect((await validateXML({ xml: svgs, normalization: 'format' })).valid).toBe(true);
    for (const f of figs) expect(md).toContain(`(figures/${f.id}.svg)`);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html.match(/<svg /g)!.length).toBe(figs.length);
    expect(html).not.toMatch(/<script|\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(existsSync(join(dir, 'scorecard.pmml'))).toBe(true);

    // In Chinese: the same figures, their texts translated.
    const zh = (await (await get('bank-a', '/v1/admin/jobs/sc-figures/report/figures?lang=zh')).json()) as Figure[];
    expect(zh).toEqual(figs.map((f) => ({ ...f, option: localiseOption(f.option, 'zh') })));
    expect((zh[0]!.option.xAxis as { name: string }).name).toBe('假正率（非违约占比）');
    const bad = await get('bank-a', '/v1/admin/jobs/sc-figures/report/figures?lang=fr');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('SRV_BAD_REQUEST');
  });

  it('a job without a report, another node, an unknown job: coded 404; no token or a wrong one: 401', async () => {
    const lr = await get('bank-a', '/v1/admin/jobs/lr-figures/report/figures');
    expect(lr.status).toBe(404);
    expect(await lr.json()).toEqual({ code: 'SRV_NOT_FOUND', message: 'no such resource: job "lr-figures" has no validation report on this node' });
    const platform = await get('platform', '/v1/admin/jobs/sc-figures/report/figures');
    expect(platform.status).toBe(404);
    expect(((await platform.json()) as { code: string }).code).toBe('SRV_NOT_FOUND');
    const unknown = await get('bank-a', '/v1/admin/jobs/no-such-job/report/figures');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toContain('job "no-such-job"');
    for (const token of [null, 'wrong-token']) {
      const r = await get('bank-a', '/v1/admin/jobs/sc-figures/report/figures', token);
      expect(r.status).toBe(401);
      expect(((await r.json()) as { code: string }).code).toBe('SRV_ADMIN_TOKEN');
    }
  });
});
