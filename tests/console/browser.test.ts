/**
 * The console in real Chromium against a real lab (tests/console/harness.ts): the analyst approves
 * a job from the approval queue and refuses one created from the coordinator's form; imports
 * authorisations with a bad line and sees it reported; revokes an authorisation and sees online
 * scoring refuse that enterprise; the bank opens its report and sees the ROC chart drawn and runs
 * monitoring; the regulator verifies the records (ledger, coverage) and sees a tampered copy fail.
 * Then every page, at 1280×800 and at 390×844, loads with real data and no console error.
 * Screenshots go to test-output/console/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFollowUp, LABEL } from '../../server/lab/generate.ts';
import { nodeDirs } from '../../server/regulator.ts';
import type { JobView } from '../../server/cluster.ts';
import { tempDir } from '../helpers/tmp.ts';
import { mainText, openTab, SHOTS, signIn, startBrowser, startLab, visit, type Browsers, type ConsoleLab, type Tab } from './harness.ts';

const JOB = 'console-scorecard';
const REFUSED = 'console-refused';

describe('the console in Chromium, against a real lab', () => {
  let lab: ConsoleLab;
  let b: Browsers;
  const base: Record<string, string> = {};
  const desk: Record<string, Tab> = {};
  const phone: Record<string, Tab> = {};
  const dir = tempDir('indomain-console-');
  const tampered = join(dir, 'tampered');

  /** Poll a node's view of a job until `ok` holds. */
  const until = async (node: string, id: string, ok: (j: JobView) => boolean, ms = 240_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const j = await lab.cluster.admin<JobView>(node, 'GET', `/v1/admin/jobs/${id}`).catch(() => null);
      if (j && ok(j)) return j;
      if (Date.now() > deadline) throw new Error(`${node} ${id}: ${JSON.stringify(j?.status)} ${JSON.stringify(j?.error)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  beforeAll(async () => {
    // One after the other: on a loaded machine, node processes starting beside Chromium took over 30 s.
    lab = await startLab(dir, tampered);
    b = await startBrowser();
    for (const n of ['platform', 'bank-1', 'coordinator']) base[n] = `${lab.cluster.url(n)}/console/`;
    base.regulator = `${lab.regulator.url}/console/`;
    for (const [n, url] of Object.entries(base)) {
      const token = n === 'regulator' ? lab.regulator.token : lab.cluster.token;
      desk[n] = await openTab(b.desktop);
      phone[n] = await openTab(b.phone);
      await signIn(desk[n]!, url, token);
      await signIn(phone[n]!, url, token);
    }
  }, 180_000);
  afterAll(async () => {
    await b?.browser.close();
    await lab?.regulator.app.close();
    await lab?.cluster.stop();
  });

  it('shows what a job will read and disclose in the approval queue; approved there, it runs', async () => {
    await lab.cluster.admin('coordinator', 'POST', '/v1/admin/jobs', { id: JOB, pipeline: 'scorecard', coordinator: 'coordinator', guest: { node: 'bank-1', dataset: 'loans' }, host: { node: 'platform', dataset: 'platform-credit' }, seed: 'console', testFraction: 0.3, scorecard: { guestCategorical: [], hostCategorical: [] } });
    await until('platform', JOB, (j) => j.status === 'awaiting-approval');
    const t = desk.platform!;
    expect(await visit(t, base.platform!, 'approvals', `[data-job="${JOB}"] table`, 'platform-approvals-desktop')).toEqual([]);
    const card = await t.page.innerText(`[data-job="${JOB}"]`);
    expect(card).toContain('platform-credit');
    expect(card).toMatch(/psi\/\w+/);
    expect(card).toMatch(/ciphertext|masked|aggregate|model/);
    await t.page.click(`[data-job="${JOB}"] [data-action=approve]`);
    await t.page.waitForURL(new RegExp(`#/job/${JOB}$`));
    await until('platform', JOB, (j) => j.status !== 'awaiting-approval');
  }, 120_000);

  it("creates a job from the coordinator's form; the analyst refuses it with a reason and it stops, the code shown where the user looks", async () => {
    const c = desk.coordinator!;
    expect(await visit(c, base.coordinator!, 'new-job', '[data-testid=job-id]', 'coordinator-new-job-desktop')).toEqual([]);
    await c.page.fill('[data-testid=job-id]', REFUSED);
    await c.page.click('[data-testid=create-job]');
    await c.page.waitForURL(new RegExp(`#/job/${REFUSED}$`));
    await until('platform', REFUSED, (j) => j.status === 'awaiting-approval');
    const p = desk.platform!;
    await visit(p, base.platform!, 'approvals', `[data-job="${REFUSED}"] table`, 'platform-approvals-refuse-desktop');
    await p.page.fill(`[data-job="${REFUSED}"] [data-testid=refuse-reason]`, 'purpose not covered by the agreement');
    await p.page.click(`[data-job="${REFUSED}"] [data-action=refuse]`);
    await p.page.waitForSelector('[data-testid=job-failure]');
    expect(await p.page.innerText('[data-testid=job-failure]')).toContain('SRV_JOB_REFUSED');
    await until('coordinator', REFUSED, (j) => j.status === 'failed');
    expect(await visit(c, base.coordinator!, 'jobs', `[data-job="${REFUSED}"]`, 'coordinator-jobs-desktop')).toEqual([]);
    expect(await c.page.innerText('tr.row-failure')).toContain('SRV_JOB_REFUSED');
    expect(await c.page.innerText(`[data-job="${REFUSED}"]`)).toMatch(/failed/);
  }, 120_000);

  it('imports authorisations with one bad line: the line and field are reported and nothing is imported', async () => {
    const p = desk.platform!;
    const total = async () => Number((await p.page.innerText('[data-testid=authz-counts] .tile b')).replace(/[^0-9]/g, ''));
    await visit(p, base.platform!, 'authorisations', '[data-testid=authz] tbody td code', 'platform-authorisations-desktop');
    const before = await total();
    expect(before).toBeGreaterThan(1000);
    const file = join(dir, 'grants.csv');
    const good = lab.scoreable[0]!.id;
    // Line 3's USCC has a wrong check character.
    const bad = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
    writeFileSync(file, `uscc,bank,purpose,valid_from,valid_to,revoked_at,source_ref\n${good},bank-1,in-loan,2024-01-01,2030-01-01,,DOC-1\n${bad},bank-1,in-loan,2024-01-01,2030-01-01,,DOC-2\n`);
    await p.page.setInputFiles('[data-testid=import-file]', file);
    await p.page.click('[data-testid=import-submit]');
    await p.page.waitForSelector('[data-testid=import-problems]');
    const problems = await p.page.innerText('[data-testid=import-problems]');
    expect(problems).toMatch(/\b3\b/);
    expect(problems).toContain('uscc');
    expect(problems).toContain('AUTH_BAD_RECORD');
    expect(problems).not.toContain(bad);
    await visit(p, base.platform!, 'authorisations', '[data-testid=authz] tbody td code', 'platform-authorisations-import-refused-desktop');
    expect(await total()).toBe(before);
  });

  it('revokes an authorisation with a reason, and online scoring then refuses that enterprise', async () => {
    // The approved job (it trained while the tests above ran) deploys the scorecard.
    const done = await until('coordinator', JOB, (j) => j.status === 'completed' || j.status === 'failed');
    const blocked = () => {
      const db = new Database(join(lab.cluster.dataDir('bank-1'), 'node.db'), { readonly: true });
      const rows = db.prepare("SELECT body FROM audit WHERE kind = 'egress-blocked'").all();
      db.close();
      return JSON.stringify(rows);
    };
    expect(done.status, `${JSON.stringify(done.error)} ${done.status === 'failed' ? blocked() : ''}`).toBe('completed');
    const bank = desk['bank-1']!;
    const ent = lab.scoreable[3]!;
    const score = async () => {
      await visit(bank, base['bank-1']!, 'scoring', '[data-testid=score-model] option', 'bank-scoring-desktop');
      await bank.page.fill('[data-testid=score-id]', ent.id);
      for (const [f, v] of Object.entries(ent.features)) if (v !== null && (await bank.page.$(`input[name="${f}"]`))) await bank.page.fill(`input[name="${f}"]`, String(v));
      await bank.page.click('form button.primary');
      await bank.page.waitForSelector('[data-testid=score-result] > *');
      return bank.page.innerText('[data-testid=score-result]');
    };
    const first = await score();
    expect(first).toMatch(/\d{3}/);
    expect(await bank.page.$('[data-testid=score-value]')).not.toBeNull();
    const p = desk.platform!;
    await visit(p, base.platform!, 'authorisations', '[data-testid=authz] tbody td code', 'platform-authorisations-desktop');
    await p.page.fill('[data-testid=search-uscc]', ent.id);
    await p.page.click('form.inline:has([data-testid=search-uscc]) button');
    // Until the search answered: every row is that enterprise's.
    const rows = p.page.locator('[data-testid=authz] tbody tr');
    for (let i = 0; (await rows.count()) === 0 || (await rows.filter({ hasNotText: ent.id }).count()) > 0; i++) {
      expect(i).toBeLessThan(100);
      await p.page.waitForTimeout(100);
    }
    const row = p.page.locator('[data-testid=authz] tbody tr', { hasText: 'bank-1' }).filter({ hasText: /pre-loan/ }).first();
    await row.locator('[data-testid=revoke-reason]').fill('enterprise withdrew its consent');
    await row.locator('button.danger').click();
    await p.page.locator('[data-testid=authz] tbody tr', { hasText: /pre-loan/ }).locator('.badge-revoked').first().waitFor();
    const after = await score();
    expect(after).toContain('AUTH_NOT_AUTHORISED');
    expect(await bank.page.$('[data-testid=score-value]')).toBeNull();
    await bank.page.screenshot({ path: join(SHOTS, 'bank-scoring-refused-desktop.png'), fullPage: true });
  }, 300_000);

  it('opens the validation report: the ROC chart is drawn, coefficients with SE and p-values, the PMML downloads', async () => {
    const bank = desk['bank-1']!;
    expect(await visit(bank, base['bank-1']!, `report/${JOB}`, '[data-figure] svg path', 'bank-report-desktop')).toEqual([]);
    const roc = bank.page.locator('figure', { hasText: 'ROC' }).first();
    expect(await roc.locator('svg path').count()).toBeGreaterThan(3);
    const coef = await bank.page.innerText('[data-testid=coefficients]');
    expect(coef).toMatch(/Std\. error/);
    expect(coef).toMatch(/p-value/);
    const pmml = await bank.page.evaluate(async (href) => (await fetch(href)).text(), `/v1/admin/jobs/${JOB}/files/scorecard.pmml`);
    expect(pmml).toContain('<PMML');
  });

  it('runs monitoring of the book a year on from the form and lists the run and its alerts', async () => {
    const later = generateFollowUp(lab.data, 'console');
    await lab.cluster.admin('platform', 'POST', '/v1/admin/datasets', { name: 'platform-credit', path: later.platform, idColumn: 'id', uscc: true });
    await lab.cluster.admin('bank-1', 'POST', '/v1/admin/datasets', { name: 'book-t1', path: later.books[0], idColumn: 'id', labelColumn: LABEL, uscc: true });
    const bank = desk['bank-1']!;
    await visit(bank, base['bank-1']!, 'monitoring', 'select[name=dataset] option', 'bank-monitoring-before-desktop');
    await bank.page.selectOption('select[name=dataset]', 'book-t1');
    await bank.page.click('form button.primary');
    await bank.page.waitForSelector('[data-testid=monitor-result] .ok-box', { timeout: 120_000 });
    expect(await bank.page.innerText('[data-testid=monitor-result]')).toMatch(/rescored/);
    expect(await visit(bank, base['bank-1']!, 'monitoring', '[data-testid=alerts] tbody td code', 'bank-monitoring-desktop')).toEqual([]);
    expect(await bank.page.innerText('[data-testid=monitor-runs]')).toContain(JOB);
  }, 180_000);

  it("verifies the records under the regulator's own keys (ledger, coverage), and a tampered copy shows the record that failed", async () => {
    const r = desk.regulator!;
    await visit(r, base.regulator!, 'verify', '[data-testid=keys-file]', 'regulator-verify-start-desktop');
    await r.page.click('[data-testid=verify]');
    await r.page.waitForSelector('[data-testid=ledger]', { timeout: 60_000 });
    const text = await mainText(r);
    expect(text).toMatch(/Verified: every chain intact/);
    const ledger = await r.page.innerText('[data-testid=ledger]');
    expect(ledger).toContain(JOB);
    expect(ledger).toMatch(/ciphertext/);
    expect(ledger).toMatch(/bank-1 ← platform/);
    expect(await r.page.innerText('[data-testid=coverage]')).toMatch(new RegExp(`${JOB}[\\s\\S]*yes`));
    await r.page.screenshot({ path: join(SHOTS, 'regulator-verified-desktop.png'), fullPage: true });
    // A copy of the records with one of the platform's audit records altered.
    for (const src of nodeDirs(join(dir, 'nodes'))) {
      const name = src.split('/').pop()!;
      const dest = join(tampered, name);
      mkdirSync(dest, { recursive: true });
      writeFileSync(join(dest, 'identity.json'), readFileSync(join(src, 'identity.json')));
      const db = new Database(join(src, 'node.db'), { readonly: true });
      await db.backup(join(dest, 'node.db'));
      db.close();
    }
    const db = new Database(join(tampered, 'platform', 'node.db'));
    db.exec('DROP TRIGGER audit_no_update');
    const seq = (db.prepare("SELECT MIN(seq) AS s FROM audit WHERE kind = 'psi-input'").get() as { s: number }).s;
    db.prepare("UPDATE audit SET body = replace(body, '\"used\":', '\"used\":1') WHERE seq = ?").run(seq);
    db.close();
    await r.page.check('input[name=set][value="1"]');
    await r.page.click('[data-testid=verify]');
    await r.page.waitForSelector('[data-testid=verify-failed]', { timeout: 60_000 });
    const findings = await r.page.innerText('[data-testid=findings]');
    expect(findings).toContain(`platform #${seq}`);
    expect(findings).toMatch(/hash does not match/);
    expect(findings).toContain('psi-input');
    await r.page.screenshot({ path: join(SHOTS, 'regulator-tampered-desktop.png'), fullPage: true });
  }, 120_000);

  it('loads every page with real data and no console error, at 1280×800 and at 390×844 (Chinese on the phone, nothing wider than the screen)', async () => {
    const pages: [node: string, route: string, ready: string][] = [
      ['platform', 'approvals', 'main .summary'],
      ['platform', 'jobs', `[data-job="${JOB}"] .stage-done`],
      ['platform', `job/${JOB}`, '.stages .stage-done'],
      ['platform', `job/${REFUSED}`, '[data-testid=job-failure]'],
      ['platform', 'authorisations', '[data-testid=authz-counts] .tile-revoked'],
      ['platform', 'datasets', '[data-testid=datasets] tbody td'],
      ['bank-1', 'jobs', `[data-job="${JOB}"] .stage-done`],
      ['bank-1', `job/${JOB}`, `a.button[href="#/report/${JOB}"]`],
      ['bank-1', 'report', '[data-testid=report-list] a'],
      ['bank-1', `report/${JOB}`, '[data-figure] svg path'],
      ['bank-1', 'scoring', '[data-testid=score-model] option'],
      ['bank-1', 'monitoring', '[data-testid=alerts] tbody td code'],
      ['bank-1', 'datasets', '[data-testid=datasets] tbody td'],
      ['coordinator', 'jobs', `[data-job="${JOB}"] .stage-done`],
      ['coordinator', `job/${REFUSED}`, '[data-testid=job-failure]'],
      ['coordinator', 'new-job', '[data-testid=job-id]'],
      ['regulator', 'verify', '[data-testid=keys-file]'],
    ];
    const dirty: string[] = [];
    for (const [kind, tabs] of [['desktop', desk], ['phone', phone]] as const) {
      for (const [node, route, ready] of pages) {
        const tab = tabs[node]!;
        const errors = await visit(tab, base[node]!, route, ready, `${node}-${route.replace(/\//g, '-')}-${kind}`);
        if (errors.length) dirty.push(`${kind} ${node} ${route}: ${errors.join('; ')}`);
        const text = await mainText(tab);
        expect(text.trim().length, `${kind} ${node} ${route}`).toBeGreaterThan(20);
        if (kind === 'phone') {
          const wide = Number(await tab.page.evaluate('document.documentElement.scrollWidth'));
          expect(wide, `${node} ${route} is wider than the phone`).toBeLessThanOrEqual(390);
          expect(await tab.page.innerText('header.top')).toMatch(/[\u4e00-\u9fff]/);
        }
      }
    }
    expect(dirty).toEqual([]);
    // Chinese text is drawn with the node's own Noto Sans SC (no CJK font is installed here).
    expect(Number(await phone.platform!.page.evaluate(`document.fonts.load('16px "Noto Sans SC"', '审批队列').then((f) => f.length)`))).toBeGreaterThan(0);
  }, 300_000);
});
