/**
 * Attack, in real headless Chromium (@sparticuz/chromium driven by playwright-core), on a real
 * platform node (createNode, 127.0.0.1, OS-chosen port):
 *
 *   1. XSS: HTML and script in every value the platform's console shows that another party or a
 *      file controls: bank names and source references of authorisations, CSV header (feature)
 *      names, a job's spec, stages and failure (as a peer reports them), the file name and lines of
 *      an uploaded authorisation CSV, and a job id in the page's own address (reflected in an
 *      error message). Figure: payloads that ran (window.__xss) and elements made from the data;
 *      the payload text must be on the page as text.
 *   2. CSP as the second layer: markup with an inline handler put into the live page by
 *      innerHTML (what an XSS bug would do) runs on a copy of the page without the node's CSP and
 *      must not run on the node's page.
 *   3. Clickjacking: another origin frames /console/.
 *   4. CSRF from a real page of another site (http://localhost:…) and of the same site
 *      (http://127.0.0.1:other port, where a SameSite=Strict cookie is sent) while the victim is
 *      signed in: text/plain fetch, form POST, reading the CSRF token from /v1/console/session.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { launchChromium } from '../console/harness.ts';
import chromium from '@sparticuz/chromium';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { usccFromNumber } from '../../server/lab/generate.ts';
import { createNode } from '../../server/main.ts';
import { NodeStore } from '../../server/store/node-store.ts';
import { freePorts } from '../helpers/ports.ts';
import { tempDir } from '../helpers/tmp.ts';

// Code run in the page by page.evaluate: the DOM globals it uses, declared loosely (the project's lib has no DOM).
interface PageElement {
  open: boolean;
  click(): void;
  append(e: PageElement): void;
  insertAdjacentHTML(where: string, html: string): void;
  textContent: string;
  innerText: string;
}
declare const window: Record<string, unknown>;
declare const document: {
  querySelectorAll(s: string): PageElement[] & { length: number };
  addEventListener(t: string, f: (e: { violatedDirective: string }) => void): void;
  body: PageElement;
  createElement(t: string): PageElement;
  getElementById(id: string): PageElement;
};

const TOKEN = 'console-xss-token-'.padEnd(48, '3');

/** A payload that records its tag in window.__xss if it ever runs, in three shapes. */
const payloads = (tag: string) => [
  `<img src=x onerror="window.__xss=(window.__xss||[]).concat('${tag}')">`,
  `<script>window.__xss=(window.__xss||[]).concat('${tag}-s')</script>`,
  `<svg onload="window.__xss=(window.__xss||[]).concat('${tag}-v')"></svg>`,
];
const P = (tag: string) => payloads(tag).join('');

