/**
 * Attack: script through the bank's report charts. The validation report's characteristic names
 * include the platform's feature names (a peer's data), and ECharts draws its tooltips with
 * innerHTML. A real bank node (createNode, 127.0.0.1, OS-chosen port) serves the console; the
 * report and its figures (ECharts options as models/charts.ts builds them: category axes and
 * series named after characteristics, axis and item tooltips) are answered for a job by the test
 * (Playwright route) with every name carrying markup, as a hostile platform would name its
 * features. Real Chromium draws them and the pointer is moved over every chart so that each
 * tooltip is shown. Figure: payloads that ran, elements with handlers made from the data.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../console/harness.ts';
import chromium from '@sparticuz/chromium';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode } from '../../server/main.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { freePorts } from '../helpers/ports.ts';
import { tempDir } from '../helpers/tmp.ts';

declare const window: Record<string, unknown>;
declare const document: { querySelectorAll(s: string): { length: number; [i: number]: { innerHTML: string } } };

const TOKEN = 'console-charts-token-'.padEnd(48, '5');
const X = (tag: string) => `<img src=x onerror="window.__xss=(window.__xss||[]).concat('${tag}')"><svg onload="window.__xss=(window.__xss||[]).concat('${tag}-v')"></svg>`;

const names = ['age', X('feature1'), X('feature2')];
const report = {
  policy: X('policy'),
  discrimination: { train: { auc: 0.8, ks: 0.4, gini: 0.6 }, test: { auc: 0.78, ks: 0.38, gini: 0.56 } },
  sample: { trainRows: 100, testRows: 50, trainEventRate: 0.1, testEventRate: 0.12 },
  coefficients: names.map((name, i) => ({ name, party: i ? X('party') : 'guest', estimate: 0.1 * i, standardError: 0.05, z: 2, pValue: 0.01, vif: 1.2, signFlag: false })),
  ivTable: names.map((name, i) => ({ name, party: 'host', iv: 0.1 * (i + 1), bins: [1, 2], kept: true })),
};
const figures = [
  {
    id: 'woe',
    title: { en: `WOE: ${X('title')}`, zh: X('title-zh') },
    option: {
      animation: false,
      tooltip: { trigger: 'axis' },
      legend: { data: [X('legend'), 'event rate'] },
      xAxis: { type: 'category', name: X('axisname'), data: names },
      yAxis: { type: 'value', name: 'WOE' },
      series: [
        { name: X('legend'), type: 'bar', data: [0.3, -0.2, 0.5] },
        { name: 'event rate', type: 'line', data: [0.1, 0.2, 0.3] },
      ],
    },
  },
  {
    id: 'coefficients',
    title: { en: 'Coefficients', zh: '系数' },
    option: {
      animation: false,
      tooltip: { trigger: 'item' },
      yAxis: { type: 'category', data: names.map((n) => `${n} · p<0.01`) },
      xAxis: { type: 'value' },
      series: [{ name: X('estimate'), type: 'scatter', symbolSize: 40, data: names.map((n, k) => ({ name: n, value: [0.1 * k, k] })) }],
    },
  },
];

describe('report charts in Chromium with hostile characteristic names', () => {
  let browser: Browser;
  let close: () => Promise<void>;
  let base: string;

  beforeAll(async () => {
    const dir = tempDir('indomain-console-charts-');
    const [port] = await freePorts(1);
    const s = new NodeStore(join(dir, 'bank-1'));
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ nodes: [{ name: 'bank-1', role: 'bank', url: `http://127.0.0.1:${port}`, publicKey: Buffer.from(s.identity('bank-1').publicKey).toString('base64') }] }));
    s.close();
    const made = await createNode({ role: 'bank', name: 'bank-1', data: join(dir, 'bank-1'), peers: join(dir, 'peers.json'), adminToken: TOKEN, dataRoot: dir, psiWorkers: 1 });
    close = made.close;
    await made.app.listen({ port: port!, host: '127.0.0.1' });
    base = `http://127.0.0.1:${port}`;
    const args = chromium.args.filter((a) => !['--disable-web-security', '--allow-running-insecure-content', '--single-process'].includes(a));
    browser = await launchChromium(args);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await close?.();
  });

  it('draws the figures and shows every tooltip: nothing runs', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // The job's report and figures as a bank node would answer them (a report built with a hostile platform's feature names).
    await page.route(`${base}/v1/admin/jobs/hostile/report`, (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(report) }));
    await page.route((u) => u.pathname === '/v1/admin/jobs/hostile/report/figures', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(figures) }));
    await page.goto(`${base}/console/`);
    await page.fill('[data-testid=token]', TOKEN);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('[data-testid=who]');
    await page.goto(`${base}/console/#/report/hostile`);
    await page.waitForSelector('[data-figure=coefficients] svg', { timeout: 60_000 });
    let tooltips = 0;
    const escaped = new Set<string>();
    for (const id of ['woe', 'coefficients']) {
      const box = (await page.locator(`[data-figure=${id}]`).boundingBox())!;
      for (let fx = 0.15; fx < 0.95; fx += 0.1) {
        for (const fy of [0.3, 0.5, 0.7]) {
          await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
          await page.waitForTimeout(40);
          const shown = await page.evaluate(() => document.querySelectorAll('.chart div[style*="z-index"]').length);
          if (shown) tooltips++;
          // The tooltip's markup: the names in it must be escaped text (&lt;img…), never a tag.
          const html = await page.evaluate(() => {
            const t = document.querySelectorAll('.chart div[style*="z-index"]');
            return t.length ? t[0]!.innerHTML : '';
          });
          for (const m of html.matchAll(/&lt;img src=x onerror="[^"]*concat\('([\w-]+)'\)/g)) escaped.add(m[1]!);
        }
      }
    }
    await page.waitForTimeout(300);
    const ran = await page.evaluate(() => (window.__xss as string[] | undefined) ?? []);
    const made = await page.evaluate(() => document.querySelectorAll('#app img, #app script, #app [onerror], #app [onload]').length);
    const text = await page.innerText('#app');
    console.log(`[console-charts-xss] pointer positions with a tooltip shown: ${tooltips}; payloads that ran: ${ran.length}${ran.length ? ` (${ran.join(', ')})` : ''}; elements with handlers: ${made}; payload texts on the page: ${(text.match(/onerror=/g) ?? []).length}; page errors: ${pageErrors.length}; names seen escaped in tooltips: ${[...escaped].join(', ')}`);
    await ctx.close();
    expect(tooltips).toBeGreaterThan(0);
    expect(escaped.size).toBeGreaterThan(0);
    expect(ran).toEqual([]);
    expect(made).toBe(0);
  }, 120_000);
});