describe('the console in Chromium: hostile values are text, CSP, framing, cross-site requests', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  let base: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let attacker: Server;
  let attackerPort: number;
  const admin = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: { 'x-admin-token': TOKEN, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, body: (await r.json()) as unknown };
  };

  beforeAll(async () => {
    const dir = tempDir('indomain-console-xss-');
    const [port, att] = await freePorts(2);
    attackerPort = att!;
    const s = new NodeStore(join(dir, 'platform'));
    writeFileSync(join(dir, 'peers.json'), JSON.stringify({ nodes: [{ name: 'platform', role: 'platform', url: `http://127.0.0.1:${port}`, publicKey: Buffer.from(s.identity('platform').publicKey).toString('base64') }] }));
    s.close();
    // A data file whose header (the feature names) carries the payloads.
    writeFileSync(join(dir, 'credit.csv'), [`id,"${P('feature').replace(/"/g, '""')}",x2`, ...Array.from({ length: 20 }, (_, i) => `${usccFromNumber(i + 1)},${i},${i % 3}`)].join('\n') + '\n');
    const made = await createNode({ role: 'platform', name: 'platform', data: join(dir, 'platform'), peers: join(dir, 'peers.json'), adminToken: TOKEN, dataRoot: dir, psiWorkers: 1 });
    app = made.app;
    close = made.close;
    await app.listen({ port: port!, host: '127.0.0.1' });
    base = `http://127.0.0.1:${port}`;
    expect((await admin('POST', '/v1/admin/datasets', { name: 'credit', path: 'credit.csv', idColumn: 'id', uscc: true })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const r = await admin('POST', '/v1/admin/authorisations', { uscc: usccFromNumber(i + 1), bank: P(`bank${i}`), purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-01-01', source_ref: P(`ref${i}`) });
      expect(r.status).toBe(201);
    }
    // Jobs as peers report them (a spec from the coordinator, a failure from a party), written where the node keeps them.
    const now = Date.now();
    const ins = app.node.store.db.prepare('INSERT INTO jobs (id, spec, status, stage, progress, result, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const spec = { id: 'hostile-1', pipeline: P('pipeline'), guest: { node: P('guestnode'), dataset: P('guestds') }, host: { node: 'platform', dataset: P('hostds') } };
    ins.run('hostile-1', JSON.stringify(spec), 'failed', P('stage'), JSON.stringify({ stages: [P('stage0'), 'psi'], stageIndex: 0 }), null, JSON.stringify({ code: P('code'), message: P('message'), party: P('party'), cause: { code: P('causecode'), message: P('causemsg'), field: P('field') } }), now, now);
    // Awaiting approval: valid specs (the plan parses them) with the coordinator's free-text node and dataset names.
    ins.run('hostile-2', JSON.stringify({ ...spec, id: 'hostile-2', pipeline: 'scorecard', coordinator: P('coord') }), 'awaiting-approval', 'psi', JSON.stringify({}), null, null, now, now);
    ins.run('hostile-3', JSON.stringify({ ...spec, id: 'hostile-3', pipeline: 'lr', coordinator: 'c', host: { node: 'platform', dataset: 'credit' } }), 'awaiting-approval', 'psi', JSON.stringify({}), null, null, now, now);

    const args = chromium.args.filter((a) => !['--disable-web-security', '--allow-running-insecure-content', '--single-process'].includes(a));
    browser = await launchChromium(args);
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    page = await ctx.newPage();
    // The attacker's pages, served by the test on another port.
    attacker = createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? base;
      res.setHeader('content-type', 'text/html');
      res.end(
        req.url?.startsWith('/frame')
          ? `<!doctype html><iframe id=f src="${base}/console/" width=800 height=600></iframe>`
          : `<!doctype html><body>
<form id=form method=POST action="${target}/v1/admin/authorisations" enctype="text/plain" target=sink><input name='{"uscc":"${usccFromNumber(9)}","bank":"evil","purpose":"modelling","valid_from":"2024-01-01","valid_to":"2030-01-01","source_ref":"csrf","x":"' value='"}'></form>
<form id=form2 method=POST action="${target}/v1/admin/authorisations/revoke" target=sink2><input name=uscc value="${usccFromNumber(1)}"></form>
<iframe name=sink></iframe><iframe name=sink2></iframe>
<script>
window.results = {};
(async () => {
  const grant = JSON.stringify({ uscc: '${usccFromNumber(10)}', bank: 'evil', purpose: 'modelling', valid_from: '2024-01-01', valid_to: '2030-01-01', source_ref: 'csrf' });
  try { await fetch('${target}/v1/admin/authorisations', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: grant }); results.fetch = 'sent'; } catch (e) { results.fetch = 'threw'; }
  try { const r = await fetch('${target}/v1/console/session', { credentials: 'include' }); results.read = await r.text(); } catch (e) { results.read = 'threw'; }
  try { const r = await fetch('${target}/v1/admin/authorisations', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-csrf-token': 'guess' }, body: grant }); results.preflight = r.status; } catch (e) { results.preflight = 'threw'; }
  document.getElementById('form').submit();
  document.getElementById('form2').submit();
  setTimeout(() => (results.done = true), 1500);
})();
</script></body>`,
      );
    });
    await new Promise<void>((r) => attacker.listen(attackerPort, '127.0.0.1', r));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => attacker?.close(r));
    await close?.();
  });

  /** Sign in through the form; then each route: ran payloads, elements from the data, payload text shown. */
  it('renders every hostile value as text: nothing runs, no element is made from data', async () => {
    await page.goto(`${base}/console/`);
    await page.fill('[data-testid=token]', TOKEN);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('[data-testid=who]');
    const routes: [string, string][] = [
      ['authorisations', '[data-testid=authz] tbody tr'],
      ['datasets', '[data-testid=datasets] tbody tr'],
      ['jobs', '[data-testid=jobs] tbody tr'],
      ['job/hostile-1', '[data-testid=job-failure]'],
      ['approvals', 'section.approval'],
      [`job/${encodeURIComponent(P('hash'))}`, '[data-testid=error]'],
    ];
    const figures: string[] = [];
    let madeTotal = 0;
    for (const [route, ready] of routes) {
      await page.goto(`${base}/console/#/${route}`);
      await page.waitForSelector(ready, { timeout: 30_000 });
      // Open every <details> (raw spec, features) so that its content is in the DOM and visible.
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
      await page.waitForTimeout(300);
      const made = await page.evaluate(() => document.querySelectorAll('#app img, #app script, #app svg, #app iframe, #app [onerror], #app [onload]').length);
      const text = await page.innerText('#app');
      const shown = (text.match(/onerror=/g) ?? []).length;
      madeTotal += made;
      figures.push(`${route.slice(0, 20)}: elements ${made}, payload texts shown ${shown}`);
      expect(shown, route).toBeGreaterThan(0);
    }
    // The CSV upload: a hostile file name and lines; its per-line report.
    await page.goto(`${base}/console/#/authorisations`);
    await page.waitForSelector('[data-testid=import-file]');
    await page.setInputFiles('[data-testid=import-file]', { name: `${payloads('file')[0]}.csv`, mimeType: 'text/csv', buffer: Buffer.from(`uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref\n${P('line')},b,modelling,2024-01-01,2030-01-01,,x\n${usccFromNumber(3)},b,${P('purpose')},2024-01-01,2030-01-01,,x\n`) });
    await page.click('[data-testid=import-submit]');
    await page.waitForSelector('[data-testid=import-problems]');
    const report = await page.innerText('[data-testid=import-result]');
    const uploadMade = await page.evaluate(() => document.querySelectorAll('#app img, #app script, #app svg').length);
    madeTotal += uploadMade;
    await page.waitForTimeout(500);
    const ran = await page.evaluate(() => (window as unknown as { __xss?: string[] }).__xss ?? []);
    console.log(`[console-browser] ${figures.join('; ')}; upload report elements ${uploadMade}: ${JSON.stringify(report.slice(0, 300))}`);
    console.log(`[console-browser] payloads that ran: ${ran.length}${ran.length ? ` (${ran.join(', ')})` : ''}; elements made from data: ${madeTotal}`);
    expect(ran).toEqual([]);
    expect(madeTotal).toBe(0);
  }, 180_000);

  it('CSP: markup injected into the live page does not run; the same page without the CSP runs it', async () => {
    const inject = async (p: Page) => {
      await p.evaluate(() => {
        const w = window as unknown as { __csp?: string[]; __violations?: string[] };
        w.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => w.__violations!.push(e.violatedDirective));
        document.body.insertAdjacentHTML('beforeend', `<img src="data:," onerror="window.__csp=(window.__csp||[]).concat('img')"><img src="x-missing.png" onerror="window.__csp=(window.__csp||[]).concat('img2')"><a id=jl href="javascript:window.__csp=(window.__csp||[]).concat('href')">x</a>`);
        const s = document.createElement('script');
        s.textContent = "window.__csp=(window.__csp||[]).concat('script')";
        document.body.append(s);
        document.getElementById('jl').click();
      });
      await p.waitForTimeout(700);
      return p.evaluate(() => ({ ran: (window as unknown as { __csp?: string[] }).__csp ?? [], violations: (window as unknown as { __violations?: string[] }).__violations ?? [] }));
    };
    await page.goto(`${base}/console/#/jobs`);
    await page.waitForSelector('[data-testid=jobs]');
    const on = await inject(page);
    // The same index.html served from the attacker's port without any CSP (the defence off).
    const plain = await ctx.newPage();
    await plain.route(`http://127.0.0.1:${attackerPort}/nocsp`, (r) => r.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><body><div id=app></div></body>' }));
    await plain.goto(`http://127.0.0.1:${attackerPort}/nocsp`);
    const off = await inject(plain);
    await plain.close();
    console.log(`[console-browser] injected handlers/scripts that ran: with the node's CSP ${on.ran.length} (violations ${on.violations.join(', ')}), without a CSP ${off.ran.length} (${off.ran.join(', ')})`);
    expect(on.ran).toEqual([]);
    expect(on.violations.length).toBeGreaterThan(0);
    expect(off.ran.length).toBeGreaterThan(0);
  }, 60_000);

  it('another origin cannot frame the console (frame-ancestors none)', async () => {
    const p = await ctx.newPage();
    await p.goto(`http://localhost:${attackerPort}/frame`);
    await p.waitForTimeout(1500);
    const frame = p.frames().find((f) => f !== p.mainFrame());
    const url = frame?.url() ?? '';
    let content = '';
    try {
      content = (await frame?.evaluate(() => document.body?.innerText ?? '')) ?? '';
    } catch {
      content = '(not readable)';
    }
    await p.close();
    console.log(`[console-browser] framed console: frame url ${url}; text ${JSON.stringify(content.slice(0, 40))}`);
    expect(url.startsWith(base)).toBe(false);
  }, 60_000);

  it('a signed-in victim visiting a page of another site or of the same site: no change, no CSRF token read', async () => {
    const before = ((await admin('GET', '/v1/admin/authorisations')).body as unknown[]).length;
    const out: Record<string, unknown>[] = [];
    for (const origin of [`http://localhost:${attackerPort}`, `http://127.0.0.1:${attackerPort}`]) {
      const p = await ctx.newPage();
      await p.goto(`${origin}/attack?target=${encodeURIComponent(base)}`);
      await p.waitForFunction(() => (window as unknown as { results?: { done?: boolean } }).results?.done === true, null, { timeout: 15_000 }).catch(() => undefined);
      await p.waitForTimeout(500);
      const r = await p.evaluate(() => (window as unknown as { results: Record<string, unknown> }).results).catch(() => ({}));
      out.push({ origin: origin.replace(/:\d+$/, ''), ...r });
      await p.close();
    }
    const after = ((await admin('GET', '/v1/admin/authorisations')).body as { source_ref?: string; sourceRef?: string }[]);
    // The victim's own session still works (the attack did not sign it out).
    await page.goto(`${base}/console/#/authorisations`);
    await page.waitForSelector('[data-testid=authz] tbody tr');
    console.log(`[console-browser] cross-site and same-site attack pages: registry ${before} → ${after.length} records; ${JSON.stringify(out.map((o) => ({ ...o, read: typeof o.read === 'string' && o.read.includes('csrf') ? 'CSRF TOKEN READ' : o.read })))}`);
    expect(after.length).toBe(before);
    expect(after.some((a) => a.sourceRef === 'csrf')).toBe(false);
    for (const o of out) expect(String(o.read)).not.toContain('csrf');
  }, 60_000);
});
